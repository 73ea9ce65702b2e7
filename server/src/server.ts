/**
 * The language server: LSP wiring only. Everything it answers comes from the pure services in
 * smtp/ and eml/ through languageService.ts; this file adapts requests and positions.
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CodeAction,
  CodeActionKind,
  CompletionItemKind,
  DidChangeWatchedFilesNotification,
  InsertTextFormat,
  ProposedFeatures,
  SymbolKind,
  TextDocumentSyncKind,
  TextDocuments,
  WatchKind,
  createConnection,
  type CompletionItem,
  type Connection,
  type DocumentSymbol,
  type InitializeResult,
  type Range,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { SessionPlanRequest, SessionsRequest, SettingsNotification, type ServerSettings } from '../../common/protocol';
import type { OffsetRange } from '../../common/problem';
import { toDiagnostics } from './diagnostics';
import { LanguageService, type CompletionEntry, type OutlineEntry } from './languageService';

/** True when a regular file exists at the path (what the engine will read). */
function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  // The server is the glue that gives the pure language service its view of the world.
  const service = new LanguageService({ processEnv: process.env, now: () => new Date(), uuid: randomUUID, fileExists: isFile });
  let watchFiles = false;

  connection.onInitialize((params): InitializeResult => {
    watchFiles = params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
    const options = params.initializationOptions as Partial<ServerSettings> | undefined;
    if (options?.externalVariables) service.setExternalVariables(options.externalVariables, options.environment);
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        completionProvider: { triggerCharacters: ['{', '$', '@', ' ', ':', '=', '<'] },
        documentSymbolProvider: true,
        foldingRangeProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      },
      serverInfo: { name: 'smtp-workbench', version: '0.1.0' },
    };
  });

  const validate = (document: TextDocument) => {
    const problems = service.problems(document);
    void connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics: toDiagnostics(problems, document) });
  };

  documents.onDidChangeContent((change) => validate(change.document));

  // The files a script names (TLS ca=, cert=, key=, DATA < file) are checked when the script is
  // analysed, so a file created or deleted afterwards would leave a stale smtp-file-missing until
  // the next edit. The client is asked to report files created and deleted in the workspace (a
  // client that cannot register watchers may still send the notification), and the open scripts
  // such a change may concern are analysed again: those that miss a file, and those whose text
  // holds the changed file's name. Files outside the workspace are not watched.
  connection.onInitialized(() => {
    if (!watchFiles) return;
    void connection.client
      .register(DidChangeWatchedFilesNotification.type, { watchers: [{ globPattern: '**/*', kind: WatchKind.Create | WatchKind.Delete }] })
      .catch(() => undefined);
  });
  const changedNames = new Set<string>();
  let relint: ReturnType<typeof setTimeout> | undefined;
  connection.onDidChangeWatchedFiles((params) => {
    for (const change of params.changes) {
      const name = fileName(change.uri);
      if (name !== undefined) changedNames.add(name);
    }
    // A checkout or a build creates many files at once: the scripts are analysed once for them all.
    relint ??= setTimeout(() => {
      relint = undefined;
      const names = [...changedNames];
      changedNames.clear();
      for (const document of documents.all()) {
        // Only scripts in files name files: an untitled script's relative paths mean nothing yet.
        if (!/^file:/i.test(document.uri) || (document.languageId !== 'smtp' && !/\.smtp$/i.test(document.uri))) continue;
        const text = document.getText();
        const concerned = service.problems(document).some((p) => p.code === 'smtp-file-missing') || names.some((name) => text.includes(name));
        if (!concerned) continue;
        service.forget(document.uri);
        validate(document);
      }
    }, WATCHED_FILES_DELAY_MS);
  });
  documents.onDidClose((event) => {
    service.forget(event.document.uri);
    void connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
  });

  connection.onNotification(SettingsNotification, (settings) => {
    service.setExternalVariables(settings.externalVariables, settings.environment);
    for (const document of documents.all()) validate(document);
  });

  const toRange = (document: TextDocument, range: OffsetRange) => ({ start: document.positionAt(range.start), end: document.positionAt(range.end) });

  connection.onHover((params) => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return null;
    const hover = service.hover(document, document.offsetAt(params.position));
    return hover ? { contents: { kind: 'markdown', value: hover.markdown }, range: toRange(document, hover.range) } : null;
  });

  connection.onCompletion((params) => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return [];
    return service.completion(document, document.offsetAt(params.position)).map((entry) => toCompletionItem(entry, document, toRange));
  });

  connection.onDocumentSymbol((params) => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return [];
    const convert = (node: OutlineEntry): DocumentSymbol => ({
      name: node.name || '(unnamed)',
      detail: node.detail,
      kind: SYMBOL_KINDS[node.kind] ?? SymbolKind.Field,
      range: toRange(document, node.range),
      selectionRange: toRange(document, node.selectionRange),
      children: node.children.map(convert),
    });
    return service.outline(document).map(convert);
  });

  connection.onFoldingRanges((params) => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return [];
    return service.folding(document).map((f) => ({ startLine: f.startLine, endLine: f.endLine, ...(f.kind ? { kind: f.kind } : {}) }));
  });

  connection.onCodeAction((params) => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return [];
    const actions: CodeAction[] = [];
    const wanted = new Set(params.context.diagnostics.map((d) => `${String(d.code)}@${d.range.start.line}:${d.range.start.character}`));
    const start = document.offsetAt(params.range.start);
    const end = document.offsetAt(params.range.end);
    for (const problem of service.problems(document)) {
      if (!problem.fixes) continue;
      const position = document.positionAt(problem.range.start);
      const key = `${problem.code}@${position.line}:${position.character}`;
      const touches = problem.range.start <= end && problem.range.end >= start;
      if (!wanted.has(key) && !touches) continue;
      const diagnostic = params.context.diagnostics.find((d) => `${String(d.code)}@${d.range.start.line}:${d.range.start.character}` === key);
      for (const fix of problem.fixes) {
        actions.push({
          title: fix.title,
          kind: CodeActionKind.QuickFix,
          isPreferred: fix.preferred,
          diagnostics: diagnostic ? [diagnostic] : undefined,
          edit: { changes: { [document.uri]: fix.edits.map((e) => ({ range: toRange(document, e.range), newText: e.newText })) } },
        });
      }
    }
    return actions;
  });

  // A script the editor has not opened arrives with its text; it is analysed once and not kept.
  const scriptFor = (uri: string, text: string | undefined) => documents.get(uri) ?? (text !== undefined ? TextDocument.create(uri, 'smtp', -1, text) : undefined);

  connection.onRequest(SessionsRequest, (params) => {
    const document = scriptFor(params.uri, params.text);
    const sessions = document ? service.sessions(document) : [];
    if (document && !documents.get(params.uri)) service.forget(params.uri);
    return { sessions };
  });

  connection.onRequest(SessionPlanRequest, (params) => {
    const document = scriptFor(params.uri, params.text);
    if (!document) return { errors: [{ line: 0, message: 'the script is neither open nor given', code: 'not-open' }] };
    const result = service.sessionPlan(document, params);
    if (!documents.get(params.uri)) service.forget(params.uri);
    return result;
  });

  documents.listen(connection);
  connection.listen();
}

