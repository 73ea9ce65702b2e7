/**
 * Activation and wiring only: each feature lives in its own module and registers itself here.
 */
import * as vscode from 'vscode';
import { startLanguageClient } from './languageClient';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  await startLanguageClient(context, () => ({ externalVariables: [] }));
}

export function deactivate(): void {
  // The language client is disposed through the context's subscriptions.
}
