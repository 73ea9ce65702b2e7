// The one home of the bulk check with transport facts (reports/bulkCheck.ts), against a real Knot
// serving example.test, plain.test and the reverse zone of 127.0.0.1:
// - without a transport (a file), TLS and FCrDNS are unknown, never passed;
// - with one, the sending IP's forward-confirmed reverse DNS is looked up: confirmed, a PTR name
//   that does not resolve back, no PTR at all; a DNS server that does not answer leaves it unknown
//   and marks the check as unanswered;
// - the EHLO name and MAIL FROM of a sent message come from the engine's report (as sent, never
//   from the masked step results), and are masked only where shown;
// - one check asks each DNS question once (onceResolver), and a signal stops it between messages;
// - the exit code of `run --bulk` and the text output (escaped, with links).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createResolver } from '../../client/src/mailAuth/resolver';
import { verifyMessage } from '../../client/src/mailAuth/verify';
import type { SentMessage } from '../../client/src/engine/types';
import type { MailauthResolver } from '../../client/src/mailAuth/resolver';
import {
  bulkCheckIo,
  checkBulkMessage,
  checkSentMessages,
  formatBulkText,
  formatRunBulkText,
  runBulkJson,
  runBulkJunitCases,
  runBulkOutcome,
  onceResolver,
  type BulkCheckIo,
  type RunMessageCheck,
} from '../../client/src/reports/bulkCheck';
import { makeKeys, type TestKeys } from '../mailAuth/fixtures';
import { startKnot, type KnotPeer } from '../peers/knot';
import { freePort } from '../peers/ports';
import { bulkZones, signedBulkMessage } from './bulkMessages';

let knot: KnotPeer;
let keys: TestKeys;
let io: BulkCheckIo;

before(async () => {
  keys = makeKeys();
  knot = await startKnot({ zones: bulkZones(keys) });
  io = { verify: verifyMessage, resolver: createResolver({ server: knot.address, timeoutMs: 2000, tries: 2 }), authServId: 'mx.test' };
});

after(async () => {
  await knot?.stop();
});

const statusOf = (results: Array<{ code: string; status: string }>, code: string): string | undefined => results.find((r) => r.code === code)?.status;

describe('checkBulkMessage', () => {
  it('without a transport (a file): TLS and FCrDNS unknown, the rest decided', async () => {
    const c = await checkBulkMessage(await signedBulkMessage(keys), { ip: '127.0.0.1', helo: 'mail.example.test', mailFrom: 'bounce@example.test' }, io);
    assert.equal(statusOf(c.requirements, 'bulk-tls'), 'unknown');
    assert.equal(statusOf(c.requirements, 'bulk-fcrdns'), 'unknown');
    assert.equal(c.fcrdns, undefined);
    assert.equal(c.dnsUnanswered, false);
    assert.deepEqual(c.requirements.filter((r) => r.status === 'fail'), []);
    assert.equal(c.report.smtp.sources.mailFrom, 'caller');
  });

  it('with a transport: TLS as given, FCrDNS confirmed for 127.0.0.1, failed for an address without PTR', async () => {
    const message = await signedBulkMessage(keys);
    const good = await checkBulkMessage(message, { ip: '127.0.0.1', helo: 'mail.example.test', mailFrom: 'bounce@example.test', transport: { tls: true, clientIp: '127.0.0.1' } }, io);
    assert.equal(statusOf(good.requirements, 'bulk-tls'), 'pass');
    assert.equal(statusOf(good.requirements, 'bulk-fcrdns'), 'pass');
    assert.deepEqual(good.fcrdns, { ptr: 'mail.example.test', confirmed: true });
    const none = await checkBulkMessage(message, { ip: '127.0.0.9', helo: 'mail.example.test', mailFrom: 'bounce@example.test', transport: { tls: false, clientIp: '127.0.0.9' } }, io);
    assert.equal(statusOf(none.requirements, 'bulk-tls'), 'fail');
    assert.equal(statusOf(none.requirements, 'bulk-fcrdns'), 'fail');
    assert.match(none.requirements.find((r) => r.code === 'bulk-fcrdns')!.message, /127\.0\.0\.9 has no reverse DNS/);
  });

  it('a DNS server that does not answer: FCrDNS unknown (not failed), the check marked unanswered', async () => {
    const silent = createResolver({ server: `127.0.0.1:${await freePort({ udp: true })}`, timeoutMs: 300, tries: 1 });
    const c = await checkBulkMessage(await signedBulkMessage(keys), { ip: '127.0.0.1', transport: { tls: true, clientIp: '127.0.0.1' } }, { ...io, resolver: silent });
    assert.equal(statusOf(c.requirements, 'bulk-fcrdns'), 'unknown');
    assert.ok(c.fcrdns?.error, 'the lookup error is kept');
    assert.equal(c.dnsUnanswered, true);
  });
});

