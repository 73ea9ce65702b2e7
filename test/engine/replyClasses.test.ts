// A verdict is earned (issue 10 §3): without an EXPECT, every step kind needs the reply that lets
// the session go on. For each step kind an in-process hostile server sends a reply of the wrong
// class at that step; the session must fail at that line with the reply shown, and pass when an
// EXPECT on the line allows the reply (except where no EXPECT can: a 2xx to DATA, and a 2xx inside
// an AUTH exchange before the credentials were sent).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runSession, type SessionResult } from '../../client/src/engine';
import type { PlanStep } from '../../common/sessionPlan';
import { auth, bdat, cmd, data, expectation, explain, makePlan, PATIENT, raw, starttls, type PlanSpec } from './plan';
import { rawServer, type LineConnection, type RawServer } from './rawServer';
import { analyzeSmtpDocument } from '../../server/src/smtp/smtpService';


const servers: RawServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/**
 * The points where the hostile server may answer differently: a command verb (`EHLO`, `MAIL`, …),
 * `GREETING`, `AUTH-USER` and `AUTH-PASS` (LOGIN), `AUTH-RESPONSE` (CRAM-MD5), `END-OF-DATA`,
 * `BDAT-CHUNK` (every chunk but the last), `BDAT-LAST`, and `LMTP-n` (the n-th per-recipient reply).
 */
type Override = Partial<Record<string, string>>;

/** A small SMTP/LMTP server that behaves, except where `override` says what to answer instead. */
async function hostileSmtp(c: LineConnection, override: Override, lmtp: boolean): Promise<void> {
  const answer = (point: string, normal: string): string => {
    const reply = override[point] ?? normal;
    c.send(reply);
    return reply;
  };
  answer('GREETING', '220 hostile.example.test ESMTP\r\n');
  let recipients = 0;
  const finals = (point: string): void => {
    if (!lmtp) {
      answer(point, '250 2.0.0 queued\r\n');
      return;
    }
    for (let i = 1; i <= Math.max(1, recipients); i++) answer(i === 1 ? point : `LMTP-${i}`, `250 2.1.5 delivered to recipient ${i}\r\n`);
  };
  for (;;) {
    const line = await c.nextLine();
    const verb = line.split(' ')[0].toUpperCase();
    if (verb === 'EHLO' || verb === 'LHLO') {
      answer(verb, '250-hostile.example.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n');
    } else if (verb === 'AUTH') {
      const mech = (line.split(' ')[1] ?? '').toUpperCase();
      if (mech === 'PLAIN') answer('AUTH', '235 2.7.0 authenticated\r\n');
      else if (mech === 'LOGIN') {
        if (!answer('AUTH', '334 VXNlcm5hbWU6\r\n').startsWith('334')) continue;
        await c.nextLine();
        if (!answer('AUTH-USER', '334 UGFzc3dvcmQ6\r\n').startsWith('334')) continue;
        await c.nextLine();
        if (answer('AUTH-PASS', '235 2.7.0 authenticated\r\n').startsWith('334')) {
          if ((await c.nextLine()) === '*') c.send('501 5.0.0 AUTH cancelled\r\n');
        }
      } else if (mech === 'CRAM-MD5') {
        if (!answer('AUTH', `334 ${Buffer.from('<1.2@hostile.example.test>').toString('base64')}\r\n`).startsWith('334')) continue;
        await c.nextLine();
        answer('AUTH-RESPONSE', '235 2.7.0 authenticated\r\n');
      } else c.send('504 5.5.4 unknown mechanism\r\n');
    } else if (verb === 'MAIL') {
      recipients = 0;
      answer(verb, '250 2.1.0 ok\r\n');
    } else if (verb === 'RCPT') {
      if (answer(verb, '250 2.1.5 ok\r\n').startsWith('2')) recipients++;
    } else if (verb === 'DATA') {
      if (!answer(verb, '354 go ahead\r\n').startsWith('354')) continue;
      while ((await c.nextLine()) !== '.') {
        // The message text.
      }
      finals('END-OF-DATA');
    } else if (verb === 'BDAT') {
      const size = Number(line.split(' ')[1]);
      const last = /\sLAST$/i.test(line);
      // The tests cut chunks at line ends, so the chunk's octets are whole lines.
      for (let got = 0; got < size; ) got += Buffer.byteLength(await c.nextLine(), 'latin1') + 2;
      if (last) finals('BDAT-LAST');
      else answer('BDAT-CHUNK', '250 2.0.0 chunk received\r\n');
    } else if (verb === 'STARTTLS') {
      answer(verb, '454 4.7.0 TLS not available\r\n');
    } else if (verb === 'HELO' || verb === 'RSET' || verb === 'NOOP') {
      answer(verb, '250 2.0.0 ok\r\n');
    } else if (verb === 'VRFY' || verb === 'EXPN') {
      answer(verb, '252 2.1.5 cannot verify, but will accept\r\n');
    } else if (verb === 'HELP') {
      answer(verb, '214 2.0.0 see RFC 5321\r\n');
    } else if (verb === 'QUIT') {
      answer(verb, '221 2.0.0 bye\r\n');
      c.socket.end();
      return;
    } else if (verb === 'PING') {
      answer(verb, '250 pong\r\n');
    } else c.send('500 5.5.2 unknown command\r\n');
  }
}

