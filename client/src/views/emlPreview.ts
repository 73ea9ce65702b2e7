/**
 * The .eml preview webview: the vscode glue around client/src/preview (pure). The panel shows the
 * header summary, the sanitised HTML part in a sandboxed iframe, the text part and the attachments,
 * under a strict Content-Security-Policy with a fresh nonce for each render (see webviewHtml.ts).
 * Remote images stay blocked until the user clicks "Load remote content" for that panel.
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

export class EmlPreviewManager implements vscode.Disposable {
  private readonly panels = new Map<string, PanelState>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor() {
    this.disposables.push(
      vscode.workspace.onDidSaveTextDocument((doc) => void this.refresh(doc.uri)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        const key = e.document.uri.toString();
        if (!this.panels.has(key)) return;
        // Re-render at most every 300 ms while the user types.
        clearTimeout(this.timers.get(key));
        this.timers.set(key, setTimeout(() => void this.refresh(e.document.uri), 300));
      }),
    );
  }

  /** Opens (or reveals) the preview of the message. */
  async show(uri: vscode.Uri): Promise<void> {
    const key = uri.toString();
    const existing = this.panels.get(key);
    if (existing) {
      existing.panel.reveal(vscode.ViewColumn.Beside, true);
      await this.render(uri, existing);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      EML_PREVIEW_VIEW_TYPE,
      `Preview ${uri.path.split('/').pop() ?? 'message'}`,
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
    const state: PanelState = { panel, allowRemote: false };
    this.panels.set(key, state);
    panel.onDidDispose(() => this.panels.delete(key));
    panel.webview.onDidReceiveMessage((msg: unknown) => {
      if (typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'loadRemote') {
        state.allowRemote = true;
        void this.render(uri, state);
      }
    });
    await this.render(uri, state);
  }

  private async refresh(uri: vscode.Uri): Promise<void> {
    const state = this.panels.get(uri.toString());
    if (state) await this.render(uri, state);
  }

  private async render(uri: vscode.Uri, state: PanelState): Promise<void> {
    try {
      const raw = await readMessageBytes(uri);
      const model = await emlTools().buildPreviewModel(raw, { allowRemote: state.allowRemote });
      state.panel.webview.html = emlTools().renderPreviewHtml(model, { cspSource: state.panel.webview.cspSource, nonce: randomBytes(18).toString('base64') });
    } catch (err) {
      void vscode.window.showErrorMessage(`Cannot preview ${uri.fsPath}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  dispose(): void {
    for (const s of this.panels.values()) s.panel.dispose();
    this.panels.clear();
    for (const d of this.disposables) d.dispose();
    for (const t of this.timers.values()) clearTimeout(t);
  }
}

/** Registers the preview command. Call from activate(): `context.subscriptions.push(...registerEmlPreview())`. */
export function registerEmlPreview(): vscode.Disposable[] {
  const manager = new EmlPreviewManager();
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
