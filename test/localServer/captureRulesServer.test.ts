// Behaviour rules in the running capture server, driven by the project's session engine: each rule
// kind (reply, close, delay, greylist, require, extensions, sizes, attempts, time windows, CONNECT,
// BDAT), the rules recorded with the stored message, in the log, and in the reply a transcript shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseCaptureRules, type CaptureLogEntry, type CaptureRules } from '../../client/src/localServer';
import { bdat } from '../engine/plan';
import { RawSmtp } from '../peers/rawSmtp';
import { auth, cmd, data, makePlan, nextMessage, sendLocal, starttls, why, withCaptureServer } from './support';

function rules(list: object[]): CaptureRules {
  const parsed = parseCaptureRules(JSON.stringify({ version: 1, rules: list }));
  assert.deepEqual(parsed.problems, []);
  return parsed.rules;
}

const EHLO = cmd('EHLO client.example.test');
const MAIL = cmd('MAIL FROM:<alice@example.test>');
const BODY = ['Subject: rules', '', 'body'];

function sidecarRules(path: string): Array<{ name: string; action: string; command: string; reply?: string }> {
  return (JSON.parse(readFileSync(path.replace(/\.eml$/, '.envelope.json'), 'utf8')) as { rules?: Array<{ name: string; action: string; command: string; reply?: string }> }).rules ?? [];
}

test('reply: some recipients of a message are refused, the others accepted; the rule is stored with the message and logged', async () => {
  const log: CaptureLogEntry[] = [];
  await withCaptureServer({ tls: false, logger: (e) => log.push(e), rules: rules([{ name: 'no such user', when: { command: 'RCPT', recipient: 'nobody@*' }, reply: '550 5.1.1 No such user' }]) }, async (server) => {
    const arrived = nextMessage(server);
    const result = await sendLocal(
      server,
      makePlan({ steps: [EHLO, MAIL, cmd('RCPT TO:<bob@example.test>'), cmd('RCPT TO:<nobody@example.test>', '550 5.1.1'), cmd('RCPT TO:<carol@example.test>'), data(BODY), cmd('QUIT')] }),
    );
    assert.equal(result.ok, true, why(result));
    assert.equal(result.steps[3].reply?.lines.join(''), '550 5.1.1 No such user');
    const message = await arrived;
    assert.deepEqual(message.envelope?.rcptTo, ['bob@example.test', 'carol@example.test']);
    assert.deepEqual(
      message.rules?.map((r) => [r.name, r.action, r.command, r.reply]),
      [['no such user', 'reply', 'RCPT', '550 5.1.1 No such user']],
    );
    assert.deepEqual(sidecarRules(message.path).map((r) => r.name), ['no such user']);
    assert.ok(log.some((e) => e.message === 'rule "no such user" (reply) at RCPT: 550 5.1.1 No such user'), JSON.stringify(log));
  });
});

test('greylist: 451 on the first attempt, accepted when retried after retryAfter (server clock)', async () => {
  let now = Date.UTC(2026, 10, 23, 10, 0, 0);
  await withCaptureServer({ tls: false, clock: () => now, rules: rules([{ name: 'grey', greylist: { retryAfter: 300 } }]) }, async (server) => {
    const plan = (expect?: string): ReturnType<typeof makePlan> =>
      makePlan({ steps: [EHLO, MAIL, cmd('RCPT TO:<bob@example.test>', expect), ...(expect ? [] : [data(BODY)]), cmd('QUIT')] });
    const first = await sendLocal(server, plan('451 4.7.1'));
    assert.equal(first.ok, true, why(first));
    assert.match(first.steps[2].reply?.lines.join('') ?? '', /Greylisted: try again in 300 seconds/);
    now += 299_000;
    const early = await sendLocal(server, plan('451'));
    assert.equal(early.ok, true, why(early));
    now += 2000;
    const arrived = nextMessage(server);
    const later = await sendLocal(server, plan());
    assert.equal(later.ok, true, why(later));
    assert.deepEqual((await arrived).rules?.map((r) => r.action), ['greylist-passed']);
  });
});

