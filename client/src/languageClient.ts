/**
 * Starts the language server for `.smtp` and `.eml` documents (and reports and capture rules
 * files opened as text) and keeps it told about the
 * variables the selected environment defines.
 */
import * as vscode from 'vscode';
import type { LanguageClient, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import type * as LanguageClientToolsModule from './lazy/languageClientTools';
import { lazyBundle } from './lazy/loader';
import { SettingsNotification, type ServerSettings } from '../../common/protocol';

/** The client library is part of starting the language server, so it loads with it (lazy/loader.ts). */
const languageClientTools = lazyBundle<typeof LanguageClientToolsModule>('languageClientTools');

export async function startLanguageClient(context: vscode.ExtensionContext, settings: () => ServerSettings): Promise<LanguageClient> {
  const { LanguageClient, TransportKind } = languageClientTools();
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6011'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { language: 'smtp', scheme: 'file' },
      { language: 'smtp', scheme: 'untitled' },
      { language: 'eml', scheme: 'file' },
      { language: 'eml', scheme: 'untitled' },
      { language: 'eml', scheme: 'smtp-inbox' },
      // DMARC aggregate (.xml) and TLS-RPT (.json) reports opened as text, and capture server rules
      // files: the server recognises reports by their content (first 4 KiB) and rules files by
      // name, and says nothing about other XML and JSON (server/src/languageService.ts).
      { scheme: 'file', pattern: '**/*.xml' },
      { scheme: 'file', pattern: '**/*.json' },
    ],
    initializationOptions: settings(),
    outputChannelName: 'SMTP Language Server',
  };
  const client = new LanguageClient('smtpWorkbench', 'SMTP Language Server', serverOptions, clientOptions);
  await client.start();
  context.subscriptions.push(client);
  return client;
}

export function sendSettings(client: LanguageClient, settings: ServerSettings): void {
  // By method name: the message types live in this bundle, the client library in its own (lazy) one,
  // and vscode-jsonrpc checks a type's parameter structure by identity.
  void client.sendNotification(SettingsNotification.method, settings);
}
