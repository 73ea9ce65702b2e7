// `smtpwb run` end to end: real .smtp scripts parsed by the language service, run against Exim,
// with exit codes, the swaks-style transcript, --json, --junit, --env, --var, secrets from
// SMTPWB_SECRET_*, --repeat and --parallel.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startExim, type EximPeer } from '../peers/exim';
import { runCommand } from '../../client/src/cli/runCommand';
import { captureCli, type CapturedRun } from '../support/cliCapture';
import { politeSmtp, rawServer, type RawServer } from './rawServer';

let exim: EximPeer;
let dir: string;
let local: RawServer;

before(async () => {
  exim = await startExim();
  dir = mkdtempSync(join(tmpdir(), 'engine-cli-'));
  local = await rawServer((c) => void politeSmtp(c));
});
after(async () => {
  await local?.close();
  await exim?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const SECRET = 'pass';

function run(args: string[], env: Record<string, string> = {}): Promise<CapturedRun> {
  return captureCli(runCommand, args, { env: { SMTPWB_SECRET_SMTP_PASSWORD: SECRET, ...env }, cwd: dir });
}

function script(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const submission = (): string => `@server = smtp://127.0.0.1:${exim.port}
@ca = ${exim.caPath}

### Submit with STARTTLS and AUTH
# @name submit
CONNECT {{server}}
TLS ca={{ca}} sni=mail.example.test
EHLO client.example.test
STARTTLS
EHLO client.example.test
AUTH PLAIN user {{$secret smtp-password}}
MAIL FROM:<alice@example.test>
RCPT TO:<reject@example.test>
EXPECT 550 5.1.1
RCPT TO:<bob@example.test>
DATA
From: Alice <alice@example.test>
Subject: cli test {{marker}}

..one dot
.
EXPECT 250
QUIT

### Expectation that fails
# @name fails
CONNECT {{server}}
EHLO client.example.test
MAIL FROM:<alice@example.test>
RCPT TO:<reject@example.test>
EXPECT 250
QUIT
`;

test('run: a passing session prints the transcript with markers and exits 0', async () => {
  const file = script('submit.smtp', submission());
  const r = await run([file, '--session', 'submit', '--var', 'marker=A1']);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, / -> EHLO client\.example\.test/);
  assert.match(r.out, /<- {2}250-mail\.example\.test/);
  assert.match(r.out, /=== TLS started \(STARTTLS, RFC 3207\)/);
  assert.match(r.out, / -> AUTH PLAIN \*{8}/);
  assert.match(r.out, /PASS Submit with STARTTLS and AUTH \[submit\]/);
  assert.ok(!r.out.includes(SECRET) || !/\bpass\b/.test(r.out.replace(/PASS/g, '')), 'the secret is masked');
  assert.ok(!r.out.includes(Buffer.from(`\0user\0${SECRET}`).toString('base64')));
  let got: Buffer | undefined;
  for (let i = 0; i < 500 && !got; i++) {
    got = (await exim.messages()).find((m) => m.includes('cli test A1'));
    if (!got) await new Promise((res) => setTimeout(res, 10));
  }
  assert.ok(got);
  assert.ok(got.toString().includes('\r\n.one dot\r\n'));
});

test('run: a failed expectation exits 1; --all runs every session; --junit writes XML', async () => {
  const file = script('submit2.smtp', submission());
  const junit = join(dir, 'report.xml');
  const r = await run([file, '--all', '--var', 'marker=B2', '--junit', junit]);
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /FAIL Expectation that fails \[fails\]: expectation: .*expected 250, got 550/);
  assert.match(r.out, /1 of 2 sessions passed/);
  const xml = readFileSync(junit, 'utf8');
  assert.match(xml, /<testsuite name="[^"]*submit2\.smtp" tests="2" failures="1" errors="0"/);
  assert.match(xml, /<failure message="line \d+: RCPT TO:&lt;reject@example\.test&gt;: expected 250, got 550/);
  assert.ok(!xml.includes(Buffer.from(`\0user\0${SECRET}`).toString('base64')));
});

test('run --json prints one object with steps, replies, transcript and TLS; no secret in any byte', async () => {
  const file = script('submit3.smtp', submission());
  const r = await run([file, '--session', 'submit', '--var', 'marker=C3', '--json']);
  assert.equal(r.code, 0, r.out + r.err);
  const json = JSON.parse(r.out) as {
    ok: boolean;
    sessions: Array<{ name: string; ok: boolean; steps: Array<{ line: number; command: string; reply: { code: number; enhanced: string | null; lines: string[] } | null; ok: boolean }>; transcript: Array<{ t: number; dir: string; text: string }>; tls: { verified: boolean; protocol: string } }>;
  };
  assert.equal(json.ok, true);
  const s = json.sessions[0];
  assert.equal(s.name, 'submit');
  const rcpt = s.steps.find((x) => x.command === 'RCPT TO:<reject@example.test>');
  assert.deepEqual([rcpt?.reply?.code, rcpt?.reply?.enhanced, rcpt?.ok], [550, '5.1.1', true]);
  assert.equal(s.tls.verified, true);
  assert.ok(s.transcript.length > 10);
  for (const needle of [Buffer.from(`\0user\0${SECRET}`).toString('base64'), Buffer.from(SECRET).toString('base64')]) assert.ok(!r.out.includes(needle), needle);
});

test('run: script errors and undefined variables exit 2 before anything is sent', async () => {
  const bad = script('bad.smtp', `CONNECT smtp://127.0.0.1:${exim.port}\nEHLO x\nDATA\nSubject: x\n\nbody\n.\n`);
  const r = await run([bad]);
  assert.equal(r.code, 2);
  assert.match(r.err, /error smtp-order-data-before-rcpt/);
  assert.match(r.err, /nothing was sent/);
  const undef = script('undef.smtp', `CONNECT {{nowhere}}\nEHLO x\n`);
  const u = await run([undef]);
  assert.equal(u.code, 2, u.out + u.err);
  const missingSecret = script('secret.smtp', `CONNECT smtps://127.0.0.1:${exim.tlsPort}\nTLS verify=off\nEHLO x\nAUTH PLAIN user {{$secret other-secret}}\n`);
  const m = await run([missingSecret]);
  assert.equal(m.code, 2);
  assert.match(m.err, /SMTPWB_SECRET_OTHER_SECRET/);
  assert.equal((await run(['--bogus'])).code, 2);
});

test('run: connection failures exit 3', async () => {
  const refused = script('refused.smtp', 'CONNECT smtp://127.0.0.1:1\nEHLO x\n');
  const r = await run([refused, '--timeout', '2']);
  assert.equal(r.code, 3, r.out + r.err);
  assert.match(r.out, /\*\*\* could not connect to 127\.0\.0\.1:1/);
});

test('run: a session without CONNECT goes to an embedded capture server, or to the one --local names', async () => {
  const file = script('local.smtp', 'EHLO client.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\nSubject: embedded\n\n..dot\n.\nQUIT\n');
  const inbox = join(dir, 'inbox');
  const r = await run([file, '--inbox', inbox]);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /embedded capture server on 127\.0\.0\.1:\d+/);
  const stored = /stored a message from <a@example\.test> to <b@example\.test>: (\S+\.eml)/.exec(r.out);
  assert.ok(stored, r.out);
  assert.equal(readFileSync(stored[1], 'utf8'), 'Subject: embedded\r\n\r\n.dot\r\n');
  const json = await run([file, '--json']);
  assert.equal(json.code, 0, json.out + json.err);
  const parsed = JSON.parse(json.out) as { inbox?: Array<{ path: string; to: string[] }> };
  assert.deepEqual(parsed.inbox?.map((m) => m.to), [['b@example.test']]);
  const ok = await run([file, '--local', `127.0.0.1:${local.port}`]);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.doesNotMatch(ok.out, /embedded capture server/);
});

test('run --env reads smtp.environments from .vscode/settings.json ($shared, then the environment, then --var)', async () => {
  const ws = join(dir, 'ws');
  mkdirSync(join(ws, '.vscode'), { recursive: true });
  writeFileSync(
    join(ws, '.vscode', 'settings.json'),
    `{
  // JSONC comments are allowed here.
  "smtp.environments": {
    "$shared": { "from": "alice@example.test" },
    "test": { "server": "smtp://127.0.0.1:${exim.port}", "rcpt": "reject@example.test" },
  },
}`,
  );
  const file = join(ws, 'env.smtp');
  writeFileSync(file, 'CONNECT {{server}}\nEHLO x\nMAIL FROM:<{{from}}>\nRCPT TO:<{{rcpt}}>\nEXPECT 550\nQUIT\n');
  const r = await run([file, '--env', 'test']);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, / -> MAIL FROM:<alice@example\.test>/);
  const overridden = await run([file, '--env', 'test', '--var', 'rcpt=bob@example.test']);
  assert.equal(overridden.code, 1, overridden.out);
  assert.equal((await run([file, '--env', 'nope'])).code, 2);
});

test('run --repeat and --parallel report messages per second', async () => {
  const file = script(
    'bulk.smtp',
    `# @pipelining\nCONNECT smtp://127.0.0.1:${exim.port}\nEHLO x\nMAIL FROM:<a@example.test>\nRCPT TO:<bob@example.test>\nDATA\nSubject: bulk\n\nx\n.\nQUIT\n`,
  );
  const r = await run([file, '--repeat', '10']);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /10\/10 transactions, [\d.]+ msgs\/s/);
  const p = await run([file, '--repeat', '5', '--parallel', '3', '--json']);
  assert.equal(p.code, 0, p.out + p.err);
  const json = JSON.parse(p.out) as { sessions: Array<{ parallel: { copies: number; messages: number; perSecond: number } }> };
  assert.equal(json.sessions[0].parallel.copies, 3);
  assert.equal(json.sessions[0].parallel.messages, 15);
  assert.ok(json.sessions[0].parallel.perSecond > 0);
});
