// End-to-end tests of the session engine against a real Exim (test/peers/exim.ts): byte-exact
// delivery with DATA, BDAT and implicit TLS, every AUTH mechanism, cleartext AUTH policy, EXPECT
// and enhanced status codes, pipelining, repeats, and secret masking.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startExim, type EximPeer } from '../peers/exim';
import { runSession } from '../../client/src/engine';
import type { SessionResult } from '../../client/src/engine';
import { auth, bdat, cmd, data, makePlan, raw, starttls } from './plan';

let exim: EximPeer;
let dir: string;

before(async () => {
  exim = await startExim();
  dir = mkdtempSync(join(tmpdir(), 'engine-exim-'));
});
after(async () => {
  await exim?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const headers = (subject: string): string[] => ['From: alice@example.test', 'To: bob@example.test', `Subject: ${subject}`, ''];

/** What the server stores for an inline (stuffed) body: dots un-stuffed, CRLF after every line. */
function delivered(lines: string[]): Buffer {
  return Buffer.from(lines.map((l) => `${l.startsWith('.') ? l.slice(1) : l}\r\n`).join(''), 'utf8');
}

function explain(r: SessionResult): string {
  return `${r.failure?.kind}: ${r.failure?.message}\n${r.transcript.map((e) => `${e.dir} ${e.text}`).join('\n')}`;
}

/** Waits for the delivered message that contains `marker` (deliveries may land out of order). */
async function deliveredWith(marker: string, timeoutMs = 10_000): Promise<Buffer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await exim.messages()).find((m) => m.includes(marker));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no delivered message contains ${marker}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}


async function sendAndCompare(steps: ReturnType<typeof cmd>[], expected: Buffer, marker: string, connect = `smtp://127.0.0.1:${exim.port}`, extra: Parameters<typeof makePlan>[0]['tls'] = undefined): Promise<SessionResult> {
  const r = await runSession(makePlan({ connect, tls: extra, steps }), { timeouts: { greeting: 10_000, command: 10_000 } });
  assert.ok(r.ok, explain(r));
  const got = await deliveredWith(marker);
  assert.equal(got.toString('utf8'), expected.toString('utf8'));
  assert.ok(got.equals(expected));
  return r;
}

test('DATA: leading dots, 8-bit UTF-8 with SMTPUTF8 arrive byte for byte', async () => {
  const body = [...headers('dots and ünïcödé'), '..one dot', '...two dots', '.', 'ünïcödé text, 😀', 'last line'];
  // The single "." line inside would end the data; the engine stuffs it defensively.
  const stuffedBody = body.map((l) => (l === '.' ? '..' : l));
  await sendAndCompare(
    [cmd('EHLO client.example.test'), cmd('MAIL FROM:<alice@example.test> SMTPUTF8 BODY=8BITMIME'), cmd('RCPT TO:<bøb@example.test>'), data(stuffedBody), cmd('QUIT')],
    delivered(stuffedBody),
    'dots and ünïcödé',
  );
});

