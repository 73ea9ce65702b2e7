// The one stand-in for the `vscode` module that the glue tests use (transcript panel, history view,
// Local Inbox, run controller, Test Explorer, CodeLens, .eml preview), so that they run under node's
// test runner: import this file before the modules under test. It records what the glue does
// (panels, messages posted, documents shown, commands run, dialogs, clipboard, status bar, tree
// views, test runs) and gives the answers a test sets in `recorded` (input boxes, dialogs).
import Module from 'node:module';
import { posix } from 'node:path';

type Listener<T> = (value: T) => void;
export interface Disposable {
  dispose(): void;
}

export class EventEmitter<T> {
  private listeners = new Set<Listener<T>>();
  readonly event = (listener: Listener<T>): Disposable => {
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
    return new Uri(m[1], decodeURIComponent(m[2]));
  }
  static file(path: string): Uri {
    return new Uri('file', path);
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(base.scheme, posix.join(base.path, ...parts));
  }
  get fsPath(): string {
    return this.path;
  }
  with(change: { path?: string; scheme?: string }): Uri {
    return new Uri(change.scheme ?? this.scheme, change.path ?? this.path);
  }
  toString(): string {
    return `${this.scheme}://${this.path}`;
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(startLine: number | Position, startCharacter: number | Position, endLine?: number, endCharacter?: number) {
    if (startLine instanceof Position && startCharacter instanceof Position) {
      this.start = startLine;
      this.end = startCharacter;
    } else {
      this.start = new Position(startLine as number, startCharacter as number);
      this.end = new Position(endLine ?? (startLine as number), endCharacter ?? (startCharacter as number));
    }
  }
}

export class Selection extends Range {
  get active(): Position {
    return this.end;
  }
}

export class Location {
  constructor(
    readonly uri: Uri,
    readonly range: Position | Range,
  ) {}
}

export class MarkdownString {
  constructor(public value = '') {}
  appendMarkdown(text: string): this {
    this.value += text;
    return this;
  }
}

export class TreeItem {
  id?: string;
  description?: string;
  tooltip?: unknown;
  iconPath?: unknown;
  resourceUri?: Uri;
  contextValue?: string;
  command?: { command: string; title?: string; arguments?: unknown[] };
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

export class RelativePattern {
  constructor(
    readonly base: Uri,
    readonly pattern: string,
  ) {}
}

export class CodeLens {
  constructor(
    readonly range: Range,
    readonly command?: { title: string; command: string; arguments?: unknown[]; tooltip?: string },
  ) {}
}

export interface FakeToken {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): Disposable;
}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  private cancelled = false;
  readonly token: FakeToken;
  constructor() {
    const emitter = this.emitter;
    const isCancelled = () => this.cancelled;
    this.token = {
      get isCancellationRequested(): boolean {
        return isCancelled();
      },
      onCancellationRequested: (listener: () => void) => emitter.event(listener),
    };
  }
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emitter.fire();
  }
  dispose(): void {
    this.emitter.dispose();
  }
}