interface Case {
  name: string;
  /** Builds the session; `expect` goes on the step under test (undefined: no EXPECT). Returns the steps and the step under test. */
  build(expect: string | undefined): { steps: PlanStep[]; under: PlanStep; spec?: Partial<PlanSpec> };
  override: Override;
  /** The reply text the failure must show. */
  shows: RegExp;
  /** The EXPECT that makes the same reply pass; undefined when no EXPECT can. */
  allowedBy?: string;
  lmtp?: boolean;
  /** Further checks of what the server received. */
  received?: (bytes: string, r: SessionResult) => void;
}

const ehlo = (): PlanStep => cmd('EHLO client.example.test');
const envelope = (): PlanStep[] => [ehlo(), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>')];
const single = (make: (e: string | undefined) => PlanStep, before: () => PlanStep[] = () => [ehlo()]) => (e: string | undefined) => {
  const under = make(e);
  return { steps: [...before(), under, cmd('QUIT')], under };
};
const body = ['Subject: reply classes', '', 'BODY-MARKER line'];
/** EHLO, MAIL, RCPT, the step under test, QUIT. */
const inTransaction = (make: (e: string | undefined) => PlanStep) => (e: string | undefined) => {
  const under = make(e);
  return { steps: [...envelope(), under, cmd('QUIT')], under };
};
/** `DATA` as the parser plans it when RAW lines follow: a plain command whose implicit expectation is 3xx. */
const rawData = (e: string | undefined, line: number): PlanStep => ({
  kind: 'command',
  line,
  source: 'DATA',
  verb: 'DATA',
  template: 'DATA',
  expect: e === undefined ? { line, source: '', codes: [{ kind: 'class', class: 3 }], enhanced: [], implicit: true } : expectation(e, line),
});
const cleartextAuth: Partial<PlanSpec> = { options: { allowCleartextAuth: true } };
const withAuth = (make: (e: string | undefined) => PlanStep) => (e: string | undefined) => {
  const under = make(e);
  return { steps: [ehlo(), under, cmd('QUIT')], under, spec: cleartextAuth };
};

const cases: Case[] = [
  { name: 'EHLO answered 354', build: single((e) => cmd('EHLO client.example.test', e), () => []), override: { EHLO: '354 what\r\n' }, shows: /354 what/, allowedBy: '354' },
  { name: 'HELO answered 451', build: single((e) => cmd('HELO client.example.test', e), () => []), override: { HELO: '451 4.3.0 later\r\n' }, shows: /451 4\.3\.0 later/, allowedBy: '4xx' },
  { name: 'LHLO answered 554', build: single((e) => cmd('LHLO client.example.test', e), () => []), override: { LHLO: '554 5.5.0 no\r\n' }, shows: /554 5\.5\.0 no/, allowedBy: '554', lmtp: true },
  {
    name: 'STARTTLS answered 250 (TLS never starts)',
    build: single((e) => starttls(e)),
    override: { STARTTLS: '250 2.0.0 sure\r\n' },
    shows: /expected 220, got 250.*250 2\.0\.0 sure/,
    allowedBy: '250',
  },
  { name: 'STARTTLS answered 454', build: single((e) => starttls(e)), override: { STARTTLS: '454 4.7.0 TLS not available\r\n' }, shows: /454 4\.7\.0/, allowedBy: '454' },
  { name: 'AUTH PLAIN answered 250 (not 235)', build: withAuth((e) => auth('PLAIN', 'user', 'secret-pw', e)), override: { AUTH: '250 2.0.0 fine\r\n' }, shows: /250 2\.0\.0 fine/, allowedBy: '250' },
  { name: 'AUTH PLAIN answered 334 (a continuation after the initial response)', build: withAuth((e) => auth('PLAIN', 'user', 'secret-pw', e)), override: { AUTH: '334 \r\n' }, shows: /334/, allowedBy: '334', received: (b) => assert.match(b, /\r\n\*\r\n/, 'the exchange is cancelled with "*"') },
  { name: 'AUTH PLAIN answered 535', build: withAuth((e) => auth('PLAIN', 'user', 'secret-pw', e)), override: { AUTH: '535 5.7.8 bad credentials\r\n' }, shows: /535 5\.7\.8 bad credentials/, allowedBy: '535 5.7.8' },
  { name: 'AUTH LOGIN answered 235 before the user name', build: withAuth((e) => auth('LOGIN', 'user', 'secret-pw', e)), override: { AUTH: '235 2.7.0 welcome, whoever you are\r\n' }, shows: /235 before the user name was sent/ },
  { name: 'AUTH LOGIN answered 235 before the password', build: withAuth((e) => auth('LOGIN', 'user', 'secret-pw', e)), override: { 'AUTH-USER': '235 2.7.0 no password needed\r\n' }, shows: /235 before the password was sent/ },
  {
    name: 'AUTH LOGIN answered 334 after the password',
    build: withAuth((e) => auth('LOGIN', 'user', 'secret-pw', e)),
    override: { 'AUTH-PASS': '334 bW9yZQ==\r\n' },
    shows: /334 bW9yZQ==/,
    allowedBy: '334',
    received: (b) => assert.match(b, /\r\n\*\r\n/, 'the exchange is cancelled with "*"'),
  },
  { name: 'AUTH LOGIN answered 504', build: withAuth((e) => auth('LOGIN', 'user', 'secret-pw', e)), override: { AUTH: '504 5.5.4 not here\r\n' }, shows: /504 5\.5\.4/, allowedBy: '504' },
  { name: 'AUTH CRAM-MD5 answered 235 before the challenge', build: withAuth((e) => auth('CRAM-MD5', 'user', 'secret-pw', e)), override: { AUTH: '235 2.7.0 trust me\r\n' }, shows: /235 before the challenge was answered/ },
  { name: 'AUTH CRAM-MD5 answered 454 after the response', build: withAuth((e) => auth('CRAM-MD5', 'user', 'secret-pw', e)), override: { 'AUTH-RESPONSE': '454 4.7.0 try later\r\n' }, shows: /454 4\.7\.0/, allowedBy: '4xx' },
  { name: 'MAIL answered 354', build: single((e) => cmd('MAIL FROM:<a@example.test>', e)), override: { MAIL: '354 huh\r\n' }, shows: /354 huh/, allowedBy: '3xx' },
  {
    name: 'RCPT answered 550',
    build: single((e) => cmd('RCPT TO:<b@example.test>', e), () => [ehlo(), cmd('MAIL FROM:<a@example.test>')]),
    override: { RCPT: '550 5.1.1 no such user\r\n' },
    shows: /550 5\.1\.1 no such user/,
    allowedBy: '550 5.1.1',
  },
  {
    name: 'DATA answered 250 (nothing is sent, and no EXPECT can pass it)',
    build: inTransaction((e) => data(body, e)),
    override: { DATA: '250 2.0.0 delivered, trust me\r\n' },
    shows: /DATA needs 354.*got 250.*delivered, trust me/,
    received: (b) => assert.ok(!b.includes('BODY-MARKER'), 'no body was sent'),
  },
  {
    name: 'DATA answered 334',
    build: inTransaction((e) => data(body, e)),
    override: { DATA: '334 go on\r\n' },
    shows: /DATA needs 354.*got 334/,
    received: (b) => assert.ok(!b.includes('BODY-MARKER'), 'no body was sent'),
  },
  {
    name: 'DATA refused with 554 (the body is not sent)',
    build: inTransaction((e) => data(body, e)),
    override: { DATA: '554 5.5.1 no valid recipients\r\n' },
    shows: /554 5\.5\.1 no valid recipients/,
    allowedBy: '554',
    received: (b) => assert.ok(!b.includes('BODY-MARKER'), 'no body was sent'),
  },
  {
    name: 'the end of data answered 354',
    build: inTransaction((e) => data(body, e)),
    override: { 'END-OF-DATA': '354 more please\r\n' },
    shows: /354 more please/,
    allowedBy: '354',
  },
  {
    name: 'the end of data answered 452',
    build: inTransaction((e) => data(body, e)),
    override: { 'END-OF-DATA': '452 4.3.1 out of disk\r\n' },
    shows: /452 4\.3\.1 out of disk/,
    allowedBy: '452',
  },
  {
    name: 'DATA before RAW answered 250',
    build: inTransaction((e) => rawData(e, 100_000)),
    override: { DATA: '250 ok\r\n' },
    shows: /expected 354, got 250/,
    allowedBy: '250',
  },
  {
    name: 'DATA before RAW answered 334 (the plan says 3xx; only 354 opens the data)',
    build: inTransaction((e) => rawData(e, 100_001)),
    override: { DATA: '334 what\r\n' },
    shows: /expected 354, got 334/,
    allowedBy: '334',
  },
  {
    name: 'a BDAT chunk answered 354',
    // Lines of 8 octets plus CRLF, chunks of 10: every chunk is one whole line.
    build: inTransaction((e) => bdat(['aaaaaaaa', 'bbbbbbbb', 'cccccccc'], 10, e)),
    override: { 'BDAT-CHUNK': '354 odd\r\n' },
    shows: /BDAT \(chunk 1 of 3\).*354 odd/,
  },
  {
    name: 'BDAT LAST answered 354',
    build: inTransaction((e) => bdat(['aaaaaaaa', 'bbbbbbbb'], 10, e)),
    override: { 'BDAT-LAST': '354 odd\r\n' },
    shows: /354 odd/,
    allowedBy: '354',
  },
  {
    name: 'BDAT LAST answered 554',
    build: inTransaction((e) => bdat(['aaaaaaaa'], undefined, e)),
    override: { 'BDAT-LAST': '554 5.6.0 content refused\r\n' },
    shows: /554 5\.6\.0 content refused/,
    allowedBy: '5xx',
  },
  {
    name: 'LMTP: the second per-recipient reply is 452',
    build: (e) => {
      const under = data(body, e);
      return { steps: [cmd('LHLO client.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), cmd('RCPT TO:<c@example.test>'), under, cmd('QUIT')], under };
    },
    override: { 'LMTP-2': '452 4.2.2 mailbox full\r\n' },
    shows: /recipient 2 of the LMTP transaction: .*452 4\.2\.2 mailbox full/,
    allowedBy: '2xx 4xx',
    lmtp: true,
  },
  { name: 'RSET answered 354', build: single((e) => cmd('RSET', e)), override: { RSET: '354 odd\r\n' }, shows: /354 odd/, allowedBy: '354' },
  { name: 'NOOP answered 500', build: single((e) => cmd('NOOP', e)), override: { NOOP: '500 5.5.1 no\r\n' }, shows: /500 5\.5\.1 no/, allowedBy: '500' },
  { name: 'VRFY answered 550', build: single((e) => cmd('VRFY postmaster', e)), override: { VRFY: '550 5.1.1 unknown\r\n' }, shows: /550 5\.1\.1 unknown/, allowedBy: '5xx' },
  { name: 'EXPN answered 354', build: single((e) => cmd('EXPN staff', e)), override: { EXPN: '354 odd\r\n' }, shows: /354 odd/, allowedBy: '354' },
  { name: 'HELP answered 502', build: single((e) => cmd('HELP', e)), override: { HELP: '502 5.5.1 no help\r\n' }, shows: /502 5\.5\.1 no help/, allowedBy: '502' },
  {
    name: 'QUIT answered 354',
    build: (e) => {
      const under = cmd('QUIT', e);
      return { steps: [ehlo(), under], under };
    },
    override: { QUIT: '354 not yet\r\n' },
    shows: /354 not yet/,
    allowedBy: '3xx',
  },
  {
    name: 'RAW answered 354 where its EXPECT wants 250',
    build: (e) => {
      const under = raw('PING\\r\\n', e ?? '250');
      return { steps: [ehlo(), under], under };
    },
    override: { PING: '354 odd\r\n' },
    shows: /354 odd/,
    allowedBy: '354',
  },
  {
    name: 'pipelined RCPT answered 354',
    build: (e) => {
      const under = cmd('RCPT TO:<b@example.test>', e);
      return { steps: [ehlo(), cmd('MAIL FROM:<a@example.test>'), under, data(body), cmd('QUIT')], under, spec: { options: { pipelining: true } } };
    },
    override: { RCPT: '354 odd\r\n' },
    shows: /354 odd/,
    allowedBy: '354',
  },
  {
    name: 'pipelined DATA answered 250',
    build: (e) => {
      const under = data(body, e);
      return { steps: [...envelope(), under, cmd('QUIT')], under, spec: { options: { pipelining: true } } };
    },
    override: { DATA: '250 2.0.0 delivered, trust me\r\n' },
    shows: /DATA needs 354.*got 250/,
    received: (b) => assert.ok(!b.includes('BODY-MARKER'), 'no body was sent'),
  },
];

async function run(c: Case, expect: string | undefined): Promise<{ r: SessionResult; under: PlanStep; received: string }> {
  const server = await rawServer((conn) => hostileSmtp(conn, c.override, c.lmtp === true));
  servers.push(server);
  const built = c.build(expect);
  const scheme = c.lmtp ? 'lmtp' : 'smtp';
  const r = await runSession(makePlan({ connect: `${scheme}://127.0.0.1:${server.port}`, ...built.spec, steps: built.steps }), { timeouts: PATIENT, secrets: ['secret-pw'] });
  // Let the server record the last bytes (QUIT, "*") before they are inspected.
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { r, under: built.under, received: server.received().toString('latin1') };
}


for (const c of cases) {
  test(`wrong reply class: ${c.name} fails the session at that line`, async () => {
    const { r, under, received } = await run(c, undefined);
    assert.equal(r.ok, false, explain(r));
    assert.equal(r.failure?.kind, 'expectation', explain(r));
    assert.equal(r.failure?.line, under.line, explain(r));
    assert.match(r.failure?.message ?? '', c.shows, explain(r));
    const step = r.steps.find((s) => s.line === under.line);
    assert.ok(step && !step.ok, `the step of line ${under.line + 1} is reported as failed: ${explain(r)}`);
    c.received?.(received, r);
  });
  test(`wrong reply class: ${c.name} ${c.allowedBy ? `passes with EXPECT ${c.allowedBy}` : 'fails with any EXPECT'}`, async () => {
    const { r, under } = await run(c, c.allowedBy ?? '2xx 3xx 4xx 5xx');
    if (c.allowedBy) {
      assert.equal(r.ok, true, explain(r));
      assert.ok(r.steps.find((s) => s.line === under.line)?.ok, explain(r));
    } else {
      assert.equal(r.ok, false, explain(r));
      assert.equal(r.failure?.line, under.line, explain(r));
    }
  });
}

// An EXPECT with only a text or a pattern checks the text on top of the reply the step needs; only
// codes, classes and enhanced codes change the allowed replies. `/^/` matches every reply text.
for (const c of cases) {
  test(`wrong reply class: ${c.name} fails with an EXPECT that gives only a pattern`, async () => {
    const { r, under } = await run(c, '/^/');
    assert.equal(r.ok, false, explain(r));
    assert.equal(r.failure?.kind, 'expectation', explain(r));
    assert.equal(r.failure?.line, under.line, explain(r));
    assert.match(r.failure?.message ?? '', c.shows, explain(r));
  });
}

/** RCPT answered as `reply`, with `expect` on it (the case of the issue: `EXPECT "ok"` against a refusal whose text holds "ok"). */
async function rcptWith(reply: string, expect: string): Promise<SessionResult> {
  const rcpt = cmd('RCPT TO:<b@a.test>', expect);
  return (await run({ name: 'RCPT', build: single(() => rcpt, () => [ehlo(), cmd('MAIL FROM:<a@example.test>')]), override: { RCPT: `${reply}\r\n` }, shows: /./ }, undefined)).r;
}

test('EXPECT "text" alone: a refusal whose text matches still fails, and says that the step needs 2xx', async () => {
  const r = await rcptWith('550 5.1.1 user not ok', '"ok"');
  assert.equal(r.ok, false, explain(r));
  assert.equal(r.failure?.kind, 'expectation', explain(r));
  assert.match(r.failure?.message ?? '', /expected 2xx, got 550 5\.1\.1 \(an EXPECT with only a text keeps the reply the step needs\)/, explain(r));
  assert.match(r.steps.find((s) => !s.ok)?.expected ?? '', /EXPECT "ok" \(and 2xx, implicit\)/, explain(r));
});

test('EXPECT "text" alone: a success whose text matches passes; one whose text differs fails', async () => {
  assert.equal((await rcptWith('250 2.1.5 ok', '"ok"')).ok, true);
  const wrong = await rcptWith('250 2.1.5 accepted', '"ok"');
  assert.equal(wrong.ok, false, explain(wrong));
  assert.match(wrong.failure?.message ?? '', /contain "ok"/, explain(wrong));
});

test('EXPECT with codes decides the class: 550 "not ok" passes the refusal, 5.1.1 alone too', async () => {
  assert.equal((await rcptWith('550 5.1.1 user not ok', '550 "not ok"')).ok, true);
  assert.equal((await rcptWith('550 5.1.1 user not ok', '5.1.1')).ok, true);
  assert.equal((await rcptWith('550 5.1.1 user not ok', '5xx /user not ok/')).ok, true);
});

test('EXPECT "text" alone, through the language service\'s plan: the refusal fails', async () => {
  const server = await rawServer((conn) => hostileSmtp(conn, { RCPT: '550 5.1.1 user not ok\r\n' }, false));
  servers.push(server);
  const text = `### text only\nCONNECT smtp://127.0.0.1:${server.port}\nEHLO client.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@a.test>\nEXPECT "ok"\nQUIT\n`;
  const analysis = analyzeSmtpDocument(text, 'text-only.smtp');
  assert.deepEqual(analysis.problems.filter((p) => p.severity === 'error'), []);
  const r = await runSession(analysis.plans[0], { timeouts: PATIENT });
  assert.equal(r.ok, false, explain(r));
  assert.equal(r.failure?.line, 4, explain(r));
  assert.match(r.failure?.message ?? '', /expected 2xx, got 550/, explain(r));
});

test('wrong reply class: a 354 greeting fails the session as a refusal', async () => {
  const server = await rawServer((conn) => hostileSmtp(conn, { GREETING: '354 hello?\r\n' }, false));
  servers.push(server);
  const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${server.port}`, steps: [ehlo(), cmd('QUIT')] }), { timeouts: PATIENT });
  assert.equal(r.ok, false);
  assert.equal(r.failure?.kind, 'connection');
  assert.match(r.failure?.message ?? '', /354 hello\?/);
});
