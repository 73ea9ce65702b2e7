/**
 * `smtpwb lint` as a process: a folder with nothing to lint is a usage error (a mistyped path
 * cannot pass CI), other extensions need --language, a symbolic link loop lints each file once,
 * and what a file holds never reaches the terminal as control characters.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, scratch } from './cliProcess';

const work = scratch('smtpwb-cli-lint-');
after(() => work.remove());

function folder(name: string, files: Record<string, string | Buffer> = {}): string {
  const dir = join(work.dir, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

test('lint of an empty folder, or of one without .smtp or .eml files, exits 2', async () => {
  const empty = await runCli(['lint', folder('empty')], { cwd: work.dir });
  assert.equal(empty.code, 2, empty.stderr);
  assert.match(empty.stderr, /holds no \.smtp or \.eml file/);
  const other = await runCli(['lint', folder('other', { 'notes.txt': 'x', 'sub/readme.md': 'y' })], { cwd: work.dir });
  assert.equal(other.code, 2);
  // One good folder does not hide a mistyped one.
  const mixed = await runCli(['lint', folder('good', { 'a.smtp': 'EHLO a.example.test\nQUIT\n' }), join(work.dir, 'empty')], { cwd: work.dir });
  assert.equal(mixed.code, 2, mixed.stderr);
  assert.match(mixed.stderr, /1 file linted/);
});

test('a file with another extension is refused unless --language says how to read it', async () => {
  const dir = folder('ext', { 'script.txt': 'EHLO\n', 'message.txt': 'Subject: x\n\nbody\n' });
  const refused = await runCli(['lint', join(dir, 'script.txt')], { cwd: work.dir });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /neither \.smtp nor \.eml; say how to read it with --language smtp or --language eml/);
  const asSmtp = await runCli(['lint', '--language', 'smtp', join(dir, 'script.txt')], { cwd: work.dir });
  assert.equal(asSmtp.code, 1, asSmtp.stdout + asSmtp.stderr);
  assert.match(asSmtp.stdout, /smtp-syntax-argument/);
  const asEml = await runCli(['lint', '--language=eml', join(dir, 'message.txt'), '--json'], { cwd: work.dir });
  assert.equal(asEml.code, 1, asEml.stdout + asEml.stderr);
  const json = JSON.parse(asEml.stdout) as Array<{ diagnostics: Array<{ code: string }> }>;
  assert.ok(json[0].diagnostics.some((d) => d.code.startsWith('eml-')));
  const bad = await runCli(['lint', '--language', 'perl', join(dir, 'script.txt')], { cwd: work.dir });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--language must be smtp or eml/);
});

test('a folder with a symbolic link loop is linted once per file', async () => {
  const dir = folder('loop', { 'a.smtp': 'EHLO a.example.test\nQUIT\n', 'sub/b.eml': 'From: a@example.test\nDate: Mon, 23 Nov 2026 04:19:27 +0000\n\nbody\n' });
  symlinkSync('..', join(dir, 'sub', 'up'));
  symlinkSync('.', join(dir, 'self'));
  symlinkSync(join(dir, 'a.smtp'), join(dir, 'again.smtp'));
  const r = await runCli(['lint', dir, dir, '--json'], { cwd: work.dir });
  assert.notEqual(r.code, 2, r.stderr);
  const files = (JSON.parse(r.stdout) as Array<{ file: string }>).map((f) => f.file).sort();
  assert.deepEqual(files, ['loop/a.smtp', 'loop/sub/b.eml']);
});

test('control characters from a file are shown as escapes in lint messages; --json stays exact', async () => {
  const dir = folder('hostile', { 'evil.smtp': Buffer.from('EHLO a\x1b]0;pwned\x07\x1b[2J\x00b\u202e.example.test\nFROB \x1b[31mred\nQUIT\n') });
  const r = await runCli(['lint', join(dir, 'evil.smtp')], { cwd: work.dir });
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  assert.ok(r.stdout.length > 0);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(r.stdout + r.stderr, /[\x00-\x08\x0b-\x1f\x7f\u202e]/);
  const json = await runCli(['lint', join(dir, 'evil.smtp'), '--json'], { cwd: work.dir });
  assert.doesNotThrow(() => JSON.parse(json.stdout));
});
