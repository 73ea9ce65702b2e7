/**
 * The language server: LSP wiring only. Everything it answers comes from the pure services in
 * smtp/ and eml/ through languageService.ts; this file adapts requests and positions.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CodeAction,
  CodeActionKind,
  CompletionItemKind,
  DidChangeWatchedFilesNotification,
  InsertTextFormat,
  NotificationType,
  ProposedFeatures,
  RequestType,
  SymbolKind,
  TextDocumentSyncKind,
  TextDocuments,
  WatchKind,
  createConnection,
  type CompletionItem,
  type Connection,
  type Disposable,
  type DocumentSymbol,
  type InitializeResult,
  type Range,
  type RequestHandler,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { SessionPlanRequest, SessionsRequest, SettingsNotification, type CustomNotification, type CustomRequest, type ServerSettings } from '../../common/protocol';
import type { OffsetRange } from '../../common/problem';
import { toDiagnostics } from './diagnostics';
import { LanguageService, type CompletionEntry, type OutlineEntry } from './languageService';
import { connectStdio } from './stdioTransport';

/** True when a regular file exists at the path (what the engine will read). */
function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether the file behind a `file:` URI starts with a UTF-8 byte-order mark (EF BB BF). Any other
 * URI (an `untitled:` document has no file yet) and a file that cannot be read answer false.
 */
