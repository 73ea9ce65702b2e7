// The test harness extension. The in-editor tests install it beside SMTP Workbench in code-server
// (never in a user's editor). It does two things:
// - The command "SMTP Workbench Harness: Run In-Editor Suite" (smtpwbHarness.runSuite) runs the
//   suite of test/editor/suite/ in the extension host and writes the report to results.json.
// - When $SMTPWB_HARNESS_DIR is set (codeServer.ts sets it), it listens on a loopback port and
//   writes {port, token} to control-<pid>.json there, so that a test can ask the extension host to run a
//   command, list diagnostics, open a file, etc. (see harnessClient.ts for the protocol).
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join } from 'node:path';
import * as vscode from 'vscode';
import { runSuite } from '../suite/index';
import { formatReport } from '../suite/miniTest';

/** A JSON request to the control channel. */
interface HarnessRequest {
  op: string;
  command?: string;
  args?: unknown[];
  path?: string;
  id?: string;
  filter?: string;
}

/** Writes a file atomically so that a reader never sees half of it. */
function writeJsonAtomic(path: string, value: unknown): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(value, null, 2));
  renameSync(temp, path);
}

/** Resolves a path relative to the first workspace folder. */
function resolveUri(path: string): vscode.Uri {
  if (isAbsolute(path)) return vscode.Uri.file(path);
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (folder === undefined) throw new Error(`no workspace folder to resolve ${path} against`);
  return vscode.Uri.joinPath(folder.uri, path);
}

/** Turns {"$uri": "/path"} markers in command arguments into URIs. */
function reviveArgs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reviveArgs);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.$uri === 'string' && Object.keys(record).length === 1) return resolveUri(record.$uri);
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, reviveArgs(v)]));
  }
  return value;
}

/** Converts a command's result to plain JSON: URIs become {"$uri": fsPath}, cycles and functions go. */
function toJson(value: unknown): unknown {
  const seen = new WeakSet<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (v === null || v === undefined) return null;
    if (typeof v === 'function' || typeof v === 'symbol') return undefined;
    if (typeof v === 'bigint') return v.toString();
    if (typeof v !== 'object') return v;
    if (v instanceof vscode.Uri) return { $uri: v.scheme === 'file' ? v.fsPath : v.toString() };
    if (seen.has(v) || depth > 8) return '[…]';
    seen.add(v);
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) {
      const item = walk((v as Record<string, unknown>)[key], depth + 1);
      if (item !== undefined) out[key] = item;
    }
    return out;
  };
  return walk(value, 0);
}

/** The severity names used in the JSON answers. */
const SEVERITY = ['error', 'warning', 'information', 'hint'] as const;