export const TreeItemCollapsibleState = { None: 0, Collapsed: 1, Expanded: 2 };
export const ViewColumn = { Active: -1, Beside: -2, One: 1, Two: 2, Three: 3 };
export const TextEditorRevealType = { Default: 0, InCenter: 1, InCenterIfOutsideViewport: 2, AtTop: 3 };
export const StatusBarAlignment = { Left: 1, Right: 2 };
export const ProgressLocation = { SourceControl: 1, Window: 10, Notification: 15 };
export const TestRunProfileKind = { Run: 1, Debug: 2, Coverage: 3 };

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
  readonly reveals: Array<{ column?: number; preserveFocus?: boolean }> = [];
  private readonly disposeEmitter = new EventEmitter<void>();
  private readonly viewStateEmitter = new EventEmitter<unknown>();
  readonly onDidDispose = this.disposeEmitter.event;
  readonly onDidChangeViewState = this.viewStateEmitter.event;
  constructor(
    readonly viewType: string,
    public title: string,
    public viewColumn: number | undefined,
    readonly showOptions: unknown,
    options: unknown,
  ) {
    this.webview.options = options;
  }
  reveal(column?: number, preserveFocus?: boolean): void {
    this.reveals.push({ column, preserveFocus });
    if (column !== undefined && column > 0) this.viewColumn = column;
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

/** A text document: enough of `vscode.TextDocument` for the glue. */
export class FakeDocument {
  isDirty = false;
  version = 1;
  constructor(
    readonly uri: Uri,
    public text: string,
    readonly languageId: string,
  ) {}
  get fileName(): string {
    return this.uri.fsPath;
  }
  get lineCount(): number {
    return this.text.split('\n').length;
  }
  getText(): string {
    return this.text;
  }
  lineAt(line: number): { text: string; range: Range } {
    const text = this.text.split('\n')[line] ?? '';
    return { text, range: new Range(line, 0, line, text.length) };
  }
}

export interface FakeEditor {
  document: FakeDocument | { uri: Uri; languageId?: string };
  viewColumn?: number;
  selection: Selection;
}

/** A test run as the Test Explorer would show it. */
export class FakeTestRun {
  readonly states: Array<{ id: string; state: 'enqueued' | 'started' | 'passed' | 'failed' | 'errored' | 'skipped'; message?: { message: string; expectedOutput?: string; actualOutput?: string; location?: Location } }> = [];
  output = '';
  ended = false;
  constructor(
    readonly request: { include?: FakeTestItem[]; exclude?: FakeTestItem[] },
    readonly name: string | undefined,
    readonly persist: boolean,
  ) {}
  enqueued(item: FakeTestItem): void {
    this.states.push({ id: item.id, state: 'enqueued' });
  }
  started(item: FakeTestItem): void {
    this.states.push({ id: item.id, state: 'started' });
  }
  passed(item: FakeTestItem): void {
    this.states.push({ id: item.id, state: 'passed' });
  }
  failed(item: FakeTestItem, message: FakeTestMessage): void {
    this.states.push({ id: item.id, state: 'failed', message });
  }
  errored(item: FakeTestItem, message: FakeTestMessage): void {
    this.states.push({ id: item.id, state: 'errored', message });
  }
  skipped(item: FakeTestItem): void {
    this.states.push({ id: item.id, state: 'skipped' });
  }
  appendOutput(text: string): void {
    this.output += text;
  }
  end(): void {
    this.ended = true;
  }
  /** The last state of each item. */
  final(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const s of this.states) out[s.id] = s.state;
    return out;
  }
}

export class TestRunRequest {
  constructor(
    readonly include?: readonly FakeTestItem[],
    readonly exclude?: readonly FakeTestItem[],
  ) {}
}

export class FakeTestMessage {
  expectedOutput?: string;
  actualOutput?: string;
  location?: Location;
  constructor(readonly message: string) {}
  static diff(message: string, expected: string, actual: string): FakeTestMessage {
    const m = new FakeTestMessage(message);
    m.expectedOutput = expected;
    m.actualOutput = actual;
    return m;
  }
}

export class FakeTestItemCollection {
  private readonly map = new Map<string, FakeTestItem>();
  get size(): number {
    return this.map.size;
  }
  add(item: FakeTestItem): void {
    this.map.set(item.id, item);
  }
  get(id: string): FakeTestItem | undefined {
    return this.map.get(id);
  }
  delete(id: string): void {
    this.map.delete(id);
  }
  replace(items: readonly FakeTestItem[]): void {
    this.map.clear();
    for (const item of items) this.map.set(item.id, item);
  }
  forEach(callback: (item: FakeTestItem) => void): void {
    for (const item of [...this.map.values()]) callback(item);
  }
  [Symbol.iterator](): IterableIterator<[string, FakeTestItem]> {
    return this.map.entries();
  }
}

export class FakeTestItem {
  readonly children = new FakeTestItemCollection();
  range?: Range;
  description?: string;
  error?: string;
  canResolveChildren = false;
  constructor(
    readonly id: string,
    public label: string,
    readonly uri: Uri | undefined,
  ) {}
}

export class FakeTestController {
  readonly items = new FakeTestItemCollection();
  readonly runs: FakeTestRun[] = [];
  readonly profiles: Array<{ label: string; kind: number; runHandler: (request: unknown, token: unknown) => Promise<void> | void; isDefault?: boolean }> = [];
  resolveHandler?: (item: FakeTestItem | undefined) => Promise<void>;
  refreshHandler?: () => Promise<void>;
  constructor(
    readonly id: string,
    readonly label: string,
  ) {}
  createTestItem(id: string, label: string, uri?: Uri): FakeTestItem {
    return new FakeTestItem(id, label, uri);
  }
  createTestRun(request: { include?: FakeTestItem[]; exclude?: FakeTestItem[] }, name?: string, persist = true): FakeTestRun {
    const run = new FakeTestRun(request, name, persist);
    this.runs.push(run);
    return run;
  }
  createRunProfile(label: string, kind: number, runHandler: (request: unknown, token: unknown) => Promise<void> | void, isDefault?: boolean): { dispose(): void } {
    this.profiles.push({ label, kind, runHandler, isDefault });
    return { dispose: () => undefined };
  }
  dispose(): void {
    // Nothing to release.
  }
}

