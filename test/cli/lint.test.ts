/**
 * `smtpwb lint` as a process: a folder with nothing to lint is a usage error (a mistyped path
 * cannot pass CI), other extensions need --language, capture server rules files are linted by
 * their name as the editor does, a symbolic link loop lints each file once, and what a file holds
 * never reaches the terminal as control characters.
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
  assert.match(empty.stderr, /holds no \.smtp, \.eml or rules file \(capture-rules\.json, \*\.capture-rules\.json\)/);
  const other = await runCli(['lint', folder('other', { 'notes.txt': 'x', 'sub/readme.md': 'y', 'rules.json': '{"rules": []}' })], { cwd: work.dir });
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
  assert.match(refused.stderr, /neither \.smtp nor \.eml nor a rules file \(capture-rules\.json, \*\.capture-rules\.json\); say how to read it with --language smtp or --language eml/);
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

/** The LSP position (0-based line and UTF-16 column) of the first `needle` in `text`. */
function positionOf(text: string, needle: string): { line: number; character: number } {
  const at = text.indexOf(needle);
  assert.ok(at >= 0, needle);
  const before = text.slice(0, at).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
}

interface JsonDiagnostic {
  code: string;
  severity: number;
  message: string;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  codeDescription?: { href: string };
}

const RULES_WITH_ERROR = [
  '{',
  '  "version": 1,',
  '  "rules": [',
  '    { "name": "hang up on QUIT", "when": { "command": "QUIT", "sender": "hang@*" }, "close": true },',
  '    { "name": "ok", "when": { "command": "RCPT" }, "reply": "250 ok" },',
  '    { "name": "never", "when": { "command": "MAIL", "recipient": "a@*" }, "reply": "550 5.1.1 No" }',
  '  ]',
  '}',
  '',
].join('\n');

test('a capture server rules file is linted by its name, with the rules checker\'s codes, severities and positions; errors exit 1', async () => {
  const dir = folder('rules', { 'capture-rules.json': RULES_WITH_ERROR });
  const text = await runCli(['lint', join(dir, 'capture-rules.json')], { cwd: dir });
  assert.equal(text.code, 1, text.stdout + text.stderr);
  const reply = positionOf(RULES_WITH_ERROR, '"250 ok"');
  const mail = positionOf(RULES_WITH_ERROR, '"MAIL"');
  assert.equal(
    text.stdout,
    `capture-rules.json:${reply.line + 1}:${reply.character + 1} error rules-reply-code a rule refuses or defers: use a 4xx or 5xx code, not 250\n` +
      `capture-rules.json:${mail.line + 1}:${mail.character + 1} warning rules-condition-command "recipient" is never known at MAIL, so this rule never fires (it is known at EHLO, HELO, STARTTLS, AUTH, RCPT, DATA, BDAT, MESSAGE, RSET, NOOP, VRFY, QUIT)\n`,
  );
  assert.match(text.stderr, /^1 file linted: 1 error, 1 other diagnostic\n$/);
  const json = await runCli(['lint', '--json', 'capture-rules.json'], { cwd: dir });
  assert.equal(json.code, 1, json.stderr);
  const [result] = JSON.parse(json.stdout) as Array<{ file: string; diagnostics: JsonDiagnostic[] }>;
  assert.equal(result.file, 'capture-rules.json');
  assert.deepEqual(
    result.diagnostics.map((d) => [d.code, d.severity, d.range]),
    [
      ['rules-reply-code', 1, { start: reply, end: { line: reply.line, character: reply.character + '"250 ok"'.length } }],
      ['rules-condition-command', 2, { start: mail, end: { line: mail.line, character: mail.character + '"MAIL"'.length } }],
    ],
  );
  assert.match(result.diagnostics[0].codeDescription?.href ?? '', /rfc5321#section-4\.2\.1$/);
  // The codes are listed with the others.
  const codes = await runCli(['lint', '--list-codes'], { cwd: dir });
  assert.match(codes.stdout, /^rules-condition-command\twarning\t/m);
});

test('rules files are found in folders by name (capture-rules.json, *.capture-rules.json); warnings alone exit 0, broken JSON exits 1', async () => {
  const dir = folder('rules-tree', {
    'capture-rules.json': '{"version": 1, "rules": [{"when": {"command": "QUIT", "sender": "hang@*"}, "close": true}]}\n',
    'ci/Staging.Capture-Rules.json': '{"version": 1, "rules": [{"name": "a", "when": {"command": "RCPT"}, "reply": "550 x"}, {"name": "a", "when": {"command": "MAIL"}, "reply": "550 y"}]}\n',
    'other.json': '{"rules": "not a rules file"}\n',
    'session.smtp': 'EHLO a.example.test\nQUIT\n',
  });
  const clean = await runCli(['lint', dir, '--json'], { cwd: work.dir });
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  const results = JSON.parse(clean.stdout) as Array<{ file: string; diagnostics: JsonDiagnostic[] }>;
  assert.deepEqual(results.map((r) => r.file).sort(), ['rules-tree/capture-rules.json', 'rules-tree/ci/Staging.Capture-Rules.json', 'rules-tree/session.smtp']);
  assert.deepEqual(results.find((r) => r.file === 'rules-tree/capture-rules.json')?.diagnostics, []);
  assert.deepEqual(results.find((r) => r.file === 'rules-tree/ci/Staging.Capture-Rules.json')?.diagnostics.map((d) => [d.code, d.severity]), [['rules-duplicate-name', 2]]);
  const broken = folder('rules-broken', { 'x.capture-rules.json': '{"rules": [' });
  const r = await runCli(['lint', join(broken, 'x.capture-rules.json')], { cwd: work.dir });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^rules-broken\/x\.capture-rules\.json:1:\d+ error rules-json-syntax /);
  // A rules file cannot be read as a script by mistake, but --language still reads every file as it says.
  const asSmtp = await runCli(['lint', '--language', 'smtp', join(broken, 'x.capture-rules.json')], { cwd: work.dir });
  assert.doesNotMatch(asSmtp.stdout, /rules-json-syntax/);
  // In a folder, --language is for scripts and messages: a rules file found by its name stays one.
  const mixed = folder('rules-mixed', { 'm.eml': 'From: a@example.test\r\nTo: b@example.test\r\nSubject: x\r\nDate: Sun, 6 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n\r\nbody\r\n', 'capture-rules.json': '{"version": 1, "rules": []}\n' });
  const asEml = await runCli(['lint', '--language', 'eml', mixed, '--json'], { cwd: work.dir });
  const mixedResults = JSON.parse(asEml.stdout) as Array<{ file: string; diagnostics: JsonDiagnostic[] }>;
  assert.deepEqual(mixedResults.find((x) => x.file === 'rules-mixed/capture-rules.json')?.diagnostics, [], asEml.stdout);
  assert.equal(asEml.code, 0, asEml.stdout + asEml.stderr);
});
