/** The "Run" CodeLens on each session and "Run all" at the top of a `.smtp` file, as in REST Client. */
import * as vscode from 'vscode';
import type { RunController } from '../runs/runController';

export class SessionCodeLensProvider implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(private readonly runs: RunController) {}

  refresh(): void {
    this.changed.fire();
  }

  async provideCodeLenses(document: vscode.TextDocument, token: vscode.CancellationToken): Promise<vscode.CodeLens[]> {
    const sessions = await this.runs.sessions(document.uri);
    if (token.isCancellationRequested) return [];
    const lenses: vscode.CodeLens[] = [];
    if (sessions.length > 1) {
      const top = new vscode.Range(0, 0, 0, 0);
      lenses.push(new vscode.CodeLens(top, { title: `$(run-all) Run all (${sessions.length})`, command: 'smtp.runAllSessions', arguments: [document.uri], tooltip: 'Run every session of this file in order' }));
    }
    for (const session of sessions) {
      const range = new vscode.Range(session.line, 0, session.line, 0);
      const title = session.errors > 0 ? `$(error) Run (${session.errors} error${session.errors === 1 ? '' : 's'} to fix)` : '$(play) Run';
      lenses.push(new vscode.CodeLens(range, { title, command: 'smtp.runSession', arguments: [document.uri, session.index], tooltip: `Run "${session.title}"` }));
    }
    return lenses;
  }
}
