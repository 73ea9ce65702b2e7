/**
 * The "SMTP History" view: a tree of past runs (newest first) from the history store, each with a
 * child per session. Clicking a run or one of its sessions opens the run's transcript panel. Labels,
 * descriptions and tooltips are plain text (no Markdown), so a server's reply quoted in a failure
 * cannot turn into links or markup.
 */
import * as vscode from 'vscode';
import { clampHistorySize, type HistoryEntry, type HistorySessionSummary, type HistoryStore } from '../history/historyStore';
import type { RunStatus } from '../runs/runRecord';
import { RERUN_RECORD_COMMAND, type TranscriptPanels } from './transcriptPanel';
import { formatMs } from '../../../common/duration';
import { visibleText } from '../../../common/escape';
import { formatTime } from '../output/transcriptText';

export const HISTORY_VIEW_ID = 'smtp.history';
export const HISTORY_SIZE_SETTING = 'smtp.history.size';

export const HISTORY_COMMANDS = {
  open: 'smtp.history.open',
  rerun: 'smtp.history.rerun',
  delete: 'smtp.history.delete',
  clear: 'smtp.history.clear',
  refresh: 'smtp.history.refresh',
} as const;

export type HistoryNode = { kind: 'run'; entry: HistoryEntry } | { kind: 'session'; entry: HistoryEntry; session: HistorySessionSummary; index: number };

const STATUS_ICONS: Record<RunStatus, vscode.ThemeIcon> = {
  passed: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  cancelled: new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('testing.iconSkipped')),
  error: new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground')),
  running: new vscode.ThemeIcon('loading~spin'),
};

const STATUS_WORDS: Record<RunStatus, string> = { passed: 'passed', failed: 'failed', cancelled: 'cancelled', error: 'could not run', running: 'running' };

/**
 * Shortens text for a tree label or description: one line (line breaks become spaces), control and
 * bidirectional characters shown as `\x1B` or `\u202E` so they can neither hide nor reorder text,
 * at most `max` characters.
 */
