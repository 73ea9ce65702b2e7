/**
 * Shared helpers of the `.eml` fixture tests: where the fixtures are, how a fixture is read (as the
 * editor and `smtpwb lint` read it, `emlDocumentText`) and linted, and how problems are turned into
 * the `{code, range}` entries of `expected.json` (0-based lines/characters).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Problem } from '../../common/problem';
import { LineIndex, Position } from '../../server/src/eml/lines';
import { lintMessage, LintOptions } from '../../server/src/eml/lint';
import { emlDocumentText, startsWithBom } from '../../server/src/eml/emlService';
import { repoPath } from '../smtp/repoRoot';

export interface ExpectedProblem {
  code: string;
  range: { start: Position; end: Position };
}

/** `test/eml/fixtures`, found from this file's location (see test/smtp/repoRoot.ts). */
export function fixturesDir(): string {
  return repoPath('test', 'eml', 'fixtures');
}

export function fixtureNames(): string[] {
  return readdirSync(fixturesDir(), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

export function readFixture(name: string): { text: string; options: LintOptions; expectedPath: string } {
  const dir = join(fixturesDir(), name);
  // The text the editor and `smtpwb lint` give the language service for the file's bytes.
  const bytes = readFileSync(join(dir, 'message.eml'));
  const text = emlDocumentText(bytes);
  const optionsPath = join(dir, 'options.json');
  const options = existsSync(optionsPath) ? (JSON.parse(readFileSync(optionsPath, 'utf8')) as LintOptions) : {};
  // A byte-order mark is not in the text; the language server reads it from the file (`fileStartsWithBom`).
  if (startsWithBom(bytes)) options.fileStartsWithBom = true;
  return { text, options, expectedPath: join(dir, 'expected.json') };
}

export function toExpected(text: string, problems: Problem[]): ExpectedProblem[] {
  const index = new LineIndex(text);
  return problems
    .map((p) => ({ code: p.code, range: { start: index.positionAt(p.range.start), end: index.positionAt(p.range.end) } }))
    .sort(compareExpected);
}

export function compareExpected(a: ExpectedProblem, b: ExpectedProblem): number {
  return a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character || a.code.localeCompare(b.code) || a.range.end.line - b.range.end.line || a.range.end.character - b.range.end.character;
}

export function lintFixture(name: string): { actual: ExpectedProblem[]; problems: Problem[]; text: string } {
  const { text, options } = readFixture(name);
  const problems = lintMessage(text, options);
  return { actual: toExpected(text, problems), problems, text };
}
