/**
 * The transcript panel: the vscode glue around transcriptHtml.ts (pure).
 *
 * One panel per script: running a script again, or opening one of its runs from the history, shows
 * that run in the script's panel, replacing the run it showed. A panel goes beside the script, in a
 * column that already exists when there is one (the column of another transcript, else the nearest
 * other editor column), so running a script that sits in the second column never opens a third. `update` refreshes
 * the panel only while it shows that run, so opening an older run stops the live updates of a run in
 * progress (open it again from the history once it has finished).
 *
 * Rendering: `show` sets the whole document (a fresh nonce each time). Live updates are throttled to
 * one every 100 ms; while the panel is visible and its script has said it is ready they are posted as
 * `{type:'render'}` messages and the script swaps the content (keeping the scroll position, or
 * following the end of a running transcript); otherwise the whole document is set again. The final
 * update of a run (any status but 'running') is rendered at once.
 *
 * Messages from the webview are checked before use: `reveal` (a line number), `copy`, `exportText`,
 * `exportJson`, `rerun`, `cancel` (ends the running session politely) and `ready`; anything else is
 * ignored. The panel only ever acts on its own
 * record: the script URI to reveal comes from the record, not from the message.
 *
 * After a reload the serializer (viewType `smtp.transcript`) restores a panel from the webview state
 * (`{recordId}`), reading the run from the history store.
 */
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import type { RunRecord } from '../runs/runRecord';
import type { HistoryStore } from '../history/historyStore';
import {
  escapeAttr,
  exportFileName,
  parseWebviewMessage,
  renderTranscriptBody,
  renderTranscriptHtml,
  transcriptCsp,
  transcriptJson,
  transcriptTitle,
} from './transcriptHtml';
import { formatRecord } from '../output/transcriptText';
import { RUN_BULK_COMMAND } from './runBulkCheck';

export const TRANSCRIPT_VIEW_TYPE = 'smtp.transcript';
/** The command the panel's Rerun button runs, with the record id (implemented by the run feature). */
export const RERUN_RECORD_COMMAND = 'smtp.rerunRecord';
/** The command the panel's Cancel button runs, with the record id (implemented by the run feature). */
export const CANCEL_RUN_COMMAND = 'smtp.cancelRun';
/** The shortest time between two live renders of one panel. */
export const UPDATE_INTERVAL_MS = 100;

function nonce(): string {
  return randomBytes(18).toString('base64');
}

/** Options every transcript panel gets, also when the serializer restores one. */
export function transcriptWebviewOptions(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    // The only script is the panel's own, inlined under a fresh nonce; the CSP allows nothing else.
    enableScripts: true,
    enableForms: false,
    enableCommandUris: false,
    // The stylesheet and the script are inlined, so the panel loads no local files at all.
    localResourceRoots: [],
    retainContextWhenHidden: false,
    enableFindWidget: true,
  };
}

/** The document shown when a restored panel's run is no longer in the history. */
function missingHtml(cspSource: string, n: string): string {
  return [
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeAttr(transcriptCsp(cspSource, n))}">`,
    `<style nonce="${n}">body{font-family:var(--vscode-font-family);color:var(--vscode-descriptionForeground);padding:16px}</style>`,
    '</head><body><p>This run is no longer in the SMTP history.</p></body></html>',
  ].join('');
}

