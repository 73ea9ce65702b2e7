/**
 * The .eml preview webview: the vscode glue around client/src/preview (pure). The panel shows the
 * header summary, the sanitised HTML part in a sandboxed iframe, the text part and the attachments,
 * under a strict Content-Security-Policy with a fresh nonce for each render (see webviewHtml.ts).
 * Remote images stay blocked until the user clicks "Load remote content" for that message. The
 * preview follows the active editor: another `.eml` editor brought to the front is shown in it.
 */
import * as vscode from 'vscode';
import type * as EmlToolsModule from '../lazy/emlTools';
import { lazyBundle } from '../lazy/loader';
import { randomBytes } from 'node:crypto';

/** Loaded on first use (see lazy/loader.ts). */
const emlTools = lazyBundle<typeof EmlToolsModule>('emlTools');


export const EML_PREVIEW_COMMAND = 'smtp.eml.preview';
export const EML_PREVIEW_VIEW_TYPE = 'smtp.emlPreview';

interface PanelState {
  panel: vscode.WebviewPanel;
  /** The message the panel shows now. */
  uri: vscode.Uri;
  /** Remote content was allowed for this message (reset when the panel follows another one). */
  allowRemote: boolean;
}

/** Reads the message: the editor's text when it has unsaved changes, else the file's bytes. */
export async function readMessageBytes(uri: vscode.Uri): Promise<Buffer> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open && open.isDirty) return Buffer.from(open.getText(), 'utf8');
  return Buffer.from(await vscode.workspace.fs.readFile(uri));
}

/** Returns the .eml URI a command should act on: its argument, else the active editor's document. */
export function targetUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  return vscode.window.activeTextEditor?.document.uri;
}

/** True for a document the preview can show: an `.eml` message. */
function isEmlDocument(document: { uri: vscode.Uri; languageId?: string }): boolean {
  return document.languageId === 'eml' || /\.eml$/i.test(document.uri.path);
}

function previewTitle(uri: vscode.Uri): string {
  return `Preview ${uri.path.split('/').pop() || 'message'}`;
}

/**
 * One preview that follows the active editor, as VS Code's Markdown preview does: opening it shows
 * the message of the active editor, and when another `.eml` editor becomes active the preview shows
 * that message (with remote content blocked again). Editors of other languages leave it alone.
 */
export class EmlPreviewManager implements vscode.Disposable {
  private state: PanelState | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Renders in order: a slow render of an older message never overwrites a newer one. */
  private generation = 0;

  constructor() {
    this.disposables.push(
      vscode.workspace.onDidSaveTextDocument((doc) => void this.refresh(doc.uri)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (!this.shows(e.document.uri)) return;
        // Re-render at most every 300 ms while the user types.
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.refresh(e.document.uri), 300);
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (!editor || !this.state || !isEmlDocument(editor.document)) return;
        if (!this.shows(editor.document.uri)) void this.follow(editor.document.uri);
      }),
    );
  }

  /** The message the preview shows, if it is open. */
  get current(): vscode.Uri | undefined {
    return this.state?.uri;
  }

  private shows(uri: vscode.Uri): boolean {
    return this.state !== undefined && this.state.uri.toString() === uri.toString();
  }

  /** Opens (or reveals) the preview, showing this message. */
  async show(uri: vscode.Uri): Promise<void> {
    if (this.state) {
      this.state.panel.reveal(this.state.panel.viewColumn ?? vscode.ViewColumn.Beside, true);
      if (!this.shows(uri)) await this.follow(uri);
      else await this.render(this.state);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      EML_PREVIEW_VIEW_TYPE,
      previewTitle(uri),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      {
        // Only the panel's nonce'd script runs (the CSP allows nothing else); the message HTML sits
        // in a sandboxed iframe without allow-scripts.
        enableScripts: true,
        enableForms: false,
        enableCommandUris: false,
        localResourceRoots: [],
        retainContextWhenHidden: false,
      },
    );
    const state: PanelState = { panel, uri, allowRemote: false };
    this.state = state;
    panel.onDidDispose(() => {
      if (this.state === state) this.state = undefined;
    });
    panel.webview.onDidReceiveMessage((msg: unknown) => {
      if (typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'loadRemote') {
        state.allowRemote = true;
        void this.render(state);
      }
    });
    await this.render(state);
  }

  /** Shows another message in the open preview; remote content is blocked again. */
  private async follow(uri: vscode.Uri): Promise<void> {
    const state = this.state;
    if (!state) return;
    state.uri = uri;
    state.allowRemote = false;
    state.panel.title = previewTitle(uri);
    await this.render(state);
  }

  private async refresh(uri: vscode.Uri): Promise<void> {
    if (this.state && this.shows(uri)) await this.render(this.state);
  }

  private async render(state: PanelState): Promise<void> {
    const generation = ++this.generation;
    const uri = state.uri;
    try {
      const raw = await readMessageBytes(uri);
      const model = await emlTools().buildPreviewModel(raw, { allowRemote: state.allowRemote });
      if (generation !== this.generation || state !== this.state) return;
      state.panel.webview.html = emlTools().renderPreviewHtml(model, { cspSource: state.panel.webview.cspSource, nonce: randomBytes(18).toString('base64') });
    } catch (err) {
      void vscode.window.showErrorMessage(`Cannot preview ${uri.fsPath}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  dispose(): void {
    this.state?.panel.dispose();
    this.state = undefined;
    for (const d of this.disposables) d.dispose();
    clearTimeout(this.timer);
  }
}

/** Registers the preview command. Call from activate(): `context.subscriptions.push(...registerEmlPreview())`. */
export function registerEmlPreview(manager = new EmlPreviewManager()): vscode.Disposable[] {
  return [
    manager,
    vscode.commands.registerCommand(EML_PREVIEW_COMMAND, async (arg?: unknown) => {
      const uri = targetUri(arg);
      if (!uri) {
        void vscode.window.showWarningMessage('Open an .eml file to preview it.');
        return;
      }
      await manager.show(uri);
    }),
  ];
}
