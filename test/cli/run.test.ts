/**
 * `smtpwb run` as a process: what it refuses before sending anything, what it leaves behind, how
 * it ends on Ctrl+C, `--dns-server` for `CONNECT mx:` (against Knot), and `{{$prompt NAME}}` with
 * and without a terminal.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKnot, type KnotPeer } from '../peers/knot';
import { politeSmtp, rawServer, type RawServer } from '../engine/rawServer';
import { cliPath, entries, runCli, scratch, waitFor } from './cliProcess';

const work = scratch('smtpwb-cli-run-');
let polite: RawServer;
let knot: KnotPeer;

before(async () => {
  polite = await rawServer((c) => void politeSmtp(c));
  knot = await startKnot({
    zones: {
      'example.test': `$TTL 300
@     IN SOA ns1 hostmaster 2026010101 3600 600 86400 300
@     IN NS  ns1
ns1   IN A   127.0.0.1
@     IN MX  10 mail
mail  IN A   127.0.0.1
`,
    },
  });
});
after(async () => {
  await polite?.close();
  await knot?.stop();
  work.remove();
});

function script(name: string, text: string): string {
  const path = join(work.dir, name);
  writeFileSync(path, text);
  return path;
}

/** A private temporary folder for one child, to see what it leaves there. */
function privateTmp(name: string): string {
  const dir = join(work.dir, `tmp-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

test('run message.eml is refused with a hint; nothing is sent', async () => {
  const file = script('message.eml', 'From: a@example.test\nSubject: x\n\nbody\n');
  const r = await runCli(['run', file], { cwd: work.dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /is a message, not a session script.*DATA < .*smtpwb lint/);
});

test('run --session good exits 0 although another session has errors', async () => {
  const file = script('two.smtp', `### good\n# @name good\nCONNECT smtp://127.0.0.1:${polite.port}\nEHLO a.example.test\nQUIT\n\n### bad\n# @name bad\nEHLO\nDATA\n`);
  const good = await runCli(['run', file, '--session', 'good'], { cwd: work.dir });
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /PASS good/);
  const bad = await runCli(['run', file, '--all'], { cwd: work.dir });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /two\.smtp:9: error smtp-syntax-argument .*\(session bad\)/);
  assert.match(bad.stderr, /nothing was sent/);
});

test('--inbox with a folder that cannot be created fails at once with a clear error', { timeout: 60_000 }, async () => {
  const file = script('local.smtp', 'EHLO a.example.test\nQUIT\n');
  const r = await runCli(['run', file, '--inbox', '/proc/forbidden/inbox'], { cwd: work.dir });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /--inbox: cannot create \/proc\/forbidden/);
  assert.doesNotMatch(r.stdout, /embedded capture server/);
  const notFolder = await runCli(['run', file, '--inbox', file], { cwd: work.dir });
  assert.equal(notFolder.code, 2);
  assert.match(notFolder.stderr, /is not a folder/);
});

test('a run without --inbox leaves no temporary folder or private key behind', async () => {
  const tmp = privateTmp('leak');
  const file = script('deliver.smtp', 'EHLO a.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\nSubject: kept?\n\nbody\n.\nQUIT\n');
  const r = await runCli(['run', file], { cwd: work.dir, env: { TMPDIR: tmp } });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /received a message from <a@example\.test> to <b@example\.test>/);
  assert.deepEqual(entries(tmp), []);
  const json = await runCli(['run', file, '--json'], { cwd: work.dir, env: { TMPDIR: tmp } });
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { inbox: Array<{ path?: string; to: string[] }> };
  assert.deepEqual(parsed.inbox.map((m) => [m.path, m.to]), [[undefined, ['b@example.test']]]);
  assert.deepEqual(entries(tmp), []);
  // With --inbox the messages (and the server's key) stay where the user asked.
  const inbox = join(work.dir, 'kept-inbox', 'deep');
  const kept = await runCli(['run', file, '--inbox', inbox], { cwd: work.dir, env: { TMPDIR: tmp } });
  assert.equal(kept.code, 0, kept.stderr);
  assert.ok(entries(inbox).some((f) => f.endsWith('.eml')));
  assert.deepEqual(entries(tmp), []);
});

