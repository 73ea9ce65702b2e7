/**
 * Runs every fixture under test/eml/fixtures: the problems of `message.eml` must equal
 * `expected.json`. Fixtures named after a code (`date-weekday` for `eml-date-weekday`) must report
 * that code; `clean-*` and `ok-*` fixtures must report no errors or warnings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { EML_PROBLEMS } from '../../server/src/eml/emlProblems';
import { repoPath } from '../smtp/repoRoot';
import { compareExpected, ExpectedProblem, fixtureNames, lintFixture, readFixture } from './fixtureSupport';

const names = fixtureNames();
const codes = new Set(EML_PROBLEMS.map((d) => d.code));
const seenCodes = new Set<string>();

for (const name of names) {
  test(`fixture ${name}`, () => {
    const { expectedPath } = readFixture(name);
    assert.ok(existsSync(expectedPath), `${name} has no expected.json`);
    const expected = (JSON.parse(readFileSync(expectedPath, 'utf8')) as ExpectedProblem[]).sort(compareExpected);
    const { actual, problems } = lintFixture(name);
    assert.deepEqual(actual, expected);
    for (const p of problems) {
      assert.ok(codes.has(p.code), `${p.code} is not in the catalogue`);
      seenCodes.add(p.code);
    }
    if (codes.has(`eml-${name}`)) {
      assert.ok(problems.some((p) => p.code === `eml-${name}`), `${name} must report eml-${name}`);
    }
    if (name.startsWith('clean-') || name.startsWith('ok-')) {
      const loud = problems.filter((p) => p.severity === 'error' || p.severity === 'warning');
      assert.deepEqual(loud.map((p) => `${p.code}: ${p.message}`), [], `${name} must lint without errors or warnings`);
    }
  });
}

test('every catalogued code has a fixture that triggers it and clean fixtures that do not', () => {
  const missing = [...codes].filter((c) => !names.includes(c.slice(4)));
  assert.deepEqual(missing, [], 'codes without a fixture named after them');
  const clean = names.filter((n) => n.startsWith('clean-'));
  assert.ok(clean.length >= 5);
  for (const code of codes) {
    if (code === 'eml-line-over-78') continue;
    const quiet = clean.filter((n) => !lintFixture(n).problems.some((p) => p.code === code));
    assert.ok(quiet.length > 0, `${code} fires in every clean fixture`);
  }
});

test('every catalogue entry has a summary, a severity and an RFC link', () => {
  for (const d of EML_PROBLEMS) {
    assert.match(d.code, /^eml-[a-z0-9-]+$/);
    assert.ok(d.summary.length > 10, d.code);
    assert.match(d.link, /^https:\/\/www\.rfc-editor\.org\/rfc\/rfc\d+#section-[\d.]+$/, d.code);
  }
  assert.equal(new Set(EML_PROBLEMS.map((d) => d.code)).size, EML_PROBLEMS.length, 'duplicate codes');
});

test('docs/eml-diagnostics.md lists every code', () => {
  const doc = readFileSync(repoPath('docs', 'eml-diagnostics.md'), 'utf8');
  const missing = EML_PROBLEMS.filter((d) => !doc.includes(`| \`${d.code}\` | ${d.severity} |`)).map((d) => d.code);
  assert.deepEqual(missing, [], 'codes missing from the table of docs/eml-diagnostics.md, or listed with another severity');
});
