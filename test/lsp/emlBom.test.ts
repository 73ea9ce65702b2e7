/**
 * A UTF-8 byte-order mark at the start of an `.eml` file is reported in the editor although VS Code
 * removes it from the document's text: for a `file:` document the language server reads the first
 * bytes of the file when it is opened and saved, and the `.eml` linter's one BOM check reports
 * `eml-bom` from that fact. `smtpwb lint` of the same file reports the same problem (code,
 * severity, range, message). An `untitled:` document has no file, and is not looked up.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startLspClient, type LspClient, type PublishedDiagnostics } from '../support/lspClient';
import { runCli, scratch } from '../cli/cliProcess';

type Diagnostic = PublishedDiagnostics['diagnostics'][number];

const message = 'From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@example.test>\r\nSubject: hi\r\n\r\nhello\r\n';
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function shown(diagnostics: Diagnostic[]): string[] {
  return diagnostics.map((d) => `${String(d.code)} ${d.severity ?? 1} ${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character} ${d.message}`);
}

const boms = (diagnostics: Diagnostic[]) => diagnostics.filter((d) => d.code === 'eml-bom');

const work = scratch('smtpwb-lsp-bom-');
let client: LspClient;

before(async () => {
  client = await startLspClient(pathToFileURL(work.dir).toString(), { capabilities: { textDocument: { synchronization: { didSave: true } } } });
});

after(async () => {
  await client.stop();
  work.remove();
});

test('a file that starts with a BOM, opened without it as VS Code does: eml-bom at 0:0, the same as smtpwb lint', async () => {
  const path = join(work.dir, 'bom.eml');
  writeFileSync(path, Buffer.concat([BOM, Buffer.from(message)]));
  const uri = pathToFileURL(path).toString();
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'eml', version: 1, text: message } });
  const editor = (await client.nextDiagnostics(uri, 1)).diagnostics;
  assert.deepEqual(boms(editor).map((d) => d.range), [{ start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }]);
  assert.equal(boms(editor)[0].severity, 1);
  // The text has no mark to remove, so no edit is offered that would delete the first character.
  const actions = (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    context: { diagnostics: boms(editor) },
  })) as Array<{ title: string }>;
  assert.deepEqual(actions.map((a) => a.title), []);
  await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });

  const cli = await runCli(['lint', '--json', path], { cwd: work.dir });
  assert.equal(cli.code, 1, cli.stderr);
  const [result] = JSON.parse(cli.stdout) as Array<{ diagnostics: Diagnostic[] }>;
  assert.deepEqual(shown(boms(result.diagnostics)), shown(boms(editor)));
  assert.deepEqual(shown(result.diagnostics), shown(editor), 'the whole lint agrees');
});

test('saving the file without the BOM clears eml-bom, saving it with one brings it back', async () => {
  const path = join(work.dir, 'saved.eml');
  writeFileSync(path, Buffer.concat([BOM, Buffer.from(message)]));
  const uri = pathToFileURL(path).toString();
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'eml', version: 1, text: message } });
  assert.equal(boms((await client.nextDiagnostics(uri, 1)).diagnostics).length, 1);
  writeFileSync(path, message);
  await client.connection.sendNotification('textDocument/didSave', { textDocument: { uri } });
  assert.equal(boms((await client.nextDiagnostics(uri, 1)).diagnostics).length, 0);
  writeFileSync(path, Buffer.concat([BOM, Buffer.from(message)]));
  await client.connection.sendNotification('textDocument/didSave', { textDocument: { uri } });
  assert.equal(boms((await client.nextDiagnostics(uri, 1)).diagnostics).length, 1);
  await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
});

test('a document whose text keeps the BOM (a client that does not remove it) gets one eml-bom, with its quick fix', async () => {
  const path = join(work.dir, 'kept.eml');
  writeFileSync(path, Buffer.concat([BOM, Buffer.from(message)]));
  const uri = pathToFileURL(path).toString();
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'eml', version: 1, text: `\uFEFF${message}` } });
  const editor = (await client.nextDiagnostics(uri, 1)).diagnostics;
  assert.deepEqual(boms(editor).map((d) => d.range), [{ start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }]);
  const actions = (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    context: { diagnostics: boms(editor) },
  })) as Array<{ title: string; edit?: { changes?: Record<string, Array<{ range: unknown; newText: string }>> } }>;
  assert.deepEqual(actions.map((a) => a.title), ['Remove the byte-order mark']);
  assert.deepEqual(actions[0].edit?.changes?.[uri], [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } }, newText: '' }]);
  await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
});

test('an untitled document and a file without a BOM get no eml-bom', async () => {
  const untitled = 'untitled:Untitled-1';
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri: untitled, languageId: 'eml', version: 1, text: message } });
  assert.deepEqual(boms((await client.nextDiagnostics(untitled, 1)).diagnostics), []);
  const path = join(work.dir, 'plain.eml');
  writeFileSync(path, message);
  const uri = pathToFileURL(path).toString();
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'eml', version: 1, text: message } });
  assert.deepEqual(boms((await client.nextDiagnostics(uri, 1)).diagnostics), []);
});