class TranscriptPanel {
  record: RunRecord;
  private ready = false;
  /** True when messages have updated the document since `webview.html` was last set. */
  private stale = false;
  /** True when an update arrived while the document was loading. */
  private pending = false;
  /** The nonce of the document last set: a 'ready' message must carry it to count. */
  private doc = '';
  private timer: NodeJS.Timeout | undefined;
  private lastRender = 0;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly panel: vscode.WebviewPanel,
    record: RunRecord,
    private readonly onDispose: (p: TranscriptPanel) => void,
  ) {
    this.record = record;
    this.disposables.push(
      panel.webview.onDidReceiveMessage((msg: unknown) => void this.onMessage(msg)),
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState(() => {
        // A hidden webview is discarded and rebuilt from `webview.html` when shown again, so a
        // document that has since been updated by messages is set again with the latest record.
        if (!panel.visible) this.ready = false;
        else if (this.stale || this.pending) this.setDocument();
      }),
    );
    this.setDocument();
  }

  /** Shows another run in this panel. */
  showRecord(record: RunRecord): void {
    this.record = record;
    this.cancelTimer();
    this.setDocument();
  }

  /** A newer state of the run this panel shows: rendered now or within UPDATE_INTERVAL_MS. */
  update(record: RunRecord): void {
    this.record = record;
    const wait = UPDATE_INTERVAL_MS - (Date.now() - this.lastRender);
    if (record.status !== 'running' || wait <= 0) {
      this.cancelTimer();
      this.render();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.render();
      }, wait);
    }
  }

  private render(): void {
    this.lastRender = Date.now();
    if (this.panel.visible && this.ready) {
      this.stale = true;
      void this.panel.webview
        .postMessage({ type: 'render', recordId: this.record.id, status: this.record.status, title: transcriptTitle(this.record), html: renderTranscriptBody(this.record) })
        .then((delivered) => {
          if (!delivered) this.setDocument();
        });
    } else if (this.panel.visible && this.record.status === 'running') {
      // The document is still loading: it gets this state as soon as its script is ready, rather
      // than being replaced again (which, with a big run, could keep it from ever finishing). The
      // final state of a run is always set as a document, so it shows even if no 'ready' came.
      this.pending = true;
    } else {
      this.setDocument();
    }
  }

  private setDocument(): void {
    this.lastRender = Date.now();
    this.ready = false;
    this.stale = false;
    this.pending = false;
    this.panel.title = transcriptTitle(this.record);
    this.doc = nonce();
    this.panel.webview.html = renderTranscriptHtml(this.record, { cspSource: this.panel.webview.cspSource, nonce: this.doc });
  }

  private async onMessage(raw: unknown): Promise<void> {
    const msg = parseWebviewMessage(raw);
    if (!msg) return;
    const record = this.record;
    try {
      switch (msg.type) {
        case 'ready':
          // A document set before the current one may still report; only the current one counts.
          if (msg.doc === this.doc && msg.recordId === record.id) {
            this.ready = true;
            if (this.pending) {
              this.pending = false;
              this.render();
            }
          }
          return;
        case 'reveal':
          await revealLine(record, msg.line);
          return;
        case 'copy':
          await vscode.env.clipboard.writeText(formatRecord(record));
          void vscode.window.setStatusBarMessage('SMTP transcript copied to the clipboard', 3000);
          return;
        case 'exportText':
          await exportRecord(record, 'txt');
          return;
        case 'exportJson':
          await exportRecord(record, 'json');
          return;
        case 'rerun':
          await vscode.commands.executeCommand(RERUN_RECORD_COMMAND, record.id);
          return;
        case 'checkBulk':
          // The run's messages are checked by the command (views/runBulkCheck.ts), which says when they are gone.
          if (record.status !== 'running') await vscode.commands.executeCommand(RUN_BULK_COMMAND, record.id);
          return;
        case 'cancel':
          // Only the run this panel shows, and only while it runs.
          if (record.status === 'running') await vscode.commands.executeCommand(CANCEL_RUN_COMMAND, record.id);
          return;
      }
    } catch (err) {
      void vscode.window.showErrorMessage(`SMTP transcript: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    this.cancelTimer();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.onDispose(this);
  }
}

/** Opens the record's script (where it is already visible, else in the first column) at a 0-based line. */
async function revealLine(record: RunRecord, line: number): Promise<void> {
  const uri = vscode.Uri.parse(record.uri, true);
  const document = await vscode.workspace.openTextDocument(uri);
  const clamped = Math.min(line, Math.max(0, document.lineCount - 1));
  const range = document.lineAt(clamped).range;
  const visible = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString());
  const editor = await vscode.window.showTextDocument(document, { viewColumn: visible?.viewColumn ?? vscode.ViewColumn.One, selection: range, preserveFocus: false });
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}

async function exportRecord(record: RunRecord, ext: 'txt' | 'json'): Promise<void> {
  let folder: vscode.Uri | undefined;
  try {
    const script = vscode.Uri.parse(record.uri, true);
    if (script.scheme === 'file') folder = vscode.Uri.joinPath(script, '..');
  } catch {
    // A record without a usable URI exports to the workspace folder.
  }
  folder ??= vscode.workspace.workspaceFolders?.[0]?.uri;
  const name = exportFileName(record, ext);
  const target = await vscode.window.showSaveDialog({
    defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
    filters: ext === 'json' ? { JSON: ['json'] } : { Text: ['txt', 'log'] },
    saveLabel: 'Export transcript',
    title: `Export the SMTP transcript as ${ext === 'json' ? 'JSON' : 'text'}`,
  });
  if (!target) return;
  const content = ext === 'json' ? transcriptJson(record) : formatRecord(record);
  await vscode.workspace.fs.writeFile(target, Buffer.from(content, 'utf8'));
  void vscode.window.setStatusBarMessage(`SMTP transcript saved to ${target.fsPath || target.toString()}`, 4000);
}

export class TranscriptPanels implements vscode.Disposable {
  /** Open panels by script URI. */
  private readonly panels = new Map<string, TranscriptPanel>();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly history: HistoryStore,
  ) {
    context.subscriptions.push(this);
  }

  /** Shows the run in its script's panel, creating the panel beside the script when there is none. */
  show(record: RunRecord): void {
    const existing = this.panels.get(record.uri);
    const column = transcriptColumn({
      script: scriptColumn(record.uri),
      editors: vscode.window.visibleTextEditors.map((e) => e.viewColumn).filter((c): c is number => typeof c === 'number' && c > 0),
      transcripts: [...this.panels.values()].filter((p) => p !== existing).map((p) => p.panel.viewColumn).filter((c): c is number => typeof c === 'number' && c > 0),
      own: existing?.panel.viewColumn,
    });
    if (existing) {
      existing.showRecord(record);
      existing.panel.reveal(column, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(TRANSCRIPT_VIEW_TYPE, transcriptTitle(record), { viewColumn: column, preserveFocus: true }, transcriptWebviewOptions());
    this.adopt(panel, record);
  }

  /** Refreshes the panel showing this run, if any (throttled). */
  update(record: RunRecord): void {
    const p = this.panels.get(record.uri);
    if (p && p.record.id === record.id) p.update(record);
  }

  /** Shows the run with this id from the history; returns false when it is not there. */
  showFromHistory(id: string): boolean {
    const record = this.history.get(id);
    if (!record) return false;
    this.show(record);
    return true;
  }

  /** Restores a panel after a reload (the serializer calls this). */
  restore(panel: vscode.WebviewPanel, state: unknown): void {
    panel.webview.options = transcriptWebviewOptions();
    const id = typeof state === 'object' && state !== null && typeof (state as { recordId?: unknown }).recordId === 'string' ? (state as { recordId: string }).recordId : undefined;
    const record = id !== undefined ? this.history.get(id) : undefined;
    if (!record) {
      panel.title = 'SMTP transcript';
      panel.webview.html = missingHtml(panel.webview.cspSource, nonce());
      return;
    }
    const other = this.panels.get(record.uri);
    if (other) {
      // One panel per script: a second restored panel for the same script gives its run to the first.
      other.showRecord(record);
      panel.dispose();
      return;
    }
    this.adopt(panel, record);
  }

  private adopt(panel: vscode.WebviewPanel, record: RunRecord): void {
    const key = record.uri;
    const p = new TranscriptPanel(panel, record, (gone) => {
      if (this.panels.get(key) === gone) this.panels.delete(key);
    });
    this.panels.set(key, p);
  }

  dispose(): void {
    for (const p of [...this.panels.values()]) p.panel.dispose();
    this.panels.clear();
  }
}

/** The column of the script's editor, when it is visible (else the active editor's). */
function scriptColumn(uri: string): number | undefined {
  const visible = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri);
  return visible?.viewColumn ?? vscode.window.activeTextEditor?.viewColumn;
}

/**
 * Where a transcript goes (pure): its own column when it is not the script's; else the column of
 * another transcript; else the nearest other column that holds an editor (the right one first);
 * only when the script is alone, a new column beside it (`ViewColumn.Beside`).
 */
export function transcriptColumn(where: { script?: number; editors: readonly number[]; transcripts: readonly number[]; own?: number }): number {
  const notScript = (c: number | undefined): c is number => typeof c === 'number' && c > 0 && c !== where.script;
  if (notScript(where.own)) return where.own;
  const other = where.transcripts.find(notScript);
  if (other !== undefined) return other;
  const columns = [...new Set(where.editors.filter(notScript))];
  if (columns.length > 0) {
    const from = where.script ?? 1;
    columns.sort((a, b) => Math.abs(a - from) - Math.abs(b - from) || b - a);
    return columns[0];
  }
  return vscode.ViewColumn.Beside;
}

/** Restores transcript panels after a window reload. Call from activate(). */
export function registerTranscriptSerializer(context: vscode.ExtensionContext, panels: TranscriptPanels): vscode.Disposable {
  const registration = vscode.window.registerWebviewPanelSerializer(TRANSCRIPT_VIEW_TYPE, {
    async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
      panels.restore(panel, state);
    },
  });
  context.subscriptions.push(registration);
  return registration;
}
