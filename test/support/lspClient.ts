/**
 * A minimal real LSP client over stdio for tests and benchmarks: it spawns the built server
 * (`node dist/cli.js lsp --stdio`), speaks JSON-RPC with vscode-jsonrpc, and records every
 * publishDiagnostics notification with the time it arrived.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../peers/require';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';

export interface PublishedDiagnostics {
  uri: string;
  version?: number;
  diagnostics: Array<{ code?: string | number; range: { start: { line: number; character: number }; end: { line: number; character: number } }; severity?: number; message: string }>;
  receivedAt: number;
}

export interface LspClient {
  connection: MessageConnection;
  process: ChildProcess;
  /** Resolves with the next diagnostics published for the URI (optionally for a given version). */
  nextDiagnostics(uri: string, version?: number): Promise<PublishedDiagnostics>;
  stop(): Promise<void>;
  stderr(): string;
}

/**
 * The folder of the built bundles: the one the build wrote the tests for (scripts/build.mjs defines
 * SMTPWB_DIST), else dist/ of the checkout this file is in.
 */
export function distDir(): string {
  return process.env.SMTPWB_DIST ?? join(repoRoot(), 'dist');
}

/** What a test may add to the client: capabilities to announce, and handlers to set before `initialize`. */
export interface LspClientOptions {
  capabilities?: object;
  /** Called with the connection before `initialize`, to answer the server's own requests. */
  beforeInitialize?: (connection: MessageConnection) => void;
}

export async function startLspClient(rootUri = 'file:///tmp', options: LspClientOptions = {}): Promise<LspClient> {
  const child = spawn(process.execPath, [join(distDir(), 'cli.js'), 'lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  const waiters: Array<{ uri: string; version?: number; resolve: (d: PublishedDiagnostics) => void }> = [];
  const published: PublishedDiagnostics[] = [];
  connection.onNotification('textDocument/publishDiagnostics', (params: Omit<PublishedDiagnostics, 'receivedAt'>) => {
    const entry = { ...params, receivedAt: performance.now() };
    const index = waiters.findIndex((w) => w.uri === params.uri && (w.version === undefined || w.version === params.version));
    if (index >= 0) waiters.splice(index, 1)[0].resolve(entry);
    else published.push(entry);
  });
  options.beforeInitialize?.(connection);
  connection.listen();
  await connection.sendRequest('initialize', { processId: process.pid, rootUri, capabilities: options.capabilities ?? {}, initializationOptions: { externalVariables: [] } });
  await connection.sendNotification('initialized', {});
  return {
    connection,
    process: child,
    stderr: () => stderr,
    nextDiagnostics(uri, version) {
      const index = published.findIndex((p) => p.uri === uri && (version === undefined || p.version === version));
      if (index >= 0) return Promise.resolve(published.splice(index, 1)[0]);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no diagnostics for ${uri} v${version ?? '*'} within 10 s; server stderr: ${stderr}`)), 10_000);
        waiters.push({ uri, version, resolve: (d) => { clearTimeout(timer); resolve(d); } });
      });
    },
    async stop() {
      try {
        await Promise.race([connection.sendRequest('shutdown'), new Promise((r) => setTimeout(r, 2000))]);
        await connection.sendNotification('exit');
      } catch {
        // The server may already be gone; killing it below is enough.
      }
      connection.dispose();
      if (child.exitCode === null) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 2000);
          child.once('exit', () => { clearTimeout(timer); resolve(); });
        });
      }
    },
  };
}