/** How long the server waits after a file change for more changes before it analyses scripts again. */
const WATCHED_FILES_DELAY_MS = 100;

/** The last segment of a `file:` URI's path, or undefined for another URI. */
function fileName(uri: string): string | undefined {
  try {
    return basename(fileURLToPath(uri));
  } catch {
    return undefined;
  }
}

const SYMBOL_KINDS: Record<string, SymbolKind> = {
  session: SymbolKind.Namespace,
  command: SymbolKind.Method,
  directive: SymbolKind.Property,
  variable: SymbolKind.Variable,
  message: SymbolKind.String,
  header: SymbolKind.Field,
  part: SymbolKind.Module,
  body: SymbolKind.String,
};

const COMPLETION_KINDS: Record<string, CompletionItemKind> = {
  keyword: CompletionItemKind.Keyword,
  command: CompletionItemKind.Function,
  directive: CompletionItemKind.Keyword,
  parameter: CompletionItemKind.Property,
  variable: CompletionItemKind.Variable,
  builtin: CompletionItemKind.Constant,
  value: CompletionItemKind.EnumMember,
  snippet: CompletionItemKind.Snippet,
  code: CompletionItemKind.Value,
};

function toCompletionItem(entry: CompletionEntry, document: TextDocument, toRange: (d: TextDocument, r: OffsetRange) => Range): CompletionItem {
  const item: CompletionItem = {
    label: entry.label,
    kind: COMPLETION_KINDS[entry.kind] ?? CompletionItemKind.Text,
    detail: entry.detail,
    sortText: entry.sortText,
    insertTextFormat: entry.snippet ? InsertTextFormat.Snippet : InsertTextFormat.PlainText,
  };
  if (entry.documentation) item.documentation = { kind: 'markdown', value: entry.documentation };
  const text = entry.insertText ?? entry.label;
  if (entry.replaceRange) item.textEdit = { range: toRange(document, entry.replaceRange), newText: text };
  else item.insertText = text;
  return item;
}

// Started directly (dist/server.js, by the extension over IPC, or by `node dist/server.js --stdio`).
if (require.main === module) {
  startServer(createConnection(ProposedFeatures.all));
}