describe('checkSentMessages', () => {
  const target = { scheme: 'smtp', host: '127.0.0.1', port: 25, lmtp: false, localAddress: '127.0.0.1' };
  const sentOf = (message: Buffer, over: Partial<SentMessage> = {}): SentMessage => ({ line: 4, message, tls: true, finalCodes: [250], target, helo: 'mail.example.test', mailFrom: 'bounce@example.test', ...over });

  it('masks the session’s secrets in the findings, after the decisions', async () => {
    const secret = 's3cr3t-token-42';
    const message = await signedBulkMessage(keys, { headers: ['List-Unsubscribe: <https://example.test/u/1>', `List-Unsubscribe-Post: List-Unsubscribe=${secret}`] });
    const sent = [sentOf(message)];
    const [plain] = await checkSentMessages(sent, io);
    const [masked] = await checkSentMessages(sent, io, { secrets: [secret] });
    const oneClick = (c: RunMessageCheck) => c.requirements.find((r) => r.code === 'bulk-one-click')!;
    assert.match(oneClick(plain).message, new RegExp(secret));
    assert.equal(oneClick(masked).status, 'fail', 'the decision is the same');
    assert.doesNotMatch(oneClick(masked).message, new RegExp(secret));
    assert.match(oneClick(masked).message, /List-Unsubscribe=\*{8}/);
    assert.deepEqual([masked.helo, masked.mailFrom, masked.clientIp], ['mail.example.test', 'bounce@example.test', '127.0.0.1']);
    assert.deepEqual(masked.requirements.filter((r) => r.status !== 'pass').map((r) => r.code), ['bulk-one-click']);
  });

  it('SPF is decided with the envelope as sent; a secret in it is masked only where shown', async () => {
    // The MAIL FROM's local part is a secret (a script's {{$secret USER}} also used for AUTH).
    const secret = 'bounce';
    const [c] = await checkSentMessages([sentOf(await signedBulkMessage(keys))], io, { secrets: [secret] });
    assert.equal(statusOf(c.requirements, 'bulk-spf'), 'pass', JSON.stringify(c.requirements));
    assert.equal(c.mailFrom, '********@example.test');
    assert.doesNotMatch(JSON.stringify(runBulkJson([c])), /bounce@/);
    assert.doesNotMatch(formatRunBulkText([c]), /bounce@/);
  });

  it('an address literal EHLO is the HELO identity as an address; no envelope means SPF without one', async () => {
    const message = await signedBulkMessage(keys);
    const [literal] = await checkSentMessages([sentOf(message, { helo: '[IPv6:2001:db8::1]' })], io);
    assert.equal(literal.helo, '2001:db8::1');
    const [bare] = await checkSentMessages([sentOf(message, { helo: undefined, mailFrom: undefined })], io);
    assert.equal(bare.helo, undefined);
    assert.equal(bare.mailFrom, undefined);
  });

  it('asks each DNS question once for all the messages of a check, and stops between messages when aborted', async () => {
    const asked: string[] = [];
    const counting: MailauthResolver = (name, rrtype) => {
      asked.push(`${rrtype} ${name}`);
      return io.resolver(name, rrtype);
    };
    const message = await signedBulkMessage(keys);
    const one = { ...io, resolver: onceResolver(counting) };
    await checkSentMessages([sentOf(message)], one);
    const forOne = asked.length;
    assert.ok(forOne > 3, asked.join(', '));
    asked.length = 0;
    const many = { ...io, resolver: onceResolver(counting) };
    const checks = await checkSentMessages([sentOf(message), sentOf(message, { line: 9 }), sentOf(message, { line: 14 })], many);
    assert.equal(checks.length, 3);
    assert.equal(asked.length, forOne, `the same questions, once: ${asked.join(', ')}`);
    assert.deepEqual(checks.map((c) => c.requirements.filter((r) => r.status !== 'pass').map((r) => r.code)), [[], [], []]);
    // The one home of the check's I/O uses it too: a second identical check through it asks nothing.
    let created = 0;
    const shared = bulkCheckIo({ verifyMessage: verifyMessage, createResolver: () => (created++, counting) }, knot.address);
    asked.length = 0;
    await checkSentMessages([sentOf(message)], shared);
    const first = asked.length;
    await checkSentMessages([sentOf(message)], shared);
    assert.equal(asked.length, first);
    assert.equal(created, 1);

    const stop = new AbortController();
    const progress: number[] = [];
    const stopped = await checkSentMessages([sentOf(message), sentOf(message, { line: 9 }), sentOf(message, { line: 14 })], many, {
      signal: stop.signal,
      onChecked: (n) => {
        progress.push(n);
        stop.abort();
      },
    });
    assert.deepEqual(stopped.map((c) => c.line), [4]);
    assert.deepEqual(progress, [1]);
  });
});