function fileStartsWithBom(uri: string): boolean {
  if (!/^file:/i.test(uri)) return false;
  let fd: number | undefined;
  try {
    fd = openSync(fileURLToPath(uri), 'r');
    const head = Buffer.alloc(3);
    return readSync(fd, head, 0, 3, 0) === 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  // VS Code removes a byte-order mark from the text of a document it opens, so whether an `.eml`
  // file starts with one is read from disk: once when the document is first linted after it is
  // opened, and again when it is saved. Only documents the service asks about (messages) are read.
  const bomOnDisk = new Map<string, boolean>();
  const startsWithBom = (uri: string): boolean => {
    let known = bomOnDisk.get(uri);
    if (known === undefined) bomOnDisk.set(uri, (known = fileStartsWithBom(uri)));
    return known;
  };
  // The paths the service asks about while it analyses a script (the files the script names), so
  // that those outside the workspace can be watched too (watchOutside, below).
  let checking: Set<string> | undefined;
  const fileExists = (path: string): boolean => {
    checking?.add(path);
    return isFile(path);
  };
  // The server is the glue that gives the pure language service its view of the world.
  const service = new LanguageService({ processEnv: process.env, now: () => new Date(), uuid: randomUUID, fileExists, fileStartsWithBom: startsWithBom });
  let watchFiles = false;
  let watchOutsideFiles = false;
  let workspacePaths: string[] = [];

  connection.onInitialize((params): InitializeResult => {
    watchFiles = params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
    watchOutsideFiles = watchFiles && params.capabilities.workspace?.didChangeWatchedFiles?.relativePatternSupport === true;
    const folders = params.workspaceFolders?.map((folder) => folder.uri) ?? (params.rootUri ? [params.rootUri] : []);
    workspacePaths = folders.map(filePath).filter((path): path is string => path !== undefined);
    const options = params.initializationOptions as Partial<ServerSettings> | undefined;
    if (options?.externalVariables) service.setExternalVariables(options.externalVariables, options.environment);
    return {
      capabilities: {
        // Saves are announced so that a byte-order mark added or removed on disk is seen (bomOnDisk).
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
        hoverProvider: true,
        completionProvider: { triggerCharacters: ['{', '$', '@', ' ', ':', '=', '<'] },
        documentSymbolProvider: true,
        foldingRangeProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      },
      serverInfo: { name: 'smtp-workbench', version: '0.1.0' },
    };
  });

  // Every call of validate follows a change of the document or a dropped analysis, so the service
  // analyses it again and asks about every file it names.
  const validate = (document: TextDocument) => {
    const checked = new Set<string>();
    checking = checked;
    let problems;
    try {
      problems = service.problems(document);
    } finally {
      checking = undefined;
    }
    void connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics: toDiagnostics(problems, document) });
    if (watchOutsideFiles) watchOutside(document.uri, checked);
  };

  // The workspace watcher below sees only files inside the workspace. Files an open script names
  // outside it (`TLS ca=/etc/ssl/…`, `DATA < ../shared/message.eml`) are watched one by one, with
  // relative patterns (LSP 3.17), when the client supports them; their changes arrive as
  // workspace/didChangeWatchedFiles like the others. One registration holds them all, replaced when
  // the set changes.
  const outsideByDocument = new Map<string, string[]>();
  let outsideKey = '';
  let outsideRegistration: Promise<Disposable | undefined> = Promise.resolve(undefined);
  const watchOutside = (uri: string, paths: ReadonlySet<string>): void => {
    const outside = [...paths].filter((path) => !workspacePaths.some((folder) => isInside(path, folder)));
    if (outside.length > 0) outsideByDocument.set(uri, outside);
    else outsideByDocument.delete(uri);
    const all = [...new Set([...outsideByDocument.values()].flat())].sort();
    const key = all.join('\n');
    if (key === outsideKey) return;
    outsideKey = key;
    const watchers = all.map((path) => ({ globPattern: { baseUri: pathToFileURL(dirname(path)).toString(), pattern: globFor(basename(path)) }, kind: WatchKind.Create | WatchKind.Delete }));
    outsideRegistration = outsideRegistration.then(async (previous) => {
      previous?.dispose();
      return watchers.length > 0 ? connection.client.register(DidChangeWatchedFilesNotification.type, { watchers }) : undefined;
    }).catch(() => undefined);
  };

  documents.onDidOpen((event) => bomOnDisk.delete(event.document.uri));
  documents.onDidChangeContent((change) => validate(change.document));
  documents.onDidSave((event) => {
    const uri = event.document.uri;
    const before = bomOnDisk.get(uri);
    if (before === undefined) return;
    const now = fileStartsWithBom(uri);
    if (now === before) return;
    bomOnDisk.set(uri, now);
    service.forget(uri);
    validate(event.document);
  });

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
    bomOnDisk.delete(event.document.uri);
    if (watchOutsideFiles) watchOutside(event.document.uri, new Set());
    void connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
  });

  // The custom messages are method names with their types (common/protocol.ts); the server, which
  // carries vscode-jsonrpc anyway, makes them the library's typed message types.
  const onCustomRequest = <P, R>(request: CustomRequest<P, R>, handler: RequestHandler<P, R, void>) => connection.onRequest(new RequestType<P, R, void>(request.method), handler);
  const onCustomNotification = <P>(notification: CustomNotification<P>, handler: (params: P) => void) => connection.onNotification(new NotificationType<P>(notification.method), handler);

  onCustomNotification(SettingsNotification, (settings) => {
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

  onCustomRequest(SessionsRequest, (params) => {
    const document = scriptFor(params.uri, params.text);
    const sessions = document ? service.sessions(document) : [];
    if (document && !documents.get(params.uri)) service.forget(params.uri);
    return { sessions };
  });

  onCustomRequest(SessionPlanRequest, (params) => {
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
  const path = filePath(uri);
  return path === undefined ? undefined : basename(path);
}

/** The path of a `file:` URI, or undefined for another URI. */
function filePath(uri: string): string | undefined {
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}

/** Whether a path is the folder or inside it. */
function isInside(path: string, folder: string): boolean {
  const from = relative(folder, path);
  return from === '' || (from !== '..' && !from.startsWith(`..${sep}`) && !isAbsolute(from));
}

/**
 * A glob pattern for a file name: the name itself, or every file of its folder when the name holds
 * a glob's special characters (more changes reported than needed is harmless: the scripts
 * concerned are picked by name).
 */
function globFor(name: string): string {
  return /[*?[\]{},!]/.test(name) ? '*' : name;
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

// Started directly (dist/server.js, by the extension over IPC, or by `node dist/server.js --stdio`,
// which gets the same stdio transport as `smtpwb lsp --stdio`).
if (require.main === module) {
  startServer(process.argv.includes('--stdio') ? connectStdio() : createConnection(ProposedFeatures.all));
}
