// A small stand-in for the `vscode` module, enough for the transcript panel and history view glue
// to run under node's test runner: import this file before the modules under test. It records what
// the glue does (panels, messages posted, documents shown, commands run, dialogs, clipboard).
import Module from 'node:module';

type Listener<T> = (value: T) => void;

export class EventEmitter<T> {
  private listeners = new Set<Listener<T>>();
  readonly event = (listener: Listener<T>): { dispose(): void } => {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  };
  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
  ) {}
  static parse(value: string): Uri {
    const m = /^([a-z][a-z0-9+.-]*):(?:\/\/[^/]*)?(.*)$/i.exec(value);
    if (!m) throw new Error(`not a URI: ${value}`);
    return new Uri(m[1], m[2]);
  }
  static file(path: string): Uri {
    return new Uri('file', path);
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    const segments = base.path.split('/');
    for (const p of parts) {
      if (p === '..') segments.pop();
      else segments.push(p);
    }
    return new Uri(base.scheme, segments.join('/'));
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return `${this.scheme}://${this.path}`;
  }
}

export class TreeItem {
  id?: string;
  description?: string;
  tooltip?: unknown;
  iconPath?: unknown;
  contextValue?: string;
  command?: { command: string; title: string; arguments?: unknown[] };
  constructor(
    readonly label: string,
    readonly collapsibleState: number,
  ) {}
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class ThemeIcon {
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}

export const TreeItemCollapsibleState = { None: 0, Collapsed: 1, Expanded: 2 };
export const ViewColumn = { Active: -1, Beside: -2, One: 1, Two: 2 };
export const TextEditorRevealType = { Default: 0, InCenter: 1, InCenterIfOutsideViewport: 2, AtTop: 3 };

export class FakeWebview {
  html = '';
  options: unknown;
  readonly cspSource = 'https://file+.vscode-resource.vscode-cdn.net';
  readonly posted: unknown[] = [];
  readonly received = new EventEmitter<unknown>();
  readonly onDidReceiveMessage = this.received.event;
  async postMessage(message: unknown): Promise<boolean> {
    this.posted.push(message);
    return true;
  }
  /** The nonce of the current document. */
  get nonce(): string {
    return /nonce="([^"]+)"/.exec(this.html)?.[1] ?? '';
  }
  /** What the panel's script does when its document has loaded. */
  loaded(): void {
    const id = /data-record-id="([^"]*)"/.exec(this.html)?.[1] ?? '';
    this.received.fire({ type: 'ready', recordId: id, doc: this.nonce });
  }
}

export class FakePanel {
  readonly webview = new FakeWebview();
  visible = true;
  disposed = false;
  readonly reveals: unknown[] = [];
  private readonly disposeEmitter = new EventEmitter<void>();
  private readonly viewStateEmitter = new EventEmitter<unknown>();
  readonly onDidDispose = this.disposeEmitter.event;
  readonly onDidChangeViewState = this.viewStateEmitter.event;
  constructor(
    readonly viewType: string,
    public title: string,
    readonly viewColumn: number | undefined,
    readonly showOptions: unknown,
    options: unknown,
  ) {
    this.webview.options = options;
  }
  reveal(column?: number, preserveFocus?: boolean): void {
    this.reveals.push({ column, preserveFocus });
  }
  setVisible(visible: boolean): void {
    this.visible = visible;
    this.viewStateEmitter.fire({ webviewPanel: this });
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.disposeEmitter.fire();
  }
}

export const recorded = {
  panels: [] as FakePanel[],
  serializers: new Map<string, { deserializeWebviewPanel(panel: unknown, state: unknown): Promise<void> }>(),
  shown: [] as Array<{ uri: string; line: number; viewColumn: unknown }>,
  executed: [] as Array<{ command: string; args: unknown[] }>,
  clipboard: '',
  written: new Map<string, string>(),
  warnings: [] as string[],
  errors: [] as string[],
  status: [] as string[],
  /** The answers the next dialogs give. */
  saveAnswer: undefined as Uri | undefined,
  warningAnswer: undefined as string | undefined,
  settings: new Map<string, unknown>(),
  treeViews: new Map<string, { treeDataProvider: unknown; selection: unknown[] }>(),
};