describe('run --bulk verdict and output', () => {
  const check = (over: Partial<RunMessageCheck>, statuses: Array<[string, 'pass' | 'fail' | 'unknown', string?]>): RunMessageCheck =>
    ({
      line: 6,
      finalCodes: [250],
      tls: true,
      clientIp: '127.0.0.1',
      helo: 'mail.example.test',
      mailFrom: 'bounce@example.test',
      dnsUnanswered: false,
      report: { authenticationResults: 'Authentication-Results: mx.test; spf=pass\r\n' },
      requirements: statuses.map(([code, status, message]) => ({ code, status, severity: 'info', title: code, message: message ?? `${code} is ${status}`, link: `https://example.test/${code}`, range: { start: 0, end: 1 } })),
      ...over,
    }) as RunMessageCheck;
  const pass = check({}, [['bulk-tls', 'pass'], ['bulk-fcrdns', 'pass']]);
  const fail = check({}, [['bulk-tls', 'fail'], ['bulk-fcrdns', 'unknown']]);
  const unanswered = check({ dnsUnanswered: true }, [['bulk-spf', 'unknown']]);

  it('exit codes: the run’s 2, 3 and 130 stand; DNS unanswered 3; a failure or nothing sent 1; unknown is no failure', () => {
    const cases: Array<[number, RunMessageCheck[], number]> = [
      [0, [pass], 0],
      [1, [pass], 1],
      [0, [fail], 1],
      [0, [], 1],
      [0, [pass, unanswered], 3],
      [1, [unanswered], 3],
      [2, [fail], 2],
      [3, [fail], 3],
      [130, [], 130],
      [0, [check({}, [['bulk-fcrdns', 'unknown']])], 0],
    ];
    for (const [run, checks, expected] of cases) assert.equal(runBulkOutcome(run, checks).code, expected, `${run} with ${checks.length} check(s)`);
    assert.match(runBulkOutcome(0, []).notes.join(), /no session sent a message/);
    assert.match(runBulkOutcome(0, [fail]).notes.join(), /1 of 1 message\(s\) fail/);
  });

  it('text: one heading per message with TLS, address, EHLO, MAIL FROM and reply; each requirement with its link; control characters escaped', () => {
    const hostile = check({ helo: 'evil\x1b[31m' }, [['bulk-dmarc-record', 'pass', 'a DMARC record is published at example.test: v=DMARC1; p=none; x=\x1b]8;;https://bad\x07']]);
    const text = formatRunBulkText([pass, hostile, fail]);
    assert.doesNotMatch(text, /[\x00-\x08\x0b-\x1f\x7f]/, 'no control character reaches the terminal');
    assert.match(text, /EHLO evil\\x1B\[31m/);
    assert.match(text, /x=\\x1B\]8;;https:\/\/bad\\x07/);
    assert.match(text, /^=== bulk-sender requirements of the message sent at line 7, over TLS, from 127\.0\.0\.1, EHLO mail\.example\.test, MAIL FROM:<bounce@example\.test>, reply 250$/m);
    assert.match(text, /^ {5}fail {4}bulk-tls +bulk-tls is fail {2}https:\/\/example\.test\/bulk-tls$/m);
    assert.match(text, /^ {5}1 requirement\(s\) fail; 1 unknown$/m);
    assert.equal(formatRunBulkText([]), '=== bulk-sender requirements: the session sent no message\n');
    assert.match(formatBulkText(fail.requirements), /1 requirement\(s\) fail; 1 cannot be told from the file/);
  });

  it('JSON keeps the values exact (1-based lines); JUnit has one case per message, a failure when one fails', () => {
    const hostile = check({ helo: 'evil\x1b' }, [['bulk-tls', 'pass']]);
    const [j] = runBulkJson([hostile]);
    assert.equal(j.line, 7);
    assert.equal(j.helo, 'evil\x1b', 'JSON is exact; escaping is the printer’s');
    assert.deepEqual(JSON.parse(JSON.stringify(j)).requirements[0].code, 'bulk-tls');
    const [ok, bad, silent] = runBulkJunitCases('Send [news]', [pass, fail, unanswered]);
    assert.equal(ok.verdict, undefined);
    assert.match(ok.name, /^Send \[news\] › bulk-sender requirements \(message at line 7\)$/);
    assert.deepEqual([bad.verdict?.tag, bad.verdict?.type, bad.verdict?.message], ['failure', 'bulk-sender', '1 requirement(s) fail: bulk-tls']);
    assert.deepEqual([silent.verdict?.tag, silent.verdict?.type], ['error', 'dns'], 'a check that could not run is an error, not a failure');
  });
});
