// The bulk-sender check of a `.smtp` run, in process, against real peers: the engine sends to a
// real Exim (test/peers/exim.ts), reports each message through RunOptions.onMessage, and
// reports/bulkCheck.ts checks it with a real Knot serving example.test and plain.test (SPF, DKIM,
// DMARC) and the reverse zone of 127.0.0.1 (the sending IP a receiver sees on loopback).
// - the engine's report: inline DATA (dot-stuffed lines arrive unstuffed), DATA < file, BDAT in
//   chunks and pipelined DATA each report the bytes Exim delivered, TLS, the local address, the
//   final codes, and the EHLO name and MAIL FROM as sent (unmasked), a pipelined `repeat` too;
// - a MAIL FROM that is a secret (also used for AUTH) is judged by SPF as sent, and shown masked;
// - a refused MAIL changes nothing, a MAIL sent by RAW counts, STARTTLS forgets the greeting, and a
//   finished transaction forgets its MAIL FROM;
// - a compliant message over STARTTLS passes every requirement, TLS and FCrDNS included;
// - one fixture per requirement, each failing only that requirement (TLS: a run without STARTTLS;
//   FCrDNS: a PTR name that does not resolve back).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { runSession } from '../../client/src/engine/session';
import type { SentMessage, SessionResult } from '../../client/src/engine/types';
import type { PlanStep } from '../../common/sessionPlan';
import { createResolver } from '../../client/src/mailAuth/resolver';
import { verifyMessage } from '../../client/src/mailAuth/verify';
import { checkSentMessages, formatRunBulkText, runBulkJson, type BulkCheckIo, type RunMessageCheck } from '../../client/src/reports/bulkCheck';
import { auth, bdat, cmd, data, explain, makePlan, PATIENT, raw, starttls } from '../engine/plan';
import { politeSmtp, rawServer } from '../engine/rawServer';
import { makeKeys, type TestKeys } from '../mailAuth/fixtures';
import { startExim, type EximPeer } from '../peers/exim';
import { startKnot, type KnotPeer } from '../peers/knot';
import { bulkMessage, bulkZones, GOOD_UNSUBSCRIBE, REVERSE_ORIGIN, reverseZone, signedBulkMessage, type SignedBulkOptions } from '../reports/bulkMessages';

let exim: EximPeer;
let knot: KnotPeer;
let keys: TestKeys;
let io: BulkCheckIo;

before(async () => {
  keys = makeKeys();
  [exim, knot] = await Promise.all([startExim(), startKnot({ zones: bulkZones(keys) })]);
  io = { verify: verifyMessage, resolver: createResolver({ server: knot.address, timeoutMs: 2000, tries: 2 }), authServId: 'mx.test' };
});

after(async () => {
  await Promise.all([exim?.stop(), knot?.stop()]);
});

interface SendOptions {
  tls?: boolean;
  pipelining?: boolean;
  mailFrom?: string;
  /** How the message goes: inline DATA lines, DATA < file, or BDAT < file in chunks. */
  via?: 'inline' | 'file' | 'bdat';
}

/** Sends one message to Exim and returns what the engine reported and what Exim delivered. */
async function send(message: Buffer, options: SendOptions = {}): Promise<{ result: SessionResult; sent: SentMessage[]; delivered: Buffer }> {
  await exim.clear();
  const file = '/virtual/message.eml';
  // Inline lines are written as in a script: a line that starts with "." is stuffed.
  const lines = message.toString('latin1').replace(/\r\n$/, '').split('\r\n').map((l) => (l.startsWith('.') ? `.${l}` : l));
  const body: PlanStep = options.via === 'bdat' ? bdat({ file }, 97) : options.via === 'file' ? data({ file }) : data(lines);
  const steps: PlanStep[] = [
    cmd('EHLO mail.example.test'),
    ...(options.tls === false ? [] : [starttls(), cmd('EHLO mail.example.test')]),
    cmd(`MAIL FROM:<${options.mailFrom ?? 'bounce@example.test'}>`),
    cmd('RCPT TO:<bob@example.test>'),
    body,
    cmd('QUIT'),
  ];
  const sent: SentMessage[] = [];
  const result = await runSession(
    makePlan({ connect: `smtp://127.0.0.1:${exim.port}`, tls: { ca: exim.caPath, sni: 'mail.example.test' }, options: { pipelining: options.pipelining === true }, steps }),
    { timeouts: PATIENT, readFile: async (path) => (path === file ? message : readFile(path)), onMessage: (m) => sent.push(m) },
  );
  assert.ok(result.ok, explain(result));
  const [delivered] = await exim.waitForMessages(1, 20_000);
  return { result, sent, delivered };
}

