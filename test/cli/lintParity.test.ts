/**
 * `smtpwb lint` and the editor decide the same for every `.eml` fixture: the CLI lints the files
 * from disk, the language server (`smtpwb lsp --stdio`, as the editor runs it) gets each file's text
 * as the editor opens it (UTF-8, each ill-formed sequence a U+FFFD: `emlDocumentText`), and both must
 * report the same codes with the same severities at the same ranges, including for messages that
 * are not valid UTF-8.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { emlDocumentText } from '../../server/src/eml/emlService';
import { fixtureNames, fixturesDir } from '../eml/fixtureSupport';
import { startLspClient, type LspClient } from '../support/lspClient';
import { runCli, scratch } from './cliProcess';

interface Finding {
  code?: string | number;
  severity?: number;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
}

function shown(diagnostics: Finding[]): string[] {
  return diagnostics.map((d) => `${String(d.code)} ${d.severity ?? 1} ${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character}`).sort();
}

const work = scratch('smtpwb-cli-lint-parity-');
let client: LspClient;

before(async () => {
  client = await startLspClient();
});

after(async () => {
  await client.stop();
  work.remove();
});

test('smtpwb lint reports what the language server reports for every .eml fixture', async () => {
  const names = fixtureNames();
  const cli = await runCli(['lint', '--json', fixturesDir()], { cwd: work.dir });
  assert.ok(cli.code === 0 || cli.code === 1, cli.stderr);
  const results = JSON.parse(cli.stdout) as Array<{ file: string; diagnostics: Finding[] }>;
  const byName = new Map(results.map((r) => [r.file.split(/[\\/]/).slice(-2, -1)[0], r.diagnostics]));
  assert.deepEqual([...byName.keys()].sort(), names, 'the CLI lints every fixture once');
  const differences: string[] = [];
  for (const name of names) {
    const path = join(fixturesDir(), name, 'message.eml');
    const uri = pathToFileURL(path).toString();
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'eml', version: 1, text: emlDocumentText(readFileSync(path)) } });
    const editor = shown((await client.nextDiagnostics(uri, 1)).diagnostics);
    await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
    const lint = shown(byName.get(name) ?? []);
    if (JSON.stringify(editor) !== JSON.stringify(lint)) differences.push(`${name}:\n  editor ${editor.join(', ')}\n  lint   ${lint.join(', ')}`);
  }
  assert.deepEqual(differences, []);
});

test('a message that is not valid UTF-8 gets the editor\'s codes from smtpwb lint, and its exit code', async () => {
  const cases: Array<[fixture: string, expected: string[], exit: number]> = [
    ['utf8-invalid', ['eml-utf8-invalid 1 4:11-4:13'], 1],
    ['utf8-invalid-mixed-bytes', ['eml-utf8-header 2 1:12-1:13', 'eml-utf8-invalid 1 1:14-1:15'], 1],
    ['replacement-char-nul-body', ['eml-nul 1 6:5-6:6', 'eml-replacement-char 2 6:11-6:12', 'eml-replacement-char 2 6:12-6:13'], 1],
  ];
  for (const [fixture, expected, exit] of cases) {
    const cli = await runCli(['lint', '--json', join(fixturesDir(), fixture, 'message.eml')], { cwd: work.dir });
    const [result] = JSON.parse(cli.stdout) as Array<{ diagnostics: Finding[] }>;
    assert.deepEqual(shown(result.diagnostics), expected, fixture);
    assert.equal(cli.code, exit, `${fixture}: ${cli.stderr}`);
  }
});