test('DATA: an empty body', async () => {
  const r = await runSession(
    makePlan({ connect: `smtp://127.0.0.1:${exim.port}`, steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<>'), cmd('RCPT TO:<empty@example.test>'), data([]), cmd('QUIT')] }),
  );
  assert.ok(r.ok, explain(r));
  let got: Buffer | undefined;
  for (let i = 0; i < 1000 && !got; i++) {
    got = (await exim.deliveries()).find((d) => d.recipient === 'empty@example.test')?.data;
    if (!got) await new Promise((res) => setTimeout(res, 10));
  }
  assert.ok(got);
  // The engine sends only "." CRLF after 354 (RFC 5321 §4.1.1.4); Exim stores the empty message as one blank line.
  assert.ok(got.length === 0 || got.toString() === '\r\n', `empty body stored as ${JSON.stringify(got.toString())}`);
  const bodyEvent = r.transcript.find((e) => e.dir === 'client' && e.bytes === 3);
  assert.ok(bodyEvent, 'the body was exactly 3 octets');
});

test('DATA < file: LF line ends, leading dots, no final newline become CRLF, stuffed, and arrive unchanged', async () => {
  const file = join(dir, 'lf.eml');
  writeFileSync(file, 'From: a@example.test\nSubject: file\n\n.dot\n..two\nbare\rcr\nno final newline');
  const expected = Buffer.from('From: a@example.test\r\nSubject: file\r\n\r\n.dot\r\n..two\r\nbare\r\ncr\r\nno final newline\r\n');
  await sendAndCompare([cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<bob@example.test>'), data({ file }), cmd('QUIT')], expected, 'Subject: file');
});

test('BDAT in chunks un-stuffs inline bodies and arrives byte for byte', async () => {
  const body = [...headers('chunked'), '..starts with one dot', 'x'.repeat(100), 'end'];
  await sendAndCompare(
    [cmd('EHLO c.example.test'), cmd('MAIL FROM:<alice@example.test>'), cmd('RCPT TO:<bob@example.test>'), bdat(body, 17), cmd('QUIT')],
    delivered(body),
    'Subject: chunked',
  );
});

test('BDAT < file in one chunk', async () => {
  const file = join(dir, 'bdat.eml');
  writeFileSync(file, 'Subject: one chunk\r\n\r\n.dot kept as is\r\n');
  await sendAndCompare(
    [cmd('EHLO c.example.test'), cmd('MAIL FROM:<alice@example.test>'), cmd('RCPT TO:<bob@example.test>'), bdat({ file }), cmd('QUIT')],
    Buffer.from('Subject: one chunk\r\n\r\n.dot kept as is\r\n'),
    'Subject: one chunk',
  );
});

test('implicit TLS (smtps) with verification against the test CA, DATA and BDAT', async () => {
  const body = [...headers('over implicit TLS'), '..dot', 'end'];
  const body2 = [...headers('BDAT over implicit TLS'), '..dot', 'end'];
  const r = await sendAndCompare(
    [cmd('EHLO c.example.test'), auth('PLAIN', 'user', 'pass'), cmd('MAIL FROM:<alice@example.test>'), cmd('RCPT TO:<bob@example.test>'), data(body), cmd('QUIT')],
    delivered(body),
    'Subject: over implicit TLS',
    `smtps://127.0.0.1:${exim.tlsPort}`,
    { ca: exim.caPath, sni: 'mail.example.test' },
  );
  assert.equal(r.tls?.mode, 'implicit');
  assert.equal(r.tls?.verified, true);
  assert.match(r.tls?.protocol ?? '', /^TLSv1\.[23]$/);
  assert.ok(r.tls?.subjectAltNames?.includes('DNS:mail.example.test'));
  assert.ok(r.tls?.issuer?.includes('SMTP Workbench Test CA'));
  await sendAndCompare(
    [cmd('EHLO c.example.test'), cmd('MAIL FROM:<alice@example.test>'), cmd('RCPT TO:<bob@example.test>'), bdat(body2, 5), cmd('QUIT')],
    delivered(body2),
    'Subject: BDAT over implicit TLS',
    `smtps://127.0.0.1:${exim.tlsPort}`,
    { ca: exim.caPath, sni: 'mail.example.test' },
  );
});

for (const mech of ['PLAIN', 'LOGIN', 'CRAM-MD5'] as const) {
  test(`STARTTLS then AUTH ${mech}: succeeds with the right password, 535 with a wrong one`, async () => {
    const steps = (secret: string) => [cmd('EHLO c.example.test'), starttls(), cmd('EHLO c.example.test'), auth(mech, 'user', secret), cmd('QUIT')];
    const good = await runSession(makePlan({ connect: `smtp://127.0.0.1:${exim.port}`, tls: { ca: exim.caPath, sni: 'mail.example.test' }, steps: steps('pass') }));
    assert.ok(good.ok, explain(good));
    assert.equal(good.tls?.mode, 'starttls');
    assert.equal(good.steps[3].reply?.code, 235);
    assert.ok(good.capabilities?.authMechanisms.includes(mech));
    const bad = await runSession(makePlan({ connect: `smtp://127.0.0.1:${exim.port}`, tls: { ca: exim.caPath, sni: 'mail.example.test' }, steps: steps('wrong-secret') }), {
      secrets: ['wrong-secret'],
    });
    assert.equal(bad.ok, false);
    assert.equal(bad.failure?.kind, 'expectation');
    assert.match(bad.failure?.message ?? '', /535/);
    assert.match(bad.failure?.message ?? '', /authentication failed/);
    const authStep = bad.steps.find((s) => s.command.startsWith('AUTH'));
    assert.equal(authStep?.reply?.code, 535);
    const json = JSON.stringify(bad);
    assert.ok(!json.includes('wrong-secret'));
    assert.ok(!json.includes(Buffer.from('wrong-secret').toString('base64')));
  });
}

test('AUTH over cleartext is refused unless the session opts in', async () => {
  const steps = [cmd('EHLO c.example.test'), auth('PLAIN', 'user', 'pass'), cmd('QUIT')];
  const refused = await runSession(makePlan({ connect: `smtp://127.0.0.1:${exim.clearAuthPort}`, steps }));
  assert.equal(refused.ok, false);
  assert.equal(refused.failure?.kind, 'script');
  assert.match(refused.failure?.message ?? '', /without TLS is refused/);
  assert.ok(!refused.transcript.some((e) => e.dir === 'client' && e.text.startsWith('AUTH')), 'no AUTH on the wire');
  const allowed = await runSession(makePlan({ connect: `smtp://127.0.0.1:${exim.clearAuthPort}`, options: { allowCleartextAuth: true }, steps }));
  assert.ok(allowed.ok, explain(allowed));
  assert.equal(allowed.steps[1].reply?.code, 235);
});

test('EXPECT passes and fails as written; 4xx and 5xx replies carry enhanced codes', async () => {
  const connect = `smtp://127.0.0.1:${exim.port}`;
  const ok = await runSession(
    makePlan({
      connect,
      steps: [
        cmd('EHLO c.example.test', '250 "mail.example.test"'),
        cmd('MAIL FROM:<alice@example.test>', '2xx "OK"'),
        cmd('RCPT TO:<reject@example.test>', '550 5.1.1 /no such user/i'),
        cmd('RCPT TO:<tempfail@example.test>', '4xx 4.3.x'),
        cmd('RCPT TO:<x@elsewhere.test>', '550 5.7.1 "relay not permitted"'),
        cmd('RSET'),
        cmd('QUIT', '221'),
      ],
    }),
  );
  assert.ok(ok.ok, explain(ok));
  assert.deepEqual(
    ok.steps.slice(2, 5).map((s) => [s.reply?.code, s.reply?.enhanced]),
    [
      [550, '5.1.1'],
      [451, '4.3.0'],
      [550, '5.7.1'],
    ],
  );
  const fails = await runSession(makePlan({ connect, steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<alice@example.test>'), cmd('RCPT TO:<reject@example.test>'), cmd('QUIT')] }));
  assert.equal(fails.ok, false);
  assert.equal(fails.failure?.kind, 'expectation');
  assert.match(fails.failure?.message ?? '', /expected 2xx, got 550 5\.1\.1/);
  // After the failure the engine sends QUIT politely.
  assert.ok(fails.transcript.some((e) => e.dir === 'client' && e.text === 'QUIT'));
  assert.ok(fails.transcript.some((e) => e.dir === 'server' && e.text.startsWith('221')));
  const wrongText = await runSession(makePlan({ connect, steps: [cmd('EHLO c.example.test', '250 "no such greeting"')] }));
  assert.equal(wrongText.failure?.kind, 'expectation');
  assert.match(wrongText.failure?.message ?? '', /contain "no such greeting"/);
});

test('pipelining sends MAIL, RCPT and DATA in one write and matches replies in order', async () => {
  const body = [...headers('pipelined'), 'hello'];
  const r = await runSession(
    makePlan({
      connect: `smtp://127.0.0.1:${exim.port}`,
      options: { pipelining: true },
      steps: [
        cmd('EHLO c.example.test'),
        cmd('MAIL FROM:<alice@example.test>'),
        cmd('RCPT TO:<reject@example.test>', '550'),
        cmd('RCPT TO:<bob@example.test>'),
        data(body),
        cmd('QUIT'),
      ],
    }),
  );
  assert.ok(r.ok, explain(r));
  assert.ok(r.transcript.some((e) => e.dir === 'info' && /pipelining 4 commands/.test(e.text)), explain(r));
  assert.deepEqual(
    r.steps.map((s) => s.reply?.code),
    [250, 250, 550, 250, 250, 221],
  );
  assert.ok((await deliveredWith('Subject: pipelined')).equals(delivered(body)));
});

test('repeat runs the transaction N times on one connection', async () => {
  const body = [...headers('repeated'), 'x'];
  const r = await runSession(
    makePlan({
      connect: `smtp://127.0.0.1:${exim.port}`,
      options: { pipelining: true },
      steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<alice@example.test>'), cmd('RCPT TO:<bob@example.test>'), data(body), cmd('QUIT')],
    }),
    { repeat: 5 },
  );
  assert.ok(r.ok, explain(r));
  assert.equal(r.repeat?.delivered, 5);
  assert.equal(r.steps.length, 5);
  const deadline = Date.now() + 10_000;
  while ((await exim.messages()).filter((m) => m.includes('Subject: repeated')).length < 5) {
    assert.ok(Date.now() < deadline, 'five repeated messages arrive');
    await new Promise((res) => setTimeout(res, 10));
  }
});

test('a secret appears in no byte of the transcript or result', async () => {
  const r = await runSession(
    makePlan({
      connect: `smtps://127.0.0.1:${exim.tlsPort}`,
      tls: { ca: exim.caPath, sni: 'mail.example.test' },
      steps: [cmd('EHLO c.example.test'), auth('LOGIN', 'user', 'pass'), cmd('NOOP pass'), raw('NOOP pass\\r\\n', '250'), cmd('QUIT')],
    }),
    { secrets: ['pass'] },
  );
  assert.ok(r.ok, explain(r));
  const json = JSON.stringify(r);
  for (const needle of ['pass', Buffer.from('pass').toString('base64'), Buffer.from('\0user\0pass').toString('base64')]) {
    assert.ok(!json.includes(needle), `${needle} leaked`);
  }
  assert.ok(json.includes('********'));
});

test('RAW in normal DATA keeps its bytes; engine DATA with CR/LF inside lines never smuggles', async () => {
  // A hand-built plan whose body line holds "\n.\n" and a smuggled command: the engine splits and stuffs it.
  const body = [...headers('smuggle attempt'), 'first\n.\nMAIL FROM:<mallory@example.test>', 'end'];
  const r = await runSession(
    makePlan({ connect: `smtp://127.0.0.1:${exim.port}`, steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<bob@example.test>'), data(body), cmd('QUIT')] }),
  );
  assert.ok(r.ok, explain(r));
  const got = (await deliveredWith('Subject: smuggle attempt')).toString('utf8');
  assert.ok(got.includes('first\r\n.\r\nMAIL FROM:<mallory@example.test>\r\nend\r\n'), got);
});