test('Ctrl+C during run ends the session politely (QUIT) and exits 130', { timeout: 60_000 }, async () => {
  let sawEhlo = false;
  let sawQuit = false;
  const stalling = await rawServer(async (c) => {
    c.send('220 stall.example.test ESMTP\r\n');
    for (;;) {
      const line = await c.nextLine();
      if (/^EHLO/i.test(line)) sawEhlo = true;
      // The EHLO is never answered; QUIT is.
      if (/^QUIT/i.test(line)) {
        sawQuit = true;
        c.send('221 bye\r\n');
        c.socket.end();
        return;
      }
    }
  });
  try {
    const file = script('stall.smtp', `CONNECT smtp://127.0.0.1:${stalling.port}\nEHLO a.example.test\nQUIT\n`);
    const r = await runCli(['run', file], {
      cwd: work.dir,
      interact: async (child) => {
        await waitFor('the EHLO to arrive', () => sawEhlo);
        child.kill('SIGINT');
      },
    });
    assert.equal(r.code, 130, r.stdout + r.stderr);
    assert.match(r.stderr, /interrupted/);
    assert.ok(sawQuit, `the server got no QUIT:\n${r.stdout}`);
  } finally {
    await stalling.close();
  }
});

test('run --dns-server sends CONNECT mx: lookups to that server (a private zone in Knot)', async () => {
  const file = script('mx.smtp', `CONNECT mx:example.test:${polite.port}\nEHLO a.example.test\nQUIT\n`);
  const r = await runCli(['run', file, '--dns-server', knot.address], { cwd: work.dir });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /mail\.example\.test/);
  // A host name is resolved once (localhost is in /etc/hosts; the queries then go to its address).
  const byName = await runCli(['run', file, '--dns-server', `localhost:${knot.port}`], { cwd: work.dir });
  assert.equal(byName.code, 0, byName.stdout + byName.stderr);
  const bad = await runCli(['run', file, '--dns-server', 'not a server'], { cwd: work.dir });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--dns-server needs HOST\[:PORT\]/);
  const v6 = await runCli(['run', file, '--dns-server', '::1:53'], { cwd: work.dir });
  assert.equal(v6.code, 2, 'an IPv6 address with a port needs brackets');
});

test('{{$prompt NAME}} without a terminal: --var answers it, else the error says which --var to pass', async () => {
  const file = script('prompt.smtp', `CONNECT smtp://127.0.0.1:${polite.port}\nEHLO {{$prompt greeting}}\nQUIT\n`);
  const missing = await runCli(['run', file], { cwd: work.dir });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /pass --var greeting=VALUE/);
  const given = await runCli(['run', file, '--var', 'greeting=given.example.test'], { cwd: work.dir });
  assert.equal(given.code, 0, given.stdout + given.stderr);
  assert.match(given.stdout, / -> EHLO given\.example\.test/);
});

