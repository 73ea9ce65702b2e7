/**
 * LSP round trips over stdio against the built server (`smtpwb lsp --stdio`): diagnostics,
 * hover, completion, outline, folding, quick fixes and the custom session-plan request.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startLspClient, type LspClient } from '../support/lspClient';

const uri = 'file:///tmp/roundtrip.smtp';
const script = [
  '@from = alice@example.test',
  '',
  '### First',
  '# @name first',
  'EHLO client.example.test',
  'MAIL FROM:<{{from}}>',
  'RCPT TO:<bob@example.test>',
  'DATA',
  'Subject: hi',
  '',
  '.leading dot',
  '.',
  'EXPECT 250',
  'QUIT',
  '',
  '### Second',
  'RCPT TO:<{{nobody}}>',
].join('\n');

let client: LspClient;

before(async () => {
  client = await startLspClient();
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'smtp', version: 1, text: script } });
});

after(async () => {
  await client.stop();
});

test('diagnostics arrive with codes, ranges, severities and links', async () => {
  const published = await client.nextDiagnostics(uri, 1);
  const codes = published.diagnostics.map((d) => `${String(d.code)}@${d.range.start.line}:${d.range.start.character}`).sort();
  assert.ok(codes.includes('smtp-data-single-dot@10:0'), codes.join(', '));
  assert.ok(codes.includes('smtp-variable-undefined@16:11'), codes.join(', '));
  assert.ok(codes.includes('smtp-order-rcpt-before-mail@16:0'), codes.join(', '));
  const undefinedVariable = published.diagnostics.find((d) => d.code === 'smtp-variable-undefined')!;
  assert.equal(undefinedVariable.severity, 1);
  assert.match(JSON.stringify(undefinedVariable), /docs\/smtp-language\.md#variables/);
});

test('an incremental edit republishes for the new version', async () => {
  await client.connection.sendNotification('textDocument/didChange', {
    textDocument: { uri, version: 2 },
    contentChanges: [{ range: { start: { line: 16, character: 0 }, end: { line: 16, character: 0 } }, text: 'MAIL FROM:<a@example.test>\n' }],
  });
  const published = await client.nextDiagnostics(uri, 2);
  assert.ok(!published.diagnostics.some((d) => d.code === 'smtp-order-rcpt-before-mail'));
  assert.ok(published.diagnostics.some((d) => d.code === 'smtp-order-mail-before-helo'));
});

test('hover on a command shows its RFC section', async () => {
  const hover = (await client.connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line: 4, character: 1 } })) as { contents: { value: string } } | null;
  assert.ok(hover, 'a hover');
  assert.match(hover.contents.value, /5321/);
});

test('completion after EHLO offers MAIL FROM', async () => {
  const items = (await client.connection.sendRequest('textDocument/completion', { textDocument: { uri }, position: { line: 5, character: 0 } })) as Array<{ label: string }>;
  assert.ok(items.some((i) => /MAIL/.test(i.label)), items.map((i) => i.label).join(', '));
});

test('outline lists sessions with their commands, folding covers sessions and bodies', async () => {
  const symbols = (await client.connection.sendRequest('textDocument/documentSymbol', { textDocument: { uri } })) as Array<{ name: string; children: Array<{ name: string }> }>;
  const first = symbols.find((s) => s.name === 'First');
  assert.ok(first, JSON.stringify(symbols.map((s) => s.name)));
  assert.deepEqual(first.children.map((c) => c.name).slice(0, 4), ['EHLO', 'MAIL', 'RCPT', 'DATA']);
  const folds = (await client.connection.sendRequest('textDocument/foldingRange', { textDocument: { uri } })) as Array<{ startLine: number; endLine: number }>;
  assert.ok(folds.some((f) => f.startLine === 2), JSON.stringify(folds));
  assert.ok(folds.some((f) => f.startLine === 7 && f.endLine === 11), JSON.stringify(folds));
});

test('the quick fix doubles a single leading dot', async () => {
  const range = { start: { line: 10, character: 0 }, end: { line: 10, character: 1 } };
  const actions = (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range,
    context: { diagnostics: [{ range, code: 'smtp-data-single-dot', message: '' }] },
  })) as Array<{ title: string; edit: { changes: Record<string, Array<{ newText: string; range: typeof range }>> } }>;
  const fix = actions.find((a) => /dot/i.test(a.title));
  assert.ok(fix, JSON.stringify(actions));
  assert.deepEqual(fix.edit.changes[uri], [{ range: { start: range.start, end: range.start }, newText: '.' }]);
});

test('the custom request gives the session plan under a line', async () => {
  const result = (await client.connection.sendRequest('smtp/sessionPlan', { uri, line: 5 })) as { plan?: { title: string; name?: string; steps: Array<{ kind: string }> }; errors: unknown[] };
  assert.equal(result.plan?.title, 'First');
  assert.equal(result.plan?.name, 'first');
  assert.deepEqual(result.plan?.steps.map((s) => s.kind), ['command', 'command', 'command', 'data', 'command']);
  const sessions = (await client.connection.sendRequest('smtp/sessions', { uri })) as { sessions: Array<{ title: string; hasExpectations: boolean; errors: number }> };
  assert.deepEqual(sessions.sessions.map((s) => [s.title, s.hasExpectations]), [['First', true], ['Second', false]]);
  assert.ok(sessions.sessions[1].errors > 0);
});

test('the selected environment defines variables: no diagnostic, and the hover shows the value (masked when secret)', async () => {
  const envUri = 'file:///tmp/environment.smtp';
  const text = '### Env\nCONNECT {{server}}\nEHLO client.example.test\nAUTH PLAIN user {{api-token}}\n';
  await client.connection.sendNotification('smtp/settings', { externalVariables: ['server', 'api-token'], environment: { server: 'smtp://staging.example.test:2525', 'api-token': 'hunter2' } });
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri: envUri, languageId: 'smtp', version: 1, text } });
  const published = await client.nextDiagnostics(envUri, 1);
  assert.ok(!published.diagnostics.some((d) => d.code === 'smtp-variable-undefined'), JSON.stringify(published.diagnostics));
  const hover = (await client.connection.sendRequest('textDocument/hover', { textDocument: { uri: envUri }, position: { line: 1, character: 11 } })) as { contents: { value: string } } | null;
  assert.match(hover?.contents.value ?? '', /staging\.example\.test/);
  const secret = (await client.connection.sendRequest('textDocument/hover', { textDocument: { uri: envUri }, position: { line: 3, character: 20 } })) as { contents: { value: string } } | null;
  assert.ok(secret, 'a hover on the token');
  assert.doesNotMatch(secret.contents.value, /hunter2/);
  const items = (await client.connection.sendRequest('textDocument/completion', { textDocument: { uri: envUri }, position: { line: 1, character: 10 } })) as Array<{ label: string; detail?: string }>;
  assert.ok(items.some((i) => i.label === 'server' && /environment/.test(i.detail ?? '')), JSON.stringify(items.map((i) => i.label)));
});

test('the server checks the files a script names, relative to the script', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smtpwb-lsp-files-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    const fileUri = pathToFileURL(join(dir, 'files.smtp')).toString();
    const text = 'TLS ca=ca.pem\nTLS cert=client.pem key=client-key.pem\nEHLO client.example.test\n';
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri: fileUri, languageId: 'smtp', version: 1, text } });
    const published = await client.nextDiagnostics(fileUri, 1);
    const missing = published.diagnostics.filter((d) => d.code === 'smtp-file-missing').map((d) => `${d.range.start.line}:${d.range.start.character}`);
    assert.deepEqual(missing, ['1:9', '1:24']);
    await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri: fileUri } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a RAW line with 100,000 unknown escapes publishes a short list promptly', async () => {
  const floodUri = 'file:///tmp/flood.smtp';
  const started = performance.now();
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri: floodUri, languageId: 'smtp', version: 1, text: `EHLO a.example.test\nRAW ${'\\q'.repeat(100_000)}\n` } });
  const published = await client.nextDiagnostics(floodUri, 1);
  const escapes = published.diagnostics.filter((d) => d.code === 'smtp-raw-escape');
  assert.equal(escapes.length, 11);
  assert.match(escapes[10].message, /99,990 more/);
  assert.ok(performance.now() - started < 5000, `${(performance.now() - started).toFixed(0)} ms`);
  await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri: floodUri } });
});
