/**
 * Starts the language server for `.smtp` and `.eml` documents and keeps it told about the
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