async function checkRun(message: Buffer, options: SendOptions = {}): Promise<{ check: RunMessageCheck; failing: string[] }> {
  const { result, sent } = await send(message, options);
  const checks = await checkSentMessages(sent, io);
  assert.equal(checks.length, 1);
  const check = checks[0];
  return { check, failing: check.requirements.filter((r) => r.status !== 'pass').map((r) => `${r.code}=${r.status}`) };
}

describe('the engine reports each message it sent (RunOptions.onMessage)', () => {
  const message = bulkMessage({ headers: ['X-Dots: below'] });
  const dotted = Buffer.concat([message.subarray(0, message.length - 2), Buffer.from('.a line with a dot\r\n..two dots\r\n')]);
  for (const [name, options] of [
    ['inline DATA over STARTTLS (dot-stuffed lines arrive unstuffed)', { via: 'inline' }],
    ['DATA < file without TLS', { via: 'file', tls: false }],
    ['BDAT < file in 97-octet chunks', { via: 'bdat' }],
    ['pipelined DATA', { via: 'inline', pipelining: true }],
  ] as Array<[string, SendOptions]>) {
    it(name, async () => {
      const { sent, delivered, result } = await send(dotted, options);
      assert.equal(sent.length, 1);
      const [m] = sent;
      assert.equal(m.message.toString('latin1'), delivered.toString('latin1'), 'the reported message is what Exim delivered');
      assert.equal(m.tls, options.tls !== false);
      assert.deepEqual(m.finalCodes, [250]);
      assert.equal(m.target?.localAddress, '127.0.0.1');
      assert.deepEqual([m.helo, m.mailFrom], ['mail.example.test', 'bounce@example.test']);
      assert.equal(m.line, result.steps.find((s) => /^(DATA|BDAT)/.test(s.command))?.line, 'the DATA or BDAT line');
      if (options.pipelining) assert.ok(result.transcript.some((e) => /^pipelining \d+ commands in one write/.test(e.text)), 'the transaction was pipelined');
      if (options.via === 'bdat') assert.ok(result.steps.some((st) => /^BDAT \(\d+ chunks/.test(st.command)), 'sent in BDAT chunks');
    });
  }
});

describe('smtpwb run --bulk in process: the checks of a run', () => {
  it('a compliant message over STARTTLS passes every requirement, TLS and FCrDNS included', async () => {
    const { check, failing } = await checkRun(await signedBulkMessage(keys));
    assert.deepEqual(failing, [], JSON.stringify(check.requirements, null, 2));
    assert.equal(check.requirements.length, 9);
    assert.deepEqual([check.clientIp, check.helo, check.mailFrom, check.tls], ['127.0.0.1', 'mail.example.test', 'bounce@example.test', true]);
    assert.deepEqual(check.fcrdns, { ptr: 'mail.example.test', confirmed: true });
    assert.match(check.requirements.find((r) => r.code === 'bulk-fcrdns')!.message, /127\.0\.0\.1 has reverse DNS mail\.example\.test that resolves back/);
    for (const r of check.requirements) assert.match(r.link, /^https:\/\//, r.code);
  });

  // One fixture per requirement: each fails that requirement only.
  const fixtures: Array<{ code: string; message: SignedBulkOptions; send?: SendOptions }> = [
    { code: 'bulk-spf', message: {}, send: { mailFrom: 'bounce@softfail.example.test' } },
    { code: 'bulk-dkim', message: { selector: 'missing' } },
    { code: 'bulk-dmarc-record', message: { from: 'news@plain.test', domain: 'plain.test' }, send: { mailFrom: 'bounce@plain.test' } },
    { code: 'bulk-from-alignment', message: { domain: 'plain.test' }, send: { mailFrom: 'bounce@plain.test' } },
    { code: 'bulk-list-unsubscribe', message: { headers: ['List-Unsubscribe: <mailto:unsub@example.test>', GOOD_UNSUBSCRIBE[1]] } },
    { code: 'bulk-one-click', message: { headers: [GOOD_UNSUBSCRIBE[0], 'List-Unsubscribe-Post: List-Unsubscribe=Yes'] } },
    { code: 'bulk-unsubscribe-signed', message: { headerList: ['from', 'to', 'subject', 'date', 'message-id'] } },
    { code: 'bulk-tls', message: {}, send: { tls: false } },
  ];
  for (const f of fixtures) {
    it(`${f.code} fails alone`, async () => {
      const { check, failing } = await checkRun(await signedBulkMessage(keys, f.message), f.send);
      // A DKIM signature that does not verify also leaves the unsubscribe fields unsigned (RFC 8058 §4).
      const expected = f.code === 'bulk-dkim' ? ['bulk-dkim=fail', 'bulk-unsubscribe-signed=fail'] : [`${f.code}=fail`];
      assert.deepEqual(failing, expected, JSON.stringify(check.requirements.filter((r) => r.status !== 'pass'), null, 2));
    });
  }

  it('bulk-fcrdns fails alone when the PTR name does not resolve back, and passes again when it does', async () => {
    const message = await signedBulkMessage(keys);
    await knot.setZone(REVERSE_ORIGIN, reverseZone('elsewhere.example.test'));
    try {
      const { check, failing } = await checkRun(message);
      assert.deepEqual(failing, ['bulk-fcrdns=fail']);
      assert.deepEqual(check.fcrdns, { ptr: 'elsewhere.example.test', confirmed: false });
      assert.match(check.requirements.find((r) => r.code === 'bulk-fcrdns')!.message, /reverse DNS elsewhere\.example\.test, which does not resolve back/);
    } finally {
      await knot.setZone(REVERSE_ORIGIN, reverseZone());
    }
    assert.deepEqual((await checkRun(message)).failing, []);
  });

  it('two pipelined transactions on one connection: each message is checked with its own MAIL FROM', async () => {
    await exim.clear();
    const first = await signedBulkMessage(keys, { messageId: 'first@example.test', subject: 'first' });
    const second = await signedBulkMessage(keys, { messageId: 'second@example.test', subject: 'second', domain: 'plain.test' });
    const lines = (m: Buffer): string[] => m.toString('latin1').replace(/\r\n$/, '').split('\r\n');
    const sent: SentMessage[] = [];
    const result = await runSession(
      makePlan({
        connect: `smtp://127.0.0.1:${exim.port}`,
        options: { pipelining: true },
        steps: [cmd('EHLO [127.0.0.1]'), cmd('MAIL FROM:<bounce@example.test>'), cmd('RCPT TO:<bob@example.test>'), data(lines(first)), cmd('MAIL FROM:<bounce@plain.test> SIZE=2000'), cmd('RCPT TO:<bob@example.test>'), data(lines(second)), cmd('QUIT')],
      }),
      { timeouts: PATIENT, onMessage: (m) => sent.push(m) },
    );
    assert.ok(result.ok, explain(result));
    const delivered = await exim.waitForMessages(2, 20_000);
    const checks = await checkSentMessages(sent, io);
    // Exim may deliver the two in either order: compare them as a set.
    assert.deepEqual(sent.map((m) => m.message.toString('latin1')).sort(), delivered.map((m) => m.toString('latin1')).sort());
    assert.deepEqual(checks.map((c) => [c.helo, c.mailFrom, c.tls]), [['127.0.0.1', 'bounce@example.test', false], ['127.0.0.1', 'bounce@plain.test', false]]);
    const failing = (c: RunMessageCheck): string[] => c.requirements.filter((r) => r.status !== 'pass').map((r) => r.code);
    assert.deepEqual(failing(checks[0]), ['bulk-tls']);
    assert.deepEqual(failing(checks[1]), ['bulk-from-alignment', 'bulk-tls'], 'the second message is signed and sent as plain.test');
  });
});

describe('the envelope of a sent message is the one sent, not the masked transcript', () => {
  it('a MAIL FROM that is a secret (also used for AUTH) passes SPF, and is shown masked', async () => {
    await exim.clear();
    // As `MAIL FROM:<{{$secret USER}}>` with USER also the AUTH user name: the engine masks it in
    // every step result and event, so the check must not read it from there.
    const secret = 'bounce@example.test';
    const message = await signedBulkMessage(keys, { headers: [...GOOD_UNSUBSCRIBE, `X-Account: ${secret}`] });
    const lines = message.toString('latin1').replace(/\r\n$/, '').split('\r\n');
    const sent: SentMessage[] = [];
    const result = await runSession(
      makePlan({
        connect: `smtp://127.0.0.1:${exim.port}`,
        tls: { ca: exim.caPath, sni: 'mail.example.test' },
        steps: [cmd('EHLO mail.example.test'), starttls(), cmd('EHLO mail.example.test'), auth('PLAIN', exim.user, exim.pass), cmd(`MAIL FROM:<${secret}>`), cmd('RCPT TO:<bob@example.test>'), data(lines), cmd('QUIT')],
      }),
      { timeouts: PATIENT, secrets: [secret, exim.pass], onMessage: (m) => sent.push(m) },
    );
    assert.ok(result.ok, explain(result));
    assert.ok(result.steps.some((s) => s.command === 'MAIL FROM:<********>'), 'the step result is masked');
    assert.deepEqual([sent.length, sent[0].mailFrom, sent[0].helo], [1, secret, 'mail.example.test'], 'the engine reports it as sent');
    // The peer's password is the word "pass", which as a secret would mask every verdict word of
    // Authentication-Results: only the address is given to the check.
    const [check] = await checkSentMessages(sent, io, { secrets: [secret] });
    const failing = check.requirements.filter((r) => r.status !== 'pass').map((r) => `${r.code}=${r.status}`);
    assert.deepEqual(failing, [], JSON.stringify(check.requirements, null, 2));
    assert.match(check.report.authenticationResults, /spf=pass/);
    // Shown masked everywhere: the heading, the findings, Authentication-Results, --json.
    assert.equal(check.mailFrom, '********');
    assert.doesNotMatch(formatRunBulkText([check]), /bounce@example\.test/);
    assert.doesNotMatch(JSON.stringify(runBulkJson([check])), /bounce@example\.test/);
  });

  it('a pipelined repeat reports the message of its first transaction, with that MAIL FROM', async () => {
    const message = await signedBulkMessage(keys);
    const lines = message.toString('latin1').replace(/\r\n$/, '').split('\r\n');
    const run = async (steps: PlanStep[], repeat: number, messages: number): Promise<{ sent: SentMessage[]; result: SessionResult }> => {
      await exim.clear();
      const sent: SentMessage[] = [];
      const result = await runSession(makePlan({ connect: `smtp://127.0.0.1:${exim.port}`, options: { pipelining: true }, steps }), { timeouts: PATIENT, repeat, onMessage: (m) => sent.push(m) });
      assert.ok(result.ok, explain(result));
      assert.equal(result.repeat?.delivered, messages, JSON.stringify(result.repeat));
      await exim.waitForMessages(messages, 20_000);
      return { sent, result };
    };
    // One transaction in one RFC 2920 group: each body goes out with the next transaction's commands.
    const one = await run([cmd('EHLO [127.0.0.1]'), cmd('MAIL FROM:<bounce@example.test>'), cmd('RCPT TO:<bob@example.test>'), data(lines), cmd('QUIT')], 3, 3);
    assert.ok(one.result.transcript.some((e) => /^pipelining \d+ commands in one write/.test(e.text)), 'the transactions were pipelined');
    assert.deepEqual(one.sent.map((m) => [m.helo, m.mailFrom]), [['[127.0.0.1]', 'bounce@example.test']]);
    const [check] = await checkSentMessages(one.sent, io);
    assert.deepEqual([check.helo, check.mailFrom], ['127.0.0.1', 'bounce@example.test']);
    assert.equal(check.requirements.find((r) => r.code === 'bulk-spf')?.status, 'pass');
    // Two transactions repeated together: the first round is reported, each message with its own MAIL FROM.
    const two = await run([cmd('EHLO [127.0.0.1]'), cmd('MAIL FROM:<bounce@example.test>'), cmd('RCPT TO:<bob@example.test>'), data(lines), cmd('RSET'), cmd('MAIL FROM:<>'), cmd('RCPT TO:<bob@example.test>'), data(lines), cmd('QUIT')], 2, 4);
    assert.deepEqual(two.sent.map((m) => [m.helo, m.mailFrom]), [['[127.0.0.1]', 'bounce@example.test'], ['[127.0.0.1]', '']]);
  });
  it('a refused MAIL changes nothing; a MAIL sent by RAW counts, quoted local part and all; STARTTLS forgets the greeting', async () => {
    const message = await signedBulkMessage(keys);
    const lines = message.toString('latin1').replace(/\r\n$/, '').split('\r\n');
    const run = async (steps: PlanStep[]): Promise<SentMessage[]> => {
      await exim.clear();
      const sent: SentMessage[] = [];
      const result = await runSession(makePlan({ connect: `smtp://127.0.0.1:${exim.port}`, tls: { ca: exim.caPath, sni: 'mail.example.test' }, steps }), { timeouts: PATIENT, onMessage: (m) => sent.push(m) });
      assert.ok(result.ok, explain(result));
      await exim.waitForMessages(1, 20_000);
      return sent;
    };
    // RFC 5321 §4.1.1.2: a refused MAIL opens no transaction; the accepted one (sent by RAW here) is the reverse-path.
    const refused = await run([cmd('EHLO mail.example.test'), cmd('MAIL FROM:<bad@@example.test>', '5xx'), raw('MAIL FROM:<"odd>name"@example.test> SIZE=10\\r\\n', '250'), cmd('RCPT TO:<bob@example.test>'), data(lines), cmd('QUIT')]);
    assert.deepEqual(refused.map((m) => [m.helo, m.mailFrom]), [['mail.example.test', '"odd>name"@example.test']]);
    // RFC 3207 §4.2: after STARTTLS the server knows only the greeting sent over TLS.
    const tls = await run([cmd('EHLO before.example.test'), starttls(), cmd('EHLO mail.example.test'), cmd('MAIL FROM:<bounce@example.test>'), cmd('RCPT TO:<bob@example.test>'), data(lines), cmd('QUIT')]);
    assert.deepEqual(tls.map((m) => [m.helo, m.mailFrom, m.tls]), [['mail.example.test', 'bounce@example.test', true]]);
  });

  it('a finished transaction ends its MAIL FROM: a lax server that takes a message after a refused MAIL gets no stale reverse-path', async () => {
    // RFC 5321 §4.1.1.4: the reply to the end of the data ends the transaction, whatever it says.
    // Exim refuses RCPT without MAIL, so a server of the test's own plays the lax one.
    // Polite but lax: it takes RCPT and DATA whether or not a MAIL was accepted.
    const server = await rawServer((c) => politeSmtp(c, [], 'lax.example.test', (line) => (line.includes('refused@') ? '550 5.7.1 not this sender' : undefined)));
    try {
      const sent: SentMessage[] = [];
      const steps = [
        cmd('EHLO mail.example.test'),
        cmd('MAIL FROM:<first@example.test>'),
        cmd('RCPT TO:<bob@example.test>'),
        data(['Subject: one', '', 'One.']),
        cmd('MAIL FROM:<refused@example.test>', '5xx'),
        cmd('RCPT TO:<bob@example.test>'),
        data(['Subject: two', '', 'Two.']),
        cmd('QUIT'),
      ];
      const result = await runSession(makePlan({ connect: `smtp://127.0.0.1:${server.port}`, steps }), { timeouts: PATIENT, onMessage: (m) => sent.push(m) });
      assert.ok(result.ok, explain(result));
      assert.deepEqual(sent.map((m) => [m.helo, m.mailFrom]), [['mail.example.test', 'first@example.test'], ['mail.example.test', undefined]]);
    } finally {
      await server.close();
    }
  });
});
