/**
 * The cap on problems per line (server/src/problemsPerLine.ts) is applied to what the editor and
 * `smtpwb lint` both publish: a line of 10,000 undefined `{{x}}` references reaches the editor over
 * LSP as ten diagnostics and one that counts the rest, and `smtpwb lint --json` reports exactly the
 * same diagnostics (code, severity, range and message).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROBLEMS_PER_LINE } from '../../server/src/problemsPerLine';
import { startLspClient, type LspClient, type PublishedDiagnostics } from '../support/lspClient';
import { runCli, scratch } from '../cli/cliProcess';

type Diagnostic = PublishedDiagnostics['diagnostics'][number];

/** What both front ends must agree on, one line per diagnostic, in order. */
function shown(diagnostics: Diagnostic[]): string[] {
  return diagnostics.map((d) => `${String(d.code)} ${d.severity ?? 1} ${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character} ${d.message}`);
}

const references = 10_000;
const text = `### Flood\nEHLO a.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<${'{{x}}'.repeat(references)}@example.test>\nQUIT\n`;
const work = scratch('smtpwb-lsp-cap-');
let client: LspClient;

before(async () => {
  client = await startLspClient(pathToFileURL(work.dir).toString());
});

after(async () => {
  await client.stop();
  work.remove();
});

test('a line of 10,000 undefined references: the editor gets the first ten and one for the rest, as smtpwb lint does', async () => {
  const path = join(work.dir, 'flood.smtp');
  writeFileSync(path, text);
  const uri = pathToFileURL(path).toString();
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'smtp', version: 1, text } });
  const { diagnostics } = await client.nextDiagnostics(uri, 1);
  const undefinedNames = diagnostics.filter((d) => d.code === 'smtp-variable-undefined');
  assert.equal(undefinedNames.length, PROBLEMS_PER_LINE + 1, shown(diagnostics).slice(0, 20).join('\n'));
  const line = text.split('\n')[3];
  const first = line.indexOf('{{x}}');
  for (const [i, d] of undefinedNames.slice(0, PROBLEMS_PER_LINE).entries()) {
    assert.deepEqual(d.range, { start: { line: 3, character: first + 5 * i + 2 }, end: { line: 3, character: first + 5 * i + 3 } });
  }
  const summary = undefinedNames[PROBLEMS_PER_LINE];
  assert.deepEqual(summary.range, { start: { line: 3, character: first + 5 * PROBLEMS_PER_LINE + 2 }, end: { line: 3, character: first + 5 * (references - 1) + 3 } });
  assert.equal(summary.severity, undefinedNames[0].severity);
  assert.match(summary.message, /9,990 more problems/);
  assert.ok(diagnostics.length < 50, `${diagnostics.length} diagnostics`);

  // No quick fix stands for the ten thousand: the summary offers none.
  const actions = (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range: summary.range,
    context: { diagnostics: [summary] },
  })) as Array<{ diagnostics?: Diagnostic[] }>;
  assert.ok(actions.every((a) => !a.diagnostics?.some((d) => d.message === summary.message)), JSON.stringify(actions));

  const cli = await runCli(['lint', '--json', path], { cwd: work.dir });
  assert.equal(cli.code, 1, cli.stderr);
  const [result] = JSON.parse(cli.stdout) as Array<{ diagnostics: Diagnostic[] }>;
  assert.deepEqual(shown(result.diagnostics), shown(diagnostics));
});