test('close, and a 421 reply, end the connection; delay holds the reply', async () => {
  await withCaptureServer(
    {
      tls: false,
      rules: rules([
        { name: 'drop at DATA', when: { command: 'DATA', sender: 'drop@*' }, close: true },
        { name: 'shutdown', when: { command: 'MAIL', sender: 'shutdown@*' }, reply: '421 4.3.2 Going down' },
        { name: 'slow', when: { command: 'RCPT' }, delay: 0.05 },
      ]),
    },
    async (server) => {
      const dropped = await sendLocal(server, makePlan({ steps: [EHLO, cmd('MAIL FROM:<drop@example.test>'), cmd('RCPT TO:<b@example.test>'), data(BODY), cmd('QUIT')] }));
      assert.equal(dropped.ok, false);
      assert.equal(dropped.steps[3]?.reply, undefined, 'no reply to DATA, the connection was closed');
      const down = await sendLocal(server, makePlan({ steps: [EHLO, cmd('MAIL FROM:<shutdown@example.test>', '421'), cmd('QUIT')] }));
      assert.equal(down.steps[1].reply?.lines.join(''), '421 4.3.2 Going down');
      assert.notEqual(down.steps[2]?.reply?.code, 221, 'after 421 the server closed the connection');
      const arrived = nextMessage(server);
      const slow = await sendLocal(server, makePlan({ steps: [EHLO, MAIL, cmd('RCPT TO:<b@example.test>'), data(BODY), cmd('QUIT')] }));
      assert.equal(slow.ok, true, why(slow));
      assert.deepEqual((await arrived).rules?.map((r) => [r.name, r.action]), [['slow', 'delay']]);
      assert.equal((await server.list()).length, 1, 'nothing was stored for the dropped transaction');
    },
  );
});

test('require starttls and require auth: 530 until the client did it', async () => {
  await withCaptureServer({ rules: rules([{ require: 'starttls' }, { require: 'auth' }]) }, async (server) => {
    const plain = await sendLocal(server, makePlan({ steps: [EHLO, cmd('MAIL FROM:<a@example.test>', '530 5.7.0 "STARTTLS"'), cmd('QUIT')] }));
    assert.equal(plain.ok, true, why(plain));
    const noAuth = await sendLocal(
      server,
      makePlan({ tls: { ca: server.certificatePath }, steps: [EHLO, starttls(), EHLO, cmd('MAIL FROM:<a@example.test>', '530 5.7.0 "Authentication required"'), cmd('QUIT')] }),
    );
    assert.equal(noAuth.ok, true, why(noAuth));
    const arrived = nextMessage(server);
    const good = await sendLocal(
      server,
      makePlan({ tls: { ca: server.certificatePath }, steps: [EHLO, starttls(), EHLO, auth('PLAIN', 'u', 'p'), MAIL, cmd('RCPT TO:<b@example.test>'), data(BODY), cmd('QUIT')] }),
    );
    assert.equal(good.ok, true, why(good));
    assert.equal((await arrived).envelope?.tls !== null, true);
  });
});

test('extensions: hide CHUNKING, SMTPUTF8 and STARTTLS, advertise DSN, a SIZE limit; hidden ones are refused', async () => {
  await withCaptureServer({ rules: rules([{ name: 'lean', extensions: { hide: ['CHUNKING', 'SMTPUTF8', 'STARTTLS'], advertise: ['DSN'], size: 100 } }]) }, async (server) => {
    const result = await sendLocal(
      server,
      makePlan({
        steps: [
          EHLO,
          cmd('STARTTLS', '502 5.5.1'),
          cmd('MAIL FROM:<a@example.test> SMTPUTF8', '555 5.5.4'),
          cmd('MAIL FROM:<a@example.test> SIZE=101', '552 5.3.4'),
          MAIL,
          cmd('RCPT TO:<b@example.test>'),
          data(['Subject: too big', '', 'x'.repeat(200)], '552 5.3.4'),
          cmd('QUIT'),
        ],
      }),
    );
    assert.equal(result.ok, true, why(result));
    const keywords = Object.keys(result.capabilities?.keywords ?? {});
    assert.ok(!keywords.includes('CHUNKING') && !keywords.includes('SMTPUTF8') && !keywords.includes('STARTTLS'), keywords.join(' '));
    assert.ok(keywords.includes('DSN'));
    assert.equal(result.capabilities?.size, 100);
    assert.equal((await server.list()).length, 0);
  });
});

