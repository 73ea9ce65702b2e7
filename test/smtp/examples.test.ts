/**
 * The example scripts show every feature of the language and lint clean: no diagnostics at all,
 * except the security probes, which carry only the notes and warnings their probing is about.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { distDir } from '../support/lspClient';
import { repoPath } from './repoRoot';

interface LintResult {
  file: string;
  diagnostics: Array<{ severity: number; code: string }>;
}

test('examples/ lints clean with smtpwb lint', () => {
  const run = spawnSync(process.execPath, [join(distDir(), 'cli.js'), 'lint', repoPath('examples'), '--json'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const results = JSON.parse(run.stdout) as LintResult[];
  assert.ok(results.length >= 15, `${results.length} files`);
  for (const result of results) {
    const errors = result.diagnostics.filter((d) => d.severity === 1);
    assert.deepEqual(errors, [], `${result.file} has errors`);
    if (!result.file.includes('security/')) assert.deepEqual(result.diagnostics, [], `${result.file} has diagnostics`);
    else for (const d of result.diagnostics) assert.match(d.code, /^smtp-security-/, `${result.file}: ${d.code}`);
  }
});
