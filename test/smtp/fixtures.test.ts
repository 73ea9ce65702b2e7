/**
 * Data-driven linter tests: every folder under test/smtp/fixtures holds `script.smtp` and
 * `expected.json`, the diagnostics the linter must report (codes and ranges, never message text).
 * Set UPDATE_FIXTURES=1 to rewrite expected.json from the current output (then review the diff).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LanguageService } from '../../server/src/languageService';
import { smtpProblemDefinition } from '../../server/src/smtp/smtpProblems';
import { repoPath } from './repoRoot';

const root = repoPath('test', 'smtp', 'fixtures');

interface Expected {
  code: string;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
}

/** Files the scripts name are looked up next to each fixture's script.smtp, as the CLI and the server do. */
const service = new LanguageService({ fileExists: (path) => existsSync(path) && statSync(path).isFile() });

for (const name of readdirSync(root).sort()) {
  const dir = join(root, name);
  const scriptPath = join(dir, 'script.smtp');
  if (!existsSync(scriptPath)) continue;
  test(`fixture ${name}`, () => {
    const text = readFileSync(scriptPath, 'utf8');
    const document = TextDocument.create(pathToFileURL(scriptPath).toString(), 'smtp', 1, text);
    const actual: Expected[] = service.problems(document).map((p) => ({
      code: p.code,
      range: { start: document.positionAt(p.range.start), end: document.positionAt(p.range.end) },
    }));
    const expectedPath = join(dir, 'expected.json');
    if (process.env.UPDATE_FIXTURES === '1') writeFileSync(expectedPath, JSON.stringify(actual, null, 2) + '\n');
    const expected = JSON.parse(readFileSync(expectedPath, 'utf8')) as Expected[];
    const key = (e: Expected) => `${e.code} ${e.range.start.line}:${e.range.start.character}-${e.range.end.line}:${e.range.end.character}`;
    assert.deepEqual(actual.map(key).sort(), expected.map(key).sort());
    for (const e of actual) assert.ok(smtpProblemDefinition(e.code) ?? e.code.startsWith('eml-'), `code ${e.code} is in the catalogue`);
  });
}
