/**
 * The feature bundle of the language client library (vscode-languageclient): loaded when the
 * language server starts, which is the only thing that needs it.
 */
export { LanguageClient, TransportKind } from 'vscode-languageclient/node';
