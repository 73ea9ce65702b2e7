/**
 * What keeps a session from running is the same in the CodeLens, the Test Explorer, the editor's
 * Run and `smtpwb run`: the script's own errors, not advice about the message body.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LanguageService } from '../../server/src/languageService';

function open(text: string): { service: LanguageService; document: TextDocument } {
  return { service: new LanguageService(), document: TextDocument.create('file:///gate.smtp', 'smtp', 1, text) };
}

test('a message body without From is advice: the session still runs', () => {
  const { service, document } = open('### probe\nEHLO a.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\nSubject: test\n\nhi\n.\nQUIT\n');
  assert.ok(service.problems(document).some((p) => p.code === 'eml-header-missing' && p.severity === 'error'));
  assert.equal(service.sessions(document)[0].errors, 0);
  assert.deepEqual(service.sessionPlan(document, { uri: document.uri, index: 0 }).errors, []);
});

test('an error among the file variables counts for every session, in the CodeLens too', () => {
  const { service, document } = open('@server = smtp://{{host}}:2525\n\n### s\nCONNECT {{server}}\nEHLO a.example.test\nQUIT\n');
  assert.equal(service.sessions(document)[0].errors, 1);
  assert.equal(service.sessionPlan(document, { uri: document.uri, index: 0 }).errors.length, 1);
});

test('AUTH to a target known only at run time is left to the engine, which refuses cleartext there', () => {
  const { service, document } = open('### s\nCONNECT {{server}}\nEHLO a.example.test\nAUTH PLAIN user {{$secret pw}}\nQUIT\n');
  service.setExternalVariables(['server']);
  assert.ok(!service.problems(document).some((p) => p.code === 'smtp-security-cleartext-auth'));
});

test('an order error under an EXPECT that asks for a refusal is a warning: a deliberate test of the server', () => {
  const { service, document } = open('### s\nCONNECT smtp://127.0.0.1:25\nMAIL FROM:<a@example.test>\nEXPECT 503\nEHLO a.example.test\nQUIT\n');
  const order = service.problems(document).find((p) => p.code === 'smtp-order-mail-before-helo');
  assert.equal(order?.severity, 'warning');
});

// The same gate, asked of the CLI process: `smtpwb run --dry-run --json` reports the decisions of
// the one run preparation (client/src/runs/runPreparation.ts), which takes the language service's
// per-session answer as its only judge.
function cliGate(text: string, args: string[] = []): { code: number | null; sessions: Array<{ name?: string; status: string; problems?: Array<{ code: string }> }> } {
  const dir = mkdtempSync(join(tmpdir(), 'smtpwb-gate-'));
  try {
    const file = join(dir, 'gate.smtp');
    writeFileSync(file, text);
    const cli = resolve(process.env.SMTPWB_DIST ?? 'dist', 'cli.js');
    assert.ok(existsSync(cli), `${cli} is not built: run node scripts/build.mjs`);
    const run = spawnSync(process.execPath, [cli, 'run', file, '--dry-run', '--json', ...args], { encoding: 'utf8', cwd: dir, env: { PATH: process.env.PATH, HOME: dir } });
    return { code: run.status, sessions: (JSON.parse(run.stdout) as { sessions: Array<{ name?: string; status: string; problems?: Array<{ code: string }> }> }).sessions };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('smtpwb run agrees: advice about the body does not block, a file-variable error blocks, errors elsewhere do not', () => {
  const advice = cliGate('### probe\nEHLO a.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\nSubject: test\n\nhi\n.\nQUIT\n');
  assert.equal(advice.code, 0);
  assert.equal(advice.sessions[0].status, 'ready');
  const fileVariable = cliGate('@server = smtp://{{host}}:2525\n\n### s\nCONNECT {{server}}\nEHLO a.example.test\nQUIT\n');
  assert.equal(fileVariable.code, 2);
  assert.equal(fileVariable.sessions[0].status, 'blocked');
  const two = '### good\n# @name good\nEHLO a.example.test\nQUIT\n\n### bad\n# @name bad\nEHLO\n';
  const { service, document } = open(two);
  assert.deepEqual(service.sessions(document).map((s) => s.errors), [0, 1]);
  const good = cliGate(two, ['--session', 'good']);
  assert.equal(good.code, 0);
  assert.deepEqual(good.sessions.map((s) => s.status), ['ready']);
  const all = cliGate(two, ['--all']);
  assert.equal(all.code, 2);
  assert.deepEqual(all.sessions.map((s) => [s.name, s.status, s.problems?.map((p) => p.code)]), [
    ['good', 'ready', undefined],
    ['bad', 'blocked', ['smtp-syntax-argument']],
  ]);
});
