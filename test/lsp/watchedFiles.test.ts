/**
 * The files a script names are checked again when they change on disk: the server registers a
 * watcher for created and deleted files with a client that can register watchers dynamically, and
 * on `workspace/didChangeWatchedFiles` it publishes new diagnostics for the open scripts concerned,
 * with no edit of the script.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { startLspClient, type LspClient } from '../support/lspClient';

interface Published {
  uri: string;
  version?: number;
  diagnostics: Array<{ code?: string | number }>;
}

interface Registration {
  method: string;
  registerOptions?: { watchers?: Array<{ globPattern: unknown; kind?: number }> };
}

let client: LspClient;
let connection: MessageConnection;
const registrations: Registration[] = [];
let dir: string;

/** The next diagnostics published for the URI (those already received first). */
function nextDiagnostics(uri: string): Promise<Published> {
  return client.nextDiagnostics(uri);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-lsp-watch-'));
  // A client that can register watchers dynamically, as VS Code's can.
  client = await startLspClient(pathToFileURL(dir).toString(), {
    capabilities: { workspace: { didChangeWatchedFiles: { dynamicRegistration: true } } },
    beforeInitialize: (c) =>
      c.onRequest('client/registerCapability', (params: { registrations: Registration[] }) => {
        registrations.push(...params.registrations);
        return null;
      }),
  });
  connection = client.connection;
});

after(async () => {
  await client.stop();
  rmSync(dir, { recursive: true, force: true });
});

const missing = (p: Published): number => p.diagnostics.filter((d) => d.code === 'smtp-file-missing').length;

test('the server registers a watcher for created and deleted files', async () => {
  for (let i = 0; i < 50 && registrations.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  const watchers = registrations.find((r) => r.method === 'workspace/didChangeWatchedFiles')?.registerOptions?.watchers ?? [];
  assert.ok(watchers.length > 0, JSON.stringify(registrations));
  // WatchKind.Create (1) and WatchKind.Delete (4).
  assert.ok(watchers.every((w) => ((w.kind ?? 7) & 5) === 5), JSON.stringify(watchers));
});

test('smtp-file-missing goes when the named file is created and comes back when it is deleted, with no edit', async () => {
  const scriptUri = pathToFileURL(join(dir, 'files.smtp')).toString();
  const messagePath = join(dir, 'message.eml');
  const messageUri = pathToFileURL(messagePath).toString();
  await connection.sendNotification('textDocument/didOpen', {
    textDocument: { uri: scriptUri, languageId: 'smtp', version: 1, text: 'EHLO client.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA < message.eml\nQUIT\n' },
  });
  assert.equal(missing(await nextDiagnostics(scriptUri)), 1);

  writeFileSync(messagePath, 'Subject: hi\r\n\r\nbody\r\n');
  await connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: messageUri, type: 1 }] });
  const created = await nextDiagnostics(scriptUri);
  assert.equal(created.version, 1);
  assert.equal(missing(created), 0, JSON.stringify(created.diagnostics));

  unlinkSync(messagePath);
  await connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: messageUri, type: 3 }] });
  assert.equal(missing(await nextDiagnostics(scriptUri)), 1);

  // With the file back, a change to a file the script does not name leaves it alone: nothing is
  // published for it until it is closed.
  writeFileSync(messagePath, 'Subject: hi\r\n\r\nbody\r\n');
  await connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: messageUri, type: 1 }] });
  assert.equal(missing(await nextDiagnostics(scriptUri)), 0);
  await connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(join(dir, 'other.txt')).toString(), type: 1 }] });
  await new Promise((r) => setTimeout(r, 500));
  await connection.sendNotification('textDocument/didClose', { textDocument: { uri: scriptUri } });
  const closed = await nextDiagnostics(scriptUri);
  assert.equal(closed.diagnostics.length, 0, 'the next publication is the one for closing');
});