/** A log output channel that keeps its lines. */
export class FakeLog {
  readonly lines: Array<{ level: string; text: string }> = [];
  constructor(readonly name: string) {}
  private push(level: string, text: string): void {
    this.lines.push({ level, text });
  }
  trace(text: string): void {
    this.push('trace', text);
  }
  debug(text: string): void {
    this.push('debug', text);
  }
  info(text: string): void {
    this.push('info', text);
  }
  warn(text: string): void {
    this.push('warn', text);
  }
  error(text: string | Error): void {
    this.push('error', String(text));
  }
  append(text: string): void {
    this.push('append', text);
  }
  appendLine(text: string): void {
    this.push('appendLine', text);
  }
  show(): void {
    // Nothing to show.
  }
  dispose(): void {
    // Nothing to release.
  }
  /** Everything written, one line per call. */
  text(): string {
    return this.lines.map((l) => l.text).join('\n');
  }
}

interface StatusBarState {
  id?: string;
  name: string;
  text: string;
  tooltip: string;
  visible: boolean;
  command: string;
}

export interface FakeTreeView {
  treeDataProvider: unknown;
  /** The same provider, typed for the Local Inbox tests. */
  provider: { getChildren(): Promise<unknown[]>; getTreeItem(x: unknown): TreeItem; onDidChangeTreeData: (l: Listener<unknown>) => unknown };
  message?: string;
  selection: unknown[];
  dispose(): void;
}

/** What the fake recorded, and the answers it gives. */
export const recorded = {
  panels: [] as FakePanel[],
  serializers: new Map<string, { deserializeWebviewPanel(panel: unknown, state: unknown): Promise<void> }>(),
  /** Documents shown: by the transcript's "reveal" (with line and column) or by a plain URI. */
  shown: [] as Array<{ uri: string; fsPath: string; line?: number; viewColumn?: unknown }>,
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  executed: [] as Array<{ command: string; args: unknown[] }>,
  clipboard: '',
  written: new Map<string, string>(),
  /** Every message box, in order. */
  messages: [] as Array<{ kind: 'info' | 'warning' | 'error'; text: string; modal: boolean; items: string[] }>,
  warnings: [] as string[],
  errors: [] as string[],
  status: [] as string[],
  /** Every input box asked, with its options. */
  inputs: [] as Array<{ title?: string; prompt?: string; password?: boolean; ignoreFocusOut?: boolean }>,
  /** Answers the next input boxes give, in order (undefined: the user pressed Escape). */
  inputAnswers: [] as Array<string | undefined>,
  /** Answers the next information messages give, by message pattern; modal ones only. */
  infoAnswers: [] as Array<string | undefined>,
  /** The answer the next save dialog gives. */
  saveAnswer: undefined as Uri | undefined,
  /** The answer to the next modal warning (e.g. `Delete All`), undefined for "cancel". */
  warningAnswer: undefined as string | undefined,
  /** The answer to the next quick pick: a function that picks among the items. */
  quickPickAnswer: undefined as undefined | ((items: unknown[], options?: unknown) => unknown),
  settings: new Map<string, unknown>(),
  treeViews: new Map<string, FakeTreeView>(),
  /** The tree view created last (the Local Inbox tests have only one). */
  treeView: undefined as FakeTreeView | undefined,
  /** The status bar item created last, and every item by id. */
  statusBar: { name: '', text: '', tooltip: '', visible: false, command: '' } as StatusBarState,
  statusBars: new Map<string, StatusBarState>(),
  configurationListeners: [] as Array<Listener<{ affectsConfiguration(section: string): boolean }>>,
  testControllers: [] as FakeTestController[],
  codeLensProviders: [] as Array<{ selector: unknown; provider: unknown }>,
  progress: [] as Array<{ title?: string; messages: string[] }>,
  logs: [] as FakeLog[],
};

export function changeSetting(key: string, value: unknown): void {
  recorded.settings.set(key, value);
  const event = { affectsConfiguration: (section: string) => key === section || key.startsWith(`${section}.`) };
  for (const listener of [...recorded.configurationListeners]) listener(event);
}