test('attempt, time window and message size select when a rule fires', async () => {
  let now = Date.UTC(2026, 10, 23, 10, 0, 0);
  await withCaptureServer(
    {
      tls: false,
      clock: () => now,
      rules: rules([
        { name: 'flaky', when: { command: 'MAIL', sender: 'retry@*', attempt: { max: 2 } }, reply: '451 4.3.0 Try again later' },
        { name: 'maintenance', when: { command: 'CONNECT', after: 60, before: 120 }, reply: '554 5.3.2 In maintenance' },
        { name: 'big', when: { command: 'MESSAGE', size: { min: 100 } }, reply: '552 5.3.4 Too big for this test' },
      ]),
    },
    async (server) => {
      const retry = (expect?: string) => makePlan({ steps: [EHLO, cmd('MAIL FROM:<retry@example.test>', expect), cmd('QUIT')] });
      assert.equal((await sendLocal(server, retry('451'))).ok, true);
      assert.equal((await sendLocal(server, retry('451'))).ok, true);
      const third = await sendLocal(server, retry());
      assert.equal(third.ok, true, why(third));
      const big = await sendLocal(server, makePlan({ steps: [EHLO, MAIL, cmd('RCPT TO:<b@example.test>'), data(['Subject: big', '', 'y'.repeat(200)], '552 5.3.4 "Too big for this test"'), cmd('QUIT')] }));
      assert.equal(big.ok, true, why(big));
      assert.equal((await server.list()).length, 0, 'a refused message is not stored');
      now += 61_000;
      const raw = await RawSmtp.connect(server.host, server.port);
      const greeting = await raw.read();
      assert.equal(`${greeting.code} ${greeting.lines.join('')}`.includes('554'), true, JSON.stringify(greeting));
      raw.destroy();
      now += 60_000;
      const open = await sendLocal(server, makePlan({ steps: [EHLO, cmd('QUIT')] }));
      assert.equal(open.ok, true, why(open));
    },
  );
});

test('BDAT: a rule can refuse a chunk, whose octets are still read; the session goes on', async () => {
  await withCaptureServer({ tls: false, rules: rules([{ name: 'no bdat for eve', when: { command: 'BDAT', sender: 'eve@*' }, reply: '554 5.7.1 Not from you' }]) }, async (server) => {
    const refused = await sendLocal(
      server,
      makePlan({ steps: [EHLO, cmd('MAIL FROM:<eve@example.test>'), cmd('RCPT TO:<b@example.test>'), bdat(BODY, undefined, '554 5.7.1'), cmd('NOOP'), cmd('QUIT')] }),
    );
    assert.equal(refused.ok, true, why(refused));
    const arrived = nextMessage(server);
    const accepted = await sendLocal(server, makePlan({ steps: [EHLO, MAIL, cmd('RCPT TO:<b@example.test>'), bdat(BODY), cmd('QUIT')] }));
    assert.equal(accepted.ok, true, why(accepted));
    assert.equal(readFileSync((await arrived).path, 'latin1'), 'Subject: rules\r\n\r\nbody\r\n');
  });
});

test('setRules replaces the rules of a running server', async () => {
  await withCaptureServer({ tls: false }, async (server) => {
    assert.equal(server.rules.rules.length, 0);
    server.setRules(rules([{ when: { command: 'RCPT' }, reply: '550 5.7.1 Closed for the test' }]));
    const result = await sendLocal(server, makePlan({ steps: [EHLO, MAIL, cmd('RCPT TO:<b@example.test>', '550 5.7.1'), cmd('QUIT')] }));
    assert.equal(result.ok, true, why(result));
    server.setRules({ version: 1, rules: [] });
    const open = await sendLocal(server, makePlan({ steps: [EHLO, MAIL, cmd('RCPT TO:<b@example.test>'), cmd('QUIT')] }));
    assert.equal(open.ok, true, why(open));
  });
});

test('rules match non-ASCII addresses as the client wrote them (SMTPUTF8, RFC 6531): a sender and a recipient rule with ö and ä fire', async () => {
  const log: CaptureLogEntry[] = [];
  await withCaptureServer(
    {
      tls: false,
      logger: (e) => log.push(e),
      rules: rules([
        { name: 'no jörg', when: { command: 'MAIL', sender: 'jörg@*' }, reply: '550 5.7.1 not joerg' },
        { name: 'no ärger', when: { command: 'RCPT', recipient: 'ärger@*' }, reply: '550 5.1.1 no aerger' },
      ]),
    },
    async (server) => {
      const result = await sendLocal(
        server,
        makePlan({
          steps: [
            EHLO,
            cmd('MAIL FROM:<jörg@exämple.test> SMTPUTF8', '550'),
            cmd('MAIL FROM:<anna@exämple.test> SMTPUTF8'),
            cmd('RCPT TO:<ärger@exämple.test>', '550'),
            cmd('RCPT TO:<bob@example.test>'),
            cmd('QUIT'),
          ],
        }),
      );
      assert.equal(result.ok, true, why(result));
      assert.equal(result.steps[1].reply?.lines.join(''), '550 5.7.1 not joerg');
      assert.equal(result.steps[3].reply?.lines.join(''), '550 5.1.1 no aerger');
      assert.ok(log.some((e) => e.message.startsWith('rule "no jörg" (reply) at MAIL')), JSON.stringify(log));
      assert.ok(log.some((e) => e.message.startsWith('rule "no ärger" (reply) at RCPT')), JSON.stringify(log));
    },
  );
});
