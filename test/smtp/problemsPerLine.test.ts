/**
 * One line cannot flood the editor with diagnostics: of the problems the language service publishes
 * (the parser's and the analyser's alike), at most PROBLEMS_PER_LINE of one code are listed for one
 * line, then one more problem of that code that counts the rest and covers them
 * (docs/smtp-language.md#diagnostics). The work stays linear in the line's length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LanguageService } from '../../server/src/languageService';
import { toDiagnostics } from '../../server/src/diagnostics';
import { PROBLEMS_PER_LINE } from '../../server/src/problemsPerLine';

function lint(text: string): { problems: ReturnType<LanguageService['problems']>; ms: number } {
  const service = new LanguageService();
  const document = TextDocument.create('file:///tmp/flood.smtp', 'smtp', 1, text);
  const started = performance.now();
  const problems = service.problems(document);
  toDiagnostics(problems, document);
  return { problems, ms: performance.now() - started };
}

test('a RAW line with 100,000 unknown escapes: the first ones listed, one problem for the rest, quickly', (t) => {
  const payload = '\\q '.repeat(100_000);
  const text = `EHLO a.example.test\nRAW ${payload}\n`;
  const { problems, ms } = lint(text);
  t.diagnostic(`lint and diagnostics: ${ms.toFixed(0)} ms`);
  const escapes = problems.filter((p) => p.code === 'smtp-raw-escape');
  assert.equal(escapes.length, PROBLEMS_PER_LINE + 1);
  const lineStart = text.indexOf('RAW ') + 4;
  for (const [i, p] of escapes.slice(0, PROBLEMS_PER_LINE).entries()) assert.deepEqual(p.range, { start: lineStart + 3 * i, end: lineStart + 3 * i + 2 });
  const summary = escapes[PROBLEMS_PER_LINE];
  assert.equal(summary.severity, 'error');
  assert.deepEqual(summary.range, { start: lineStart + 3 * PROBLEMS_PER_LINE, end: lineStart + 3 * 99_999 + 2 });
  assert.match(summary.message, /99,990 more/);
  assert.ok(problems.length < 50, `${problems.length} problems`);
  assert.ok(ms < 5000, `${ms.toFixed(0)} ms`);
});

test('the cap is per line and per code: each line keeps its own first problems', () => {
  const line = `RAW ${'\\q'.repeat(PROBLEMS_PER_LINE + 5)}`;
  const { problems } = lint(`EHLO a.example.test\n${line}\n${line}\nRAW ${'\\q'.repeat(PROBLEMS_PER_LINE)}\n`);
  const escapes = problems.filter((p) => p.code === 'smtp-raw-escape');
  // Two capped lines (the first ones and a summary each) and one line with exactly the limit.
  assert.equal(escapes.length, 2 * (PROBLEMS_PER_LINE + 1) + PROBLEMS_PER_LINE);
  assert.equal(escapes.filter((p) => /more/.test(p.message)).length, 2);
  assert.ok(escapes.filter((p) => /more/.test(p.message)).every((p) => /5 more/.test(p.message)));
});

test('other floods of one kind on one line are capped too: EXPECT words, variable references, body lines', () => {
  const expectLine = `EXPECT ${'x '.repeat(5000)}`;
  const references = `NOOP ${'{{}}'.repeat(5000)}`;
  const body = `DATA\n${'{{1}}'.repeat(5000)}\n${'{{2}}'.repeat(3)}\n.`;
  const { problems } = lint(`EHLO a.example.test\n${expectLine}\n${references}\n${body}\n`);
  const byCode = (code: string) => problems.filter((p) => p.code === code).length;
  assert.equal(byCode('smtp-expect-syntax'), PROBLEMS_PER_LINE + 1);
  // The NOOP line's empty references and the first body line's names, capped line by line; the
  // second body line's three are all listed.
  assert.equal(byCode('smtp-variable-syntax'), 2 * (PROBLEMS_PER_LINE + 1) + 3);
});

test('the analyser\'s problems are capped too: 10,000 undefined references on one line', (t) => {
  const text = `EHLO a.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<${'{{x}}'.repeat(10_000)}@example.test>\n`;
  const { problems, ms } = lint(text);
  t.diagnostic(`lint and diagnostics: ${ms.toFixed(0)} ms`);
  const undefinedNames = problems.filter((p) => p.code === 'smtp-variable-undefined');
  assert.equal(undefinedNames.length, PROBLEMS_PER_LINE + 1);
  const first = text.indexOf('{{x}}');
  for (const [i, p] of undefinedNames.slice(0, PROBLEMS_PER_LINE).entries()) assert.deepEqual(p.range, { start: first + 5 * i + 2, end: first + 5 * i + 3 });
  const summary = undefinedNames[PROBLEMS_PER_LINE];
  assert.equal(summary.severity, undefinedNames[0].severity);
  assert.deepEqual(summary.range, { start: first + 5 * PROBLEMS_PER_LINE + 2, end: first + 5 * 9_999 + 3 });
  assert.match(summary.message, /9,990 more problems/);
  assert.equal(summary.fixes, undefined, 'a problem that stands for many offers no fix of one');
  assert.ok(problems.length < 50, `${problems.length} problems`);
});

test('a line with exactly PROBLEMS_PER_LINE problems of a code keeps them all, and other codes on the line count apart', () => {
  const text = `EHLO a.example.test\nRAW ${'{{x}}\\q'.repeat(PROBLEMS_PER_LINE)}\n`;
  const { problems } = lint(text);
  assert.equal(problems.filter((p) => p.code === 'smtp-variable-undefined').length, PROBLEMS_PER_LINE);
  assert.equal(problems.filter((p) => p.code === 'smtp-raw-escape').length, PROBLEMS_PER_LINE);
  assert.ok(problems.every((p) => !/more problem/.test(p.message)));
});

test('a .eml message is capped by the same rule: a body line of 40 replacement characters', () => {
  const service = new LanguageService();
  const text = `From: a@example.test\r\nTo: b@example.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@example.test>\r\nSubject: hi\r\n\r\n${'\uFFFD'.repeat(40)}\r\n${'\uFFFD'.repeat(3)}\r\n`;
  const document = TextDocument.create('file:///tmp/flood.eml', 'eml', 1, text);
  const replaced = service.problems(document).filter((p) => p.code === 'eml-replacement-char');
  // The first body line's ten and one for its other thirty; the second line's three.
  assert.equal(replaced.length, PROBLEMS_PER_LINE + 1 + 3);
  const first = text.indexOf('\uFFFD');
  assert.deepEqual(replaced[PROBLEMS_PER_LINE].range, { start: first + PROBLEMS_PER_LINE, end: first + 40 });
  assert.match(replaced[PROBLEMS_PER_LINE].message, /30 more problems/);
});