function oneLine(text: string, max: number): string {
  const flat = visibleText(String(text).replace(/[\r\n\t\u2028\u2029]+/g, ' '));
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The local time of a run, short: `04:42:01` today, else `2026-11-20 04:42`. */
function shortTime(iso: string, now: Date = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  const sameDay = d.toDateString() === now.toDateString();
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return sameDay ? time : `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

export class HistoryTreeProvider implements vscode.TreeDataProvider<HistoryNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<HistoryNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: { dispose(): void };

  constructor(private readonly store: HistoryStore) {
    this.subscription = store.onDidChange(() => this.refresh());
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: HistoryNode): HistoryNode[] {
    if (!node) return this.store.list().map((entry) => ({ kind: 'run', entry }));
    if (node.kind === 'run') return node.entry.sessions.map((session, index) => ({ kind: 'session', entry: node.entry, session, index }));
    return [];
  }

  getTreeItem(node: HistoryNode): vscode.TreeItem {
    if (node.kind === 'run') {
      const e = node.entry;
      const item = new vscode.TreeItem(oneLine(e.label, 120), e.sessions.length > 0 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
      item.id = `run:${e.id}`;
      item.description = `${oneLine(e.fileName, 60)} · ${shortTime(e.startedAt)}`;
      item.iconPath = STATUS_ICONS[e.status] ?? STATUS_ICONS.error;
      const passed = e.sessions.filter((s) => s.ok).length;
      item.tooltip = [
        `${oneLine(e.label, 200)}: ${STATUS_WORDS[e.status] ?? e.status}`,
        `${oneLine(e.fileName, 200)}`,
        `Started ${formatTime(e.startedAt)}, took ${formatMs(e.durationMs)}`,
        `${passed} of ${e.sessions.length} sessions passed`,
        e.environment ? `Environment: ${oneLine(e.environment, 100)}` : '',
        e.truncated ? 'The stored transcript was shortened to fit the history.' : '',
      ]
        .filter((x) => x !== '')
        .join('\n');
      item.contextValue = 'smtpHistoryRun';
      item.command = { command: HISTORY_COMMANDS.open, title: 'Open Transcript', arguments: [node] };
      return item;
    }
    const s = node.session;
    const item = new vscode.TreeItem(oneLine(s.name ? `${s.title} [${s.name}]` : s.title, 120), vscode.TreeItemCollapsibleState.None);
    item.id = `run:${node.entry.id}:session:${node.index}`;
    item.iconPath = s.ok ? STATUS_ICONS.passed : STATUS_ICONS.failed;
    item.description = s.failure ? oneLine(s.failure, 120) : `line ${s.line + 1}`;
    item.tooltip = s.failure ? `${oneLine(s.title, 200)} (line ${s.line + 1})\n${oneLine(s.failure, 500)}` : `${oneLine(s.title, 200)} (line ${s.line + 1}): passed`;
    item.contextValue = 'smtpHistorySession';
    item.command = { command: HISTORY_COMMANDS.open, title: 'Open Transcript', arguments: [node] };
    return item;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}

/** The run id a command was given: a tree node (clicked or from a context menu), an entry, or the id itself. */
export function runIdOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (typeof arg !== 'object' || arg === null) return undefined;
  const entry = (arg as { entry?: unknown }).entry;
  if (typeof entry === 'object' && entry !== null && typeof (entry as { id?: unknown }).id === 'string') return (entry as { id: string }).id;
  const id = (arg as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}

/** Registers the view, its commands and the size setting's watcher. Call from activate(). */
export function registerHistoryView(context: vscode.ExtensionContext, store: HistoryStore, panels: TranscriptPanels): vscode.Disposable[] {
  const provider = new HistoryTreeProvider(store);
  const view = vscode.window.createTreeView(HISTORY_VIEW_ID, { treeDataProvider: provider, showCollapseAll: true });
  /** The run a command acts on: its argument, else the selected run. */
  const target = (arg: unknown): string | undefined => runIdOf(arg) ?? runIdOf(view.selection[0]);
  const disposables: vscode.Disposable[] = [
    provider,
    view,
    vscode.commands.registerCommand(HISTORY_COMMANDS.open, async (arg?: unknown) => {
      const id = target(arg);
      if (!id) return;
      const record = store.get(id);
      if (!record) {
        void vscode.window.showWarningMessage('This run is no longer in the SMTP history.');
        provider.refresh();
        return;
      }
      panels.show(record);
    }),
    vscode.commands.registerCommand(HISTORY_COMMANDS.rerun, async (arg?: unknown) => {
      const id = target(arg);
      if (id) await vscode.commands.executeCommand(RERUN_RECORD_COMMAND, id);
    }),
    vscode.commands.registerCommand(HISTORY_COMMANDS.delete, async (arg?: unknown) => {
      const id = target(arg);
      if (id) await store.delete(id);
    }),
    vscode.commands.registerCommand(HISTORY_COMMANDS.clear, async () => {
      const count = store.list().length;
      if (count === 0) return;
      const answer = await vscode.window.showWarningMessage(`Delete all ${count} runs from the SMTP history?`, { modal: true, detail: 'Their transcripts are deleted too. This cannot be undone.' }, 'Clear History');
      if (answer === 'Clear History') await store.clear();
    }),
    vscode.commands.registerCommand(HISTORY_COMMANDS.refresh, () => provider.refresh()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(HISTORY_SIZE_SETTING)) void store.prune();
    }),
  ];
  context.subscriptions.push(...disposables);
  return disposables;
}

/** Reads the `smtp.history.size` setting (for the store's `size` option). */
export function historySizeSetting(): number {
  return clampHistorySize(vscode.workspace.getConfiguration().get<number>(HISTORY_SIZE_SETTING));
}