/** Answers one control request. */
async function handle(request: HarnessRequest, ioDir: string): Promise<unknown> {
  switch (request.op) {
    case 'ping':
      return {
        trusted: vscode.workspace.isTrusted,
        uiKind: vscode.env.uiKind === vscode.UIKind.Web ? 'web' : 'desktop',
        remoteName: vscode.env.remoteName ?? null,
        version: vscode.version,
        folders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
        extensions: vscode.extensions.all.filter((e) => !e.id.startsWith('vscode.')).map((e) => ({ id: e.id, active: e.isActive })),
      };
    case 'command': {
      if (request.command === undefined) throw new Error('command: missing "command"');
      const result = await vscode.commands.executeCommand(request.command, ...(reviveArgs(request.args ?? []) as unknown[]));
      return toJson(result);
    }
    case 'commands': {
      const all = await vscode.commands.getCommands(true);
      const filter = request.filter !== undefined ? new RegExp(request.filter, 'i') : undefined;
      return all.filter((c) => filter === undefined || filter.test(c)).sort();
    }
    case 'extension': {
      const extension = vscode.extensions.getExtension(request.id ?? '');
      if (extension === undefined) return { installed: false, active: false };
      if (request.args?.[0] === 'activate') await extension.activate();
      return { installed: true, active: extension.isActive, version: String(extension.packageJSON.version ?? ''), path: extension.extensionPath };
    }
    case 'requireTimed': {
      // A bare require of a module in this extension host (bench/activation's reference): the
      // module is evaluated afresh and nothing is activated.
      if (request.path === undefined) throw new Error('requireTimed: missing "path"');
      const load = createRequire(__filename);
      const id = load.resolve(request.path);
      delete load.cache[id];
      const started = performance.now();
      load(id);
      return { ms: performance.now() - started };
    }
    case 'openFile': {
      if (request.path === undefined) throw new Error('openFile: missing "path"');
      const document = await vscode.workspace.openTextDocument(resolveUri(request.path));
      await vscode.window.showTextDocument(document, { preview: false });
      return { path: document.uri.fsPath, languageId: document.languageId };
    }
    case 'activeEditor': {
      const editor = vscode.window.activeTextEditor;
      return editor === undefined ? null : { path: editor.document.uri.fsPath, languageId: editor.document.languageId, text: editor.document.getText() };
    }
    case 'diagnostics': {
      const entries =
        request.path !== undefined
          ? ([[resolveUri(request.path), vscode.languages.getDiagnostics(resolveUri(request.path))]] as [vscode.Uri, vscode.Diagnostic[]][])
          : vscode.languages.getDiagnostics();
      return entries.flatMap(([uri, list]) =>
        list.map((d) => ({
          path: uri.fsPath,
          line: d.range.start.line + 1,
          severity: SEVERITY[d.severity],
          code: typeof d.code === 'object' ? String(d.code.value) : d.code === undefined ? null : String(d.code),
          source: d.source ?? null,
          message: d.message,
        })),
      );
    }
    case 'codeLenses': {
      if (request.path === undefined) throw new Error('codeLenses: missing "path"');
      const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', resolveUri(request.path), 100);
      return (lenses ?? []).map((lens) => ({
        line: lens.range.start.line + 1,
        title: lens.command?.title ?? null,
        command: lens.command?.command ?? null,
      }));
    }
    case 'suite': {
      const report = await runSuite('code-server', request.filter !== undefined ? new RegExp(request.filter, 'i') : undefined);
      writeJsonAtomic(join(ioDir, 'results.json'), report);
      return report;
    }
    default:
      throw new Error(`unknown op "${request.op}"`);
  }
}

/** Starts the control channel and publishes its port and token in control.json. */
function startControlServer(ioDir: string, context: vscode.ExtensionContext): void {
  const token = randomBytes(16).toString('hex');
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.headers['x-harness-token'] !== token) {
        reply(403, { error: 'bad token' });
        return;
      }
      let request: HarnessRequest;
      try {
        request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as HarnessRequest;
      } catch {
        reply(400, { error: 'the body is not JSON' });
        return;
      }
      handle(request, ioDir).then(
        (result) => reply(200, { result: result ?? null }),
        (error: unknown) => reply(500, { error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') return;
    // Every browser window has its own extension host, so each writes its own file; a test talks
    // to the one that appeared after it opened its page (see Workbench.harness()).
    writeJsonAtomic(join(ioDir, `control-${process.pid}.json`), { port: address.port, token, pid: process.pid, startedAt: Date.now() });
  });
  context.subscriptions.push({ dispose: () => server.close() });
}

/** Activates the harness. */
export function activate(context: vscode.ExtensionContext): void {
  const ioDir = process.env.SMTPWB_HARNESS_DIR ?? context.globalStorageUri.fsPath;
  mkdirSync(ioDir, { recursive: true });
  context.subscriptions.push(
    vscode.commands.registerCommand('smtpwbHarness.runSuite', async () => {
      const report = await runSuite('code-server');
      writeJsonAtomic(join(ioDir, 'results.json'), report);
      console.log(formatReport(report));
      const summary = `In-editor suite: ${report.passed} passed, ${report.failed} failed (${join(ioDir, 'results.json')})`;
      if (report.ok) void vscode.window.showInformationMessage(summary);
      else void vscode.window.showErrorMessage(summary);
      return report;
    }),
  );
  if (process.env.SMTPWB_HARNESS_DIR !== undefined) startControlServer(ioDir, context);
}

/** Nothing to clean up beyond the subscriptions. */
export function deactivate(): void {
  // The control server is closed through context.subscriptions.
}
