/**
 * Files a script names outside the workspace are watched too: with a client that supports relative
 * patterns in file watchers (LSP 3.17, as VS Code does), the server registers a watcher for each
 * such file (its folder as the base, its name as the pattern), replaces the registration when the
 * set changes and drops it when the script is closed; a change reported for the file updates
 * `smtp-file-missing` with no edit of the script.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startLspClient, type LspClient, type PublishedDiagnostics } from '../support/lspClient';
import { scratch } from '../cli/cliProcess';

interface Watcher {
  globPattern: string | { baseUri: string; pattern: string };
  kind?: number;
}

interface Registration {
  id: string;
  method: string;
  registerOptions?: { watchers?: Watcher[] };
}

const workspace = scratch('smtpwb-lsp-inside-');
const elsewhere = scratch('smtpwb-lsp-outside-');
const active = new Map<string, Registration>();
let client: LspClient;

before(async () => {
  client = await startLspClient(pathToFileURL(workspace.dir).toString(), {
    capabilities: { workspace: { didChangeWatchedFiles: { dynamicRegistration: true, relativePatternSupport: true } } },
    beforeInitialize: (c) => {
      c.onRequest('client/registerCapability', (params: { registrations: Registration[] }) => {
        for (const r of params.registrations) active.set(r.id, r);
        return null;
      });
      c.onRequest('client/unregisterCapability', (params: { unregisterations: Array<{ id: string }> }) => {
        for (const r of params.unregisterations) active.delete(r.id);
        return null;
      });
    },
  });
});

after(async () => {
  await client.stop();
  workspace.remove();
  elsewhere.remove();
});

/** The relative-pattern watchers of the registrations in force. */
function outsideWatchers(): Array<{ baseUri: string; pattern: string; kind?: number }> {
  return [...active.values()]
    .filter((r) => r.method === 'workspace/didChangeWatchedFiles')
    .flatMap((r) => r.registerOptions?.watchers ?? [])
    .flatMap((w) => (typeof w.globPattern === 'string' ? [] : [{ ...w.globPattern, kind: w.kind }]));
}

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(condition(), `${what}: ${JSON.stringify([...active.values()])}`);
}

const missing = (p: PublishedDiagnostics): number => p.diagnostics.filter((d) => d.code === 'smtp-file-missing').length;

test('a file named outside the workspace is watched, and its creation and deletion update smtp-file-missing', async () => {
  const scriptUri = pathToFileURL(join(workspace.dir, 'outside.smtp')).toString();
  const messagePath = join(elsewhere.dir, 'message.eml');
  const text = `EHLO client.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA < ${messagePath}\nQUIT\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA < inside.eml\nQUIT\n`;
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri: scriptUri, languageId: 'smtp', version: 1, text } });
  assert.equal(missing(await client.nextDiagnostics(scriptUri, 1)), 2);

  const expected = { baseUri: pathToFileURL(elsewhere.dir).toString(), pattern: 'message.eml', kind: 5 };
  await until('a watcher for the file outside the workspace', () => outsideWatchers().length > 0);
  // Only the file outside: the one inside is seen by the workspace watcher.
  assert.deepEqual(outsideWatchers(), [expected]);

  writeFileSync(messagePath, 'Subject: hi\r\n\r\nbody\r\n');
  await client.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(messagePath).toString(), type: 1 }] });
  assert.equal(missing(await client.nextDiagnostics(scriptUri, 1)), 1);

  unlinkSync(messagePath);
  await client.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(messagePath).toString(), type: 3 }] });
  assert.equal(missing(await client.nextDiagnostics(scriptUri, 1)), 2);

  // An edit that names another file outside replaces the watcher; closing the script drops it.
  const other = join(elsewhere.dir, 'other.eml');
  await client.connection.sendNotification('textDocument/didChange', {
    textDocument: { uri: scriptUri, version: 2 },
    contentChanges: [{ text: text.replace(messagePath, other) }],
  });
  await client.nextDiagnostics(scriptUri, 2);
  await until('the watcher follows the edit', () => outsideWatchers().some((w) => w.pattern === 'other.eml'));
  assert.deepEqual(outsideWatchers(), [{ ...expected, pattern: 'other.eml' }]);
  await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri: scriptUri } });
  await until('no watcher once the script is closed', () => outsideWatchers().length === 0);
});