const commandHandlers = new Map<string, (...args: unknown[]) => unknown>();
const configurationChanged = new EventEmitter<{ affectsConfiguration(section: string): boolean }>();

export function changeSetting(key: string, value: unknown): void {
  recorded.settings.set(key, value);
  configurationChanged.fire({ affectsConfiguration: (section: string) => key === section || key.startsWith(`${section}.`) });
}

export const window = {
  visibleTextEditors: [] as Array<{ document: { uri: Uri }; viewColumn: number }>,
  createWebviewPanel(viewType: string, title: string, show: { viewColumn: number; preserveFocus?: boolean }, options: unknown): FakePanel {
    const panel = new FakePanel(viewType, title, show.viewColumn, show, options);
    recorded.panels.push(panel);
    return panel;
  },
  registerWebviewPanelSerializer(viewType: string, serializer: { deserializeWebviewPanel(panel: unknown, state: unknown): Promise<void> }): { dispose(): void } {
    recorded.serializers.set(viewType, serializer);
    return { dispose: () => void recorded.serializers.delete(viewType) };
  },
  async showTextDocument(document: { uri: Uri }, options: { selection: { start: { line: number } }; viewColumn: unknown }): Promise<{ revealRange(): void }> {
    recorded.shown.push({ uri: document.uri.toString(), line: options.selection.start.line, viewColumn: options.viewColumn });
    return { revealRange: () => undefined };
  },
  async showSaveDialog(): Promise<Uri | undefined> {
    return recorded.saveAnswer;
  },
  async showWarningMessage(message: string): Promise<string | undefined> {
    recorded.warnings.push(message);
    return recorded.warningAnswer;
  },
  async showErrorMessage(message: string): Promise<undefined> {
    recorded.errors.push(message);
    return undefined;
  },
  setStatusBarMessage(message: string): { dispose(): void } {
    recorded.status.push(message);
    return { dispose: () => undefined };
  },
  createTreeView(id: string, options: { treeDataProvider: unknown }): { selection: unknown[]; dispose(): void } {
    const view = { treeDataProvider: options.treeDataProvider, selection: [] as unknown[], dispose: () => undefined };
    recorded.treeViews.set(id, view);
    return view;
  },
};

export const commands = {
  registerCommand(id: string, handler: (...args: unknown[]) => unknown): { dispose(): void } {
    commandHandlers.set(id, handler);
    return { dispose: () => void commandHandlers.delete(id) };
  },
  async executeCommand(id: string, ...args: unknown[]): Promise<unknown> {
    recorded.executed.push({ command: id, args });
    const handler = commandHandlers.get(id);
    return handler ? handler(...args) : undefined;
  },
};

export const workspace = {
  workspaceFolders: [{ uri: Uri.file('/work') }],
  async openTextDocument(uri: Uri): Promise<unknown> {
    return {
      uri,
      lineCount: 40,
      lineAt: (line: number) => ({ range: { start: { line, character: 0 }, end: { line, character: 10 } } }),
    };
  },
  fs: {
    async writeFile(uri: Uri, content: Uint8Array): Promise<void> {
      recorded.written.set(uri.toString(), Buffer.from(content).toString('utf8'));
    },
  },
  onDidChangeConfiguration: configurationChanged.event,
  getConfiguration() {
    return { get: <T>(key: string): T | undefined => recorded.settings.get(key) as T | undefined };
  },
};

export const env = {
  clipboard: {
    async writeText(text: string): Promise<void> {
      recorded.clipboard = text;
    },
  },
};

/** A stand-in for the extension context. */
export function fakeContext(): { subscriptions: Array<{ dispose(): void }> } {
  return { subscriptions: [] };
}

const fake = { EventEmitter, Uri, TreeItem, ThemeIcon, ThemeColor, TreeItemCollapsibleState, ViewColumn, TextEditorRevealType, window, commands, workspace, env };

// Answer `require('vscode')` with the fake.
const moduleWithLoad = Module as unknown as { _load(request: string, parent: unknown, isMain: boolean): unknown };
const originalLoad = moduleWithLoad._load;
moduleWithLoad._load = function load(request: string, parent: unknown, isMain: boolean): unknown {
  if (request === 'vscode') return fake;
  return originalLoad.call(this, request, parent, isMain);
};