test('{{$prompt NAME}} on a terminal is asked, without echo when the name looks secret', { timeout: 60_000 }, async () => {
  const file = script('ask.smtp', `CONNECT smtp://127.0.0.1:${polite.port}\nEHLO {{$prompt greeting}}\nNOOP {{$prompt smtp-password}}\nQUIT\n`);
  // util-linux script(1) gives the CLI a pseudo-terminal; what the test writes is typed on it.
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath())} run ${JSON.stringify(file)}`;
  let transcript = '';
  const { spawn } = await import('node:child_process');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: work.dir, env: { PATH: process.env.PATH, HOME: work.dir, TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout.on('data', (c: Buffer) => (transcript += c.toString()));
  child.stderr.on('data', (c: Buffer) => (transcript += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    await waitFor('the first question', () => /greeting: /.test(transcript));
    child.stdin.write('typed.example.test\r');
    await waitFor('the second question', () => /smtp-password \(not shown\): /.test(transcript));
    child.stdin.write('Sw0rdfish-typed\r');
    const code = await exited;
    assert.equal(code, 0, transcript);
  } finally {
    child.stdin.end();
    child.kill();
  }
  assert.match(transcript, / -> EHLO typed\.example\.test/);
  assert.match(transcript, / -> NOOP \*{8}/);
  assert.ok(!transcript.includes('Sw0rdfish-typed'), 'the secret answer is neither echoed nor printed');
});

test('what a hostile server sends reaches the terminal as visible escapes; --json stays exact', async () => {
  const hostile = await rawServer(async (c) => {
    c.send('220 evil \x1b[31mred\x1b]0;pwned\x07 \u202eesrever\r\n');
    for (;;) {
      const line = await c.nextLine();
      if (/^QUIT/i.test(line)) {
        c.send('221 \x1b[2Jbye\r\n');
        c.socket.end();
        return;
      }
      c.send('250 ok \x9b31m\r\n');
    }
  });
  try {
    const file = script('hostile.smtp', `### title \x1b[5m blink\nCONNECT smtp://127.0.0.1:${hostile.port}\nEHLO a.example.test\nQUIT\n`);
    const r = await runCli(['run', file], { cwd: work.dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(r.stdout + r.stderr, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
    assert.match(r.stdout, /\\x1B\[31mred/);
    const json = await runCli(['run', file, '--json'], { cwd: work.dir });
    const parsed = JSON.parse(json.stdout) as { sessions: Array<{ transcript: Array<{ text: string }> }> };
    assert.ok(parsed.sessions[0].transcript.some((e) => e.text.includes('\x1b[31mred')), 'JSON keeps the bytes as data');
  } finally {
    await hostile.close();
  }
});

test('run --dry-run shows the decisions and sends nothing', async () => {
  const quiet = await rawServer((c) => void politeSmtp(c));
  try {
    const file = script('dry.smtp', `### ready one\n# @name one\n# @allow-cleartext-auth\nCONNECT smtp://127.0.0.1:${quiet.port}\nEHLO {{$prompt greeting}}\nAUTH PLAIN user {{$secret pw}}\nQUIT\n\n### blocked one\n# @name two\nEHLO\n`);
    const r = await runCli(['run', file, '--all', '--dry-run', '--var', 'greeting=dry.example.test', '--timeout', '2'], { cwd: work.dir, env: { SMTPWB_SECRET_PW: 'dry-secret-value' } });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /### ready one \[one\]: would run/);
    assert.match(r.stdout, /target: smtp:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.stdout, /timeouts \(ms\): connect=2000 greeting=2000/);
    assert.match(r.stdout, /EHLO dry\.example\.test/);
    assert.match(r.stdout, /AUTH PLAIN user \*{8}/);
    assert.match(r.stdout, /### blocked one \[two\]: blocked \(script\)\n {5}line 11: smtp-syntax-argument/);
    assert.ok(!r.stdout.includes('dry-secret-value'));
    assert.equal(quiet.received().length, 0);
  } finally {
    await quiet.close();
  }
});

test('run --rules: the capture server started for the run answers by the rules, and the transcript says which rule answered', { timeout: 60_000 }, async () => {
  const file = script('greylisted.smtp', 'EHLO a.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<nobody@example.test>\nEXPECT 550\nRCPT TO:<bob@example.test>\nDATA\nSubject: rules\n\nbody\n.\nQUIT\n');
  const rulesFile = script('capture-rules.json', JSON.stringify({ version: 1, rules: [{ name: 'no such user', when: { command: 'RCPT', recipient: 'nobody@*' }, reply: '550 5.1.1 No such user' }] }));
  const r = await runCli(['run', file, '--rules', rulesFile], { cwd: work.dir });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // The note follows the reply it explains (a rule's reply is US-ASCII and its name has no control
  // character: the rules checker refuses anything else, RFC 5321 §4.2).
  assert.match(r.stdout, /<- {2}550 5\.1\.1 No such user\n.*=== capture server: rule "no such user" \(reply\) at RCPT: 550 5\.1\.1 No such user\n/);
  const json = await runCli(['run', file, '--rules', rulesFile, '--json'], { cwd: work.dir });
  assert.equal(json.code, 0, json.stderr);
  assert.match(json.stdout, /capture server: rule \\"no such user\\" \(reply\) at RCPT/);
});

test('run --rules: a rules file with errors is refused with its problems, nothing is sent, --dry-run too; --rules with --local is a usage error', { timeout: 60_000 }, async () => {
  const file = script('plain.smtp', 'EHLO a.example.test\nQUIT\n');
  const broken = script('broken-rules.json', '{"version": 1, "rules": [{"name": "x", "reply": "999 nonsense"}]}');
  const r = await runCli(['run', file, '--rules', broken], { cwd: work.dir });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /broken-rules\.json:1:\d+ error rules-/);
  assert.match(r.stderr, /--rules: the rules file has errors; nothing was sent/);
  assert.doesNotMatch(r.stdout, /embedded capture server/);
  // --dry-run reads the rules too: a broken file fails it, a good one is named.
  const dry = await runCli(['run', file, '--rules', broken, '--dry-run'], { cwd: work.dir });
  assert.equal(dry.code, 2, dry.stdout + dry.stderr);
  assert.match(dry.stderr, /--rules: the rules file has errors/);
  const good = script('good-rules.json', JSON.stringify({ version: 1, rules: [{ name: 'grey', greylist: true }] }));
  const dryGood = await runCli(['run', file, '--rules', good, '--dry-run'], { cwd: work.dir });
  assert.equal(dryGood.code, 0, dryGood.stdout + dryGood.stderr);
  assert.match(dryGood.stdout, /answers by 1 behaviour rule: "grey"/);
  const both = await runCli(['run', file, '--rules', broken, '--local', '127.0.0.1:2525'], { cwd: work.dir });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--rules sets the rules of the capture server started for the run/);
});

