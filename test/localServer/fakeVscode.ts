// A small stand-in for the `vscode` module, enough for the Local Inbox glue (views/localInbox.ts)
// to run under node's test runner: import this file before the module under test. It records what
// the glue does (commands, status bar, tree view, documents shown, dialogs answered).
import Module from 'node:module';
import { join } from 'node:path';

type Listener<T> = (value: T) => void;

export class EventEmitter<T> {
  private listeners = new Set<Listener<T>>();
  readonly event = (listener: Listener<T>): { dispose(): void } => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };
  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class Uri {
  private constructor(readonly fsPath: string) {}
  static file(path: string): Uri {
    return new Uri(path);
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(join(base.fsPath, ...parts));
  }
  toString(): string {
    return `file://${this.fsPath}`;
  }
}

export class TreeItem {
  id?: string;
  description?: string;
  tooltip?: unknown;
  iconPath?: unknown;
  resourceUri?: Uri;
  contextValue?: string;
  command?: { command: string; arguments?: unknown[] };
  constructor(readonly label: string, readonly collapsibleState: number) {}
}

export class MarkdownString {
  constructor(readonly value: string) {}
}

export class ThemeIcon {
  constructor(readonly id: string) {}
}

export class RelativePattern {
  constructor(readonly base: Uri, readonly pattern: string) {}
}

export const TreeItemCollapsibleState = { None: 0, Collapsed: 1, Expanded: 2 };
export const StatusBarAlignment = { Left: 1, Right: 2 };

/** What the fake recorded, and the answers it gives. */
export const recorded = {
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  executed: [] as Array<{ command: string; args: unknown[] }>,
  shown: [] as string[],
  messages: [] as Array<{ kind: 'info' | 'warning' | 'error'; text: string }>,
  clipboard: '',
  /** The answer to the next modal warning (e.g. `Delete All`), undefined for "cancel". */
  warningAnswer: undefined as string | undefined,
  statusBar: { text: '', tooltip: '', visible: false, command: '' },
  treeView: undefined as undefined | { message?: string; selection: unknown[]; provider: { getChildren(): Promise<unknown[]>; getTreeItem(x: unknown): TreeItem; onDidChangeTreeData: (l: Listener<unknown>) => unknown } },
  configurationListeners: [] as Array<Listener<{ affectsConfiguration(section: string): boolean }>>,
};

export const window = {
  createStatusBarItem(): unknown {
    const item = recorded.statusBar;
    return {
      name: '',
      set text(value: string) {
        item.text = value;
      },
      get text() {
        return item.text;
      },
      set tooltip(value: string) {
        item.tooltip = value;
      },
      set command(value: string) {
        item.command = value;
      },
      show: () => {
        item.visible = true;
      },
      hide: () => {
        item.visible = false;
      },
      dispose: () => {
        item.visible = false;
      },
    };
  },
  createTreeView(_id: string, options: { treeDataProvider: NonNullable<typeof recorded.treeView>['provider'] }): unknown {
    const view = { message: undefined as string | undefined, selection: [] as unknown[], provider: options.treeDataProvider, dispose: () => undefined };
    recorded.treeView = view;
    return view;
  },
  async showTextDocument(uri: Uri): Promise<void> {
    recorded.shown.push(uri.fsPath);
  },
  async showInformationMessage(text: string): Promise<undefined> {
    recorded.messages.push({ kind: 'info', text });
    return undefined;
  },
  async showWarningMessage(text: string, ...rest: unknown[]): Promise<string | undefined> {
    recorded.messages.push({ kind: 'warning', text });
    const modal = typeof rest[0] === 'object' && rest[0] !== null && (rest[0] as { modal?: boolean }).modal === true;
    return modal ? recorded.warningAnswer : undefined;
  },
  async showErrorMessage(text: string): Promise<undefined> {
    recorded.messages.push({ kind: 'error', text });
    return undefined;
  },
};

export const commands = {
  registerCommand(id: string, handler: (...args: unknown[]) => unknown): { dispose(): void } {
    recorded.commands.set(id, handler);
    return { dispose: () => recorded.commands.delete(id) };
  },
  async executeCommand(command: string, ...args: unknown[]): Promise<unknown> {
    recorded.executed.push({ command, args });
    const handler = recorded.commands.get(command);
    return handler ? handler(...args) : undefined;
  },
};

export const workspace = {
  workspaceFolders: undefined,
  isTrusted: true,
  createFileSystemWatcher(): unknown {
    const noop = (): { dispose(): void } => ({ dispose: () => undefined });
    return { onDidCreate: noop, onDidDelete: noop, onDidChange: noop, dispose: () => undefined };
  },
  onDidChangeConfiguration(listener: Listener<{ affectsConfiguration(section: string): boolean }>): { dispose(): void } {
    recorded.configurationListeners.push(listener);
    return { dispose: () => undefined };
  },
};

export const env = {
  clipboard: {
    async writeText(text: string): Promise<void> {
      recorded.clipboard = text;
    },
  },
};

const fake = { EventEmitter, Uri, TreeItem, MarkdownString, ThemeIcon, RelativePattern, TreeItemCollapsibleState, StatusBarAlignment, window, commands, workspace, env };

// Answer `require('vscode')` with the fake.
const moduleWithLoad = Module as unknown as { _load(request: string, parent: unknown, isMain: boolean): unknown };
const originalLoad = moduleWithLoad._load;
moduleWithLoad._load = function load(request: string, parent: unknown, isMain: boolean): unknown {
  if (request === 'vscode') return fake;
  return originalLoad.call(this, request, parent, isMain);
};
