/**
 * No input makes the parser, the language service or `smtpwb lint` throw or hang: binary data,
 * a 5,000-line script, 1 MB lines, invalid UTF-8 and NUL bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LanguageService } from '../../server/src/languageService';
import { generateScript } from '../../bench/scriptGenerator';
import { distDir } from '../support/lspClient';
import { exercise, prng } from '../fuzz/smtpFuzz';

const random = prng(7);
const binary = Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919 + 13) % 256));
const inputs: Record<string, Buffer> = {
  binary,
  'five-thousand-lines': Buffer.from(generateScript(5000)),
  'one-megabyte-line': Buffer.from(`EHLO ${'a'.repeat(1 << 20)}\nDATA\n${'b'.repeat(1 << 20)}\n.\n`),
  'one-megabyte-variable': Buffer.from(`@v = ${'{{'.repeat(1 << 18)}\nNOOP {{v}}\n`),
  'invalid-utf8': Buffer.concat([Buffer.from('EHLO a.example.test\nMAIL FROM:<'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('@x.test>\n')]),
  nul: Buffer.from('EHLO a\0b.example.test\nRAW \0\\x00\n\0\0\0\nDATA\n\0\n.\n'),
  'only-separators': Buffer.from('###\n'.repeat(5000)),
  'unterminated-everything': Buffer.from('{{\n"\nEXPECT "\nDATA\n'),
};

for (const [name, bytes] of Object.entries(inputs)) {
  test(`the language service survives ${name}`, () => {
    const service = new LanguageService();
    const text = bytes.toString('utf8');
    exercise(service, text, random);
    const document = TextDocument.create('file:///bad.smtp', 'smtp', 1, text);
    assert.ok(Array.isArray(service.problems(document)));
  });
}

test('smtpwb lint survives every bad input and exits 0 or 1, never crashing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smtpwb-bad-'));
  try {
    for (const [name, bytes] of Object.entries(inputs)) {
      const file = join(dir, `${name}.smtp`);
      writeFileSync(file, bytes);
      const run = spawnSync(process.execPath, [join(distDir(), 'cli.js'), 'lint', file, '--json'], { encoding: 'utf8', timeout: 60_000, maxBuffer: 256 << 20 });
      assert.ok(run.status === 0 || run.status === 1, `${name}: exit ${run.status}, signal ${run.signal}, stderr ${run.stderr.slice(0, 500)}`);
      assert.doesNotThrow(() => JSON.parse(run.stdout), `${name}: JSON output`);
    }
  } finally {
    // The suite leaves nothing in the temporary folder (issue 10 §1).
    rmSync(dir, { recursive: true, force: true });
  }
});

test('smtpwb lint exits 2 for a missing file and for usage errors', () => {
  const missing = spawnSync(process.execPath, [join(distDir(), 'cli.js'), 'lint', '/nonexistent/file.smtp'], { encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /cannot read/);
  const usage = spawnSync(process.execPath, [join(distDir(), 'cli.js'), 'lint'], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  const option = spawnSync(process.execPath, [join(distDir(), 'cli.js'), 'lint', '--bogus', 'x.smtp'], { encoding: 'utf8' });
  assert.equal(option.status, 2);
});