test('the capture server summary of a run masks its secrets ($secret, a masked $prompt, a variable that looks secret) in text, --json and --inbox', { timeout: 60_000 }, async () => {
  const file = script(
    'secret-summary.smtp',
    '@password = hunter2hunter2\nEHLO a.example.test\nMAIL FROM:<{{$secret pw}}@a.test>\nRCPT TO:<b+{{$prompt token}}@b.test>\nDATA\nSubject: {{password}} {{$prompt token}} {{$secret pw}}\n\nbody\n.\nQUIT\n',
  );
  const env = { SMTPWB_SECRET_PW: 's3cretpassword' };
  const args = ['run', file, '--var', 'token=tok123456'];
  const leaks = (text: string): string[] => ['s3cretpassword', 'tok123456', 'hunter2hunter2'].filter((secret) => text.includes(secret));
  const text = await runCli(args, { cwd: work.dir, env });
  assert.equal(text.code, 0, text.stdout + text.stderr);
  assert.match(text.stdout, /=== the capture server received a message from <\*{8}@a\.test> to <b\+\*{8}@b\.test> \(\d+ octets, subject "\*{8} \*{8} \*{8}"\)/);
  assert.deepEqual(leaks(text.stdout + text.stderr), []);
  const json = await runCli([...args, '--json'], { cwd: work.dir, env });
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { inbox: Array<{ from: string; to: string[]; subject: string; size: number }> };
  assert.deepEqual(parsed.inbox.map((m) => [m.from, m.to, m.subject]), [['********@a.test', ['b+********@b.test'], '******** ******** ********']]);
  assert.ok(parsed.inbox[0].size > 0, 'structured fields are kept');
  assert.deepEqual(leaks(json.stdout + json.stderr), []);
  const inbox = join(work.dir, 'secret-inbox');
  const kept = await runCli([...args, '--inbox', inbox], { cwd: work.dir, env });
  assert.equal(kept.code, 0, kept.stderr);
  assert.match(kept.stdout, /=== the capture server stored a message from <\*{8}@a\.test> to <b\+\*{8}@b\.test>: .*\.eml/);
  assert.deepEqual(leaks(kept.stdout + kept.stderr), []);
});

test('--junit to a path that cannot be written is a usage error before anything is sent (exit 2), with --json too', async () => {
  const listener = await rawServer((c) => void politeSmtp(c));
  try {
    const file = script('junit-target.smtp', `CONNECT smtp://127.0.0.1:${listener.port}\nEHLO a.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\nSubject: x\n\nbody\n.\nQUIT\n`);
    for (const [junit, message] of [
      ['/nonexistent/dir/j.xml', /--junit: the folder \/nonexistent\/dir does not exist; nothing was sent/],
      [work.dir, /--junit: .* is a folder; nothing was sent/],
      [join(file, 'j.xml'), /--junit: cannot write .*ENOTDIR/],
    ] as const) {
      for (const extra of [[], ['--json']]) {
        const r = await runCli(['run', file, '--junit', junit, ...extra], { cwd: work.dir });
        assert.equal(r.code, 2, `${junit} ${extra.join(' ')}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, message);
        assert.equal(r.stdout, '', 'nothing is printed as if the run had happened');
      }
    }
    // The local capture server is not started either: --inbox is not created.
    const local = script('junit-local.smtp', 'EHLO a.example.test\nQUIT\n');
    const inbox = join(work.dir, 'junit-inbox');
    const r = await runCli(['run', local, '--inbox', inbox, '--junit', '/nonexistent/dir/j.xml'], { cwd: work.dir });
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(entries(inbox), []);
    assert.equal(listener.received().length, 0, 'nothing was sent');
    const ok = await runCli(['run', file, '--json', '--junit', 'j.xml'], { cwd: work.dir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { ok: boolean }).ok, true);
    assert.ok(entries(work.dir).includes('j.xml'));
    assert.ok(listener.received().length > 0);
  } finally {
    await listener.close();
  }
});

test('a file a later session reads that cannot be read blocks the whole run before anything is sent (exit 2)', async () => {
  const listener = await rawServer((c) => void politeSmtp(c));
  try {
    const session = (title: string, body: string) =>
      `### ${title}\nCONNECT smtp://127.0.0.1:${listener.port}\nEHLO a.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\n${body}QUIT\n`;
    script('present.eml', 'Subject: here\r\n\r\nbody\r\n');
    const file = script('files-later.smtp', `${session('first', 'DATA\nSubject: x\n\nbody\n.\n')}\n${session('second', 'DATA < present.eml\n')}\n${session('third', 'DATA < missing.eml\n')}`);
    for (const extra of [[], ['--json']]) {
      const r = await runCli(['run', file, '--all', ...extra], { cwd: work.dir });
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr + r.stdout, /cannot read missing\.eml/);
      assert.match(r.stderr, /nothing was sent/);
    }
    assert.equal(listener.received().length, 0, 'not even the first session was sent');
    // The same run with the file in place goes through.
    script('missing.eml', 'Subject: now here\r\n\r\nbody\r\n');
    const ok = await runCli(['run', file, '--all'], { cwd: work.dir });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  } finally {
    await listener.close();
  }
});