const activeEditorChanged = new EventEmitter<FakeEditor | undefined>();
const documentChanged = new EventEmitter<{ document: FakeDocument }>();
const documentOpened = new EventEmitter<FakeDocument>();
const documentClosed = new EventEmitter<FakeDocument>();
const documentSaved = new EventEmitter<FakeDocument>();

export const window = {
  activeTextEditor: undefined as FakeEditor | undefined,
  visibleTextEditors: [] as FakeEditor[],
  onDidChangeActiveTextEditor: activeEditorChanged.event,
  createWebviewPanel(viewType: string, title: string, show: number | { viewColumn: number; preserveFocus?: boolean }, options: unknown): FakePanel {
    const column = typeof show === 'number' ? show : show.viewColumn;
    const panel = new FakePanel(viewType, title, column, show, options);
    recorded.panels.push(panel);
    return panel;
  },
  registerWebviewPanelSerializer(viewType: string, serializer: { deserializeWebviewPanel(panel: unknown, state: unknown): Promise<void> }): Disposable {
    recorded.serializers.set(viewType, serializer);
    return { dispose: () => void recorded.serializers.delete(viewType) };
  },
  async showTextDocument(target: Uri | { uri: Uri }, options?: { selection?: { start: { line: number } }; viewColumn?: unknown }): Promise<{ revealRange(): void }> {
    const uri = target instanceof Uri ? target : target.uri;
    recorded.shown.push({
      uri: uri.toString(),
      fsPath: uri.fsPath,
      ...(options?.selection ? { line: options.selection.start.line } : {}),
      ...(options && 'viewColumn' in options ? { viewColumn: options.viewColumn } : {}),
    });
    return { revealRange: () => undefined };
  },
  async showSaveDialog(): Promise<Uri | undefined> {
    return recorded.saveAnswer;
  },
  async showInformationMessage(text: string, ...rest: unknown[]): Promise<string | undefined> {
    const modal = isModal(rest[0]);
    recorded.messages.push({ kind: 'info', text, modal, items: rest.filter((r): r is string => typeof r === 'string') });
    return modal ? recorded.infoAnswers.shift() : undefined;
  },
  async showWarningMessage(text: string, ...rest: unknown[]): Promise<string | undefined> {
    const modal = isModal(rest[0]);
    recorded.messages.push({ kind: 'warning', text, modal, items: rest.filter((r): r is string => typeof r === 'string') });
    recorded.warnings.push(text);
    return modal ? recorded.warningAnswer : undefined;
  },
  async showErrorMessage(text: string, ...rest: unknown[]): Promise<undefined> {
    recorded.messages.push({ kind: 'error', text, modal: isModal(rest[0]), items: rest.filter((r): r is string => typeof r === 'string') });
    recorded.errors.push(text);
    return undefined;
  },
  async showInputBox(options: { title?: string; prompt?: string; password?: boolean; ignoreFocusOut?: boolean } = {}): Promise<string | undefined> {
    recorded.inputs.push({ title: options.title, prompt: options.prompt, password: options.password, ignoreFocusOut: options.ignoreFocusOut });
    return recorded.inputAnswers.shift();
  },
  async showQuickPick(items: unknown[] | Promise<unknown[]>, options?: unknown): Promise<unknown> {
    const list = await items;
    return recorded.quickPickAnswer ? recorded.quickPickAnswer(list, options) : undefined;
  },
  setStatusBarMessage(message: string): Disposable {
    recorded.status.push(message);
    return { dispose: () => undefined };
  },
  async withProgress<T>(options: { title?: string; cancellable?: boolean }, task: (progress: { report(value: { message?: string }): void }, token: unknown) => Promise<T>): Promise<T> {
    const entry = { title: options.title, messages: [] as string[] };
    recorded.progress.push(entry);
    const source = new CancellationTokenSource();
    try {
      return await task({ report: (value) => void (value.message !== undefined && entry.messages.push(value.message)) }, source.token);
    } finally {
      source.dispose();
    }
  },
  createOutputChannel(name: string): FakeLog {
    const log = new FakeLog(name);
    recorded.logs.push(log);
    return log;
  },
  createStatusBarItem(id?: string | number): unknown {
    const item: StatusBarState = { id: typeof id === 'string' ? id : undefined, name: '', text: '', tooltip: '', visible: false, command: '' };
    recorded.statusBar = item;
    if (typeof id === 'string') recorded.statusBars.set(id, item);
    return {
      set name(value: string) {
        item.name = value;
      },
      get name() {
        return item.name;
      },
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
  createTreeView(id: string, options: { treeDataProvider: FakeTreeView['provider'] }): FakeTreeView {
    const view: FakeTreeView = { treeDataProvider: options.treeDataProvider, provider: options.treeDataProvider, message: undefined, selection: [], dispose: () => undefined };
    recorded.treeViews.set(id, view);
    recorded.treeView = view;
    return view;
  },
};

function isModal(options: unknown): boolean {
  return typeof options === 'object' && options !== null && (options as { modal?: boolean }).modal === true;
}

/** QuickPickItemKind: separators head groups of rows in a quick pick. */
export const QuickPickItemKind = { Separator: -1, Default: 0 } as const;

export const commands = {
  registerCommand(id: string, handler: (...args: unknown[]) => unknown): Disposable {
    recorded.commands.set(id, handler);
    return { dispose: () => void recorded.commands.delete(id) };
  },
  async executeCommand(id: string, ...args: unknown[]): Promise<unknown> {
    recorded.executed.push({ command: id, args });
    const handler = recorded.commands.get(id);
    return handler ? handler(...args) : undefined;
  },
};

/** Documents the workspace knows ("open" in the editor). */
const documents: FakeDocument[] = [];

/** Opens a document in the fake editor (and makes it the active editor when asked). */
export function openDocument(uri: Uri, text: string, languageId: string, options: { active?: boolean; viewColumn?: number } = {}): FakeDocument {
  let document = documents.find((d) => d.uri.toString() === uri.toString());
  if (!document) {
    document = new FakeDocument(uri, text, languageId);
    documents.push(document);
    documentOpened.fire(document);
  }
  if (options.active) setActiveEditor(document, options.viewColumn ?? 1);
  return document;
}

/** Makes the document the active editor (as a click on its tab does), firing the event. */
export function setActiveEditor(document: FakeDocument | undefined, viewColumn = 1): void {
  if (!document) {
    window.activeTextEditor = undefined;
    activeEditorChanged.fire(undefined);
    return;
  }
  const editor: FakeEditor = { document, viewColumn, selection: new Selection(0, 0, 0, 0) };
  window.visibleTextEditors = [...window.visibleTextEditors.filter((e) => e.viewColumn !== viewColumn), editor];
  window.activeTextEditor = editor;
  activeEditorChanged.fire(editor);
}

/** Edits an open document's text, firing the change event. */
export function editDocument(document: FakeDocument, text: string): void {
  document.text = text;
  document.version++;
  document.isDirty = true;
  documentChanged.fire({ document });
}

/** Forgets the open documents and editors between tests. */
export function closeAll(): void {
  for (const d of documents.splice(0)) documentClosed.fire(d);
  window.activeTextEditor = undefined;
  window.visibleTextEditors = [];
}

export const workspace = {
  workspaceFolders: undefined as undefined | Array<{ uri: Uri; name?: string; index?: number }>,
  isTrusted: true,
  textDocuments: documents,
  onDidChangeTextDocument: documentChanged.event,
  onDidOpenTextDocument: documentOpened.event,
  onDidCloseTextDocument: documentClosed.event,
  onDidSaveTextDocument: documentSaved.event,
  async openTextDocument(target: Uri | { language?: string; content?: string }): Promise<unknown> {
    if (target instanceof Uri) {
      const open = documents.find((d) => d.uri.toString() === target.toString());
      if (open) return open;
      return {
        uri: target,
        lineCount: 40,
        lineAt: (line: number) => ({ range: { start: { line, character: 0 }, end: { line, character: 10 } } }),
      };
    }
    return new FakeDocument(Uri.parse(`untitled:Untitled-${documents.length + 1}`), target.content ?? '', target.language ?? 'plaintext');
  },
  getWorkspaceFolder(uri: Uri): { uri: Uri } | undefined {
    return workspace.workspaceFolders?.find((f) => uri.path.startsWith(`${f.uri.path}/`));
  },
  asRelativePath(target: Uri | string): string {
    const path = typeof target === 'string' ? target : target.fsPath;
    const folder = workspace.workspaceFolders?.find((f) => path.startsWith(`${f.uri.path}/`));
    return folder ? path.slice(folder.uri.path.length + 1) : path;
  },
  /** The files `findFiles` returns (a test sets them). */
  files: [] as Uri[],
  async findFiles(): Promise<Uri[]> {
    return [...workspace.files];
  },
  createFileSystemWatcher(): unknown {
    const noop = (): Disposable => ({ dispose: () => undefined });
    return { onDidCreate: noop, onDidDelete: noop, onDidChange: noop, dispose: () => undefined };
  },
  fs: {
    async writeFile(uri: Uri, content: Uint8Array): Promise<void> {
      recorded.written.set(uri.toString(), Buffer.from(content).toString('utf8'));
    },
    /** Reads the file on disk (as VS Code does: not the editor's unsaved text). */
    async readFile(uri: Uri): Promise<Uint8Array> {
      const { readFile } = await import('node:fs/promises');
      return readFile(uri.fsPath);
    },
  },
  onDidChangeConfiguration(listener: Listener<{ affectsConfiguration(section: string): boolean }>): Disposable {
    recorded.configurationListeners.push(listener);
    return {
      dispose: () => {
        const i = recorded.configurationListeners.indexOf(listener);
        if (i >= 0) recorded.configurationListeners.splice(i, 1);
      },
    };
  },
  /** Settings by full key (`smtp.history.size`); `get` under a section prefixes it. */
  getConfiguration(section?: string) {
    const full = (key: string) => (section ? `${section}.${key}` : key);
    return {
      get: <T>(key: string, fallback?: T): T | undefined => (recorded.settings.has(full(key)) ? (recorded.settings.get(full(key)) as T) : fallback),
      inspect: <T>(key: string): { globalValue?: T } | undefined => (recorded.settings.has(full(key)) ? { globalValue: recorded.settings.get(full(key)) as T } : {}),
      has: (key: string): boolean => recorded.settings.has(full(key)),
    };
  },
};

export const env = {
  clipboard: {
    async writeText(text: string): Promise<void> {
      recorded.clipboard = text;
    },
  },
};

export const languages = {
  registerCodeLensProvider(selector: unknown, provider: unknown): Disposable {
    recorded.codeLensProviders.push({ selector, provider });
    return { dispose: () => undefined };
  },
};

export const tests = {
  createTestController(id: string, label: string): FakeTestController {
    const controller = new FakeTestController(id, label);
    recorded.testControllers.push(controller);
    return controller;
  },
};

/** A memento kept in memory. */
export class FakeMemento {
  private readonly values = new Map<string, unknown>();
  get<T>(key: string, fallback?: T): T | undefined {
    return this.values.has(key) ? (JSON.parse(JSON.stringify(this.values.get(key))) as T) : fallback;
  }
  async update(key: string, value: unknown): Promise<void> {
    if (value === undefined) this.values.delete(key);
    else this.values.set(key, JSON.parse(JSON.stringify(value)));
  }
  keys(): string[] {
    return [...this.values.keys()];
  }
}

/** SecretStorage kept in memory. */
export class FakeSecretStorage {
  readonly values = new Map<string, string>();
  async get(key: string): Promise<string | undefined> {
    return this.values.get(key);
  }
  async store(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }
}

/** A stand-in for the extension context. */
export function fakeContext(): { subscriptions: Disposable[]; workspaceState: FakeMemento; globalState: FakeMemento; secrets: FakeSecretStorage } {
  return { subscriptions: [], workspaceState: new FakeMemento(), globalState: new FakeMemento(), secrets: new FakeSecretStorage() };
}

const fake = {
  EventEmitter,
  Uri,
  Position,
  Range,
  Selection,
  Location,
  MarkdownString,
  TreeItem,
  ThemeIcon,
  ThemeColor,
  RelativePattern,
  CodeLens,
  CancellationTokenSource,
  TestMessage: FakeTestMessage,
  TestRunRequest,
  TreeItemCollapsibleState,
  ViewColumn,
  TextEditorRevealType,
  StatusBarAlignment,
  ProgressLocation,
  QuickPickItemKind,
  TestRunProfileKind,
  window,
  commands,
  workspace,
  env,
  languages,
  tests,
};

// Answer `require('vscode')` with the fake.
const moduleWithLoad = Module as unknown as { _load(request: string, parent: unknown, isMain: boolean): unknown };
const originalLoad = moduleWithLoad._load;
moduleWithLoad._load = function load(request: string, parent: unknown, isMain: boolean): unknown {
  if (request === 'vscode') return fake;
  return originalLoad.call(this, request, parent, isMain);
};
