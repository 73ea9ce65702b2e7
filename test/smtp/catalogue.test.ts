/** The `.smtp` problem catalogue: every code documented, linked, and used by some fixture or test. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { SMTP_PROBLEMS } from '../../server/src/smtp/smtpProblems';
import { repoPath } from './repoRoot';

test('docs/diagnostics.md lists every .smtp code with its severity', () => {
  const doc = readFileSync(repoPath('docs', 'diagnostics.md'), 'utf8');
  for (const d of SMTP_PROBLEMS) assert.ok(doc.includes(`| \`${d.code}\` | ${d.severity} |`), d.code);
});

test('every code has a link to an RFC section or to the language definition', () => {
  for (const d of SMTP_PROBLEMS) assert.match(d.link, /^https:\/\/(www\.rfc-editor\.org\/rfc\/rfc\d+(#section-[\d.]+)?|github\.com\/smtp-workbench\/smtp-workbench\/blob\/main\/docs\/smtp-language\.md#[\w-]+)$/, d.code);
  assert.equal(new Set(SMTP_PROBLEMS.map((d) => d.code)).size, SMTP_PROBLEMS.length, 'codes are unique');
});

test('every .smtp code is triggered by at least one fixture case', () => {
  const used = new Set<string>();
  for (const name of readdirSync(repoPath('test', 'smtp', 'fixtures'))) {
    const file = repoPath('test', 'smtp', 'fixtures', name, 'expected.json');
    if (existsSync(file)) for (const e of JSON.parse(readFileSync(file, 'utf8')) as Array<{ code: string }>) used.add(e.code);
  }
  assert.deepEqual(SMTP_PROBLEMS.map((d) => d.code).filter((c) => !used.has(c)), []);
});
