// Unit tests of the engine's pure parts: the streaming reply parser, capabilities, expectations,
// message encoding, RAW escapes, masking and the AUTH payloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { ReplyParser, ReplyProtocolError, parseCapabilities, enhancedCodeOf } from '../../client/src/engine/replies';
import { checkExpectation, keepsStepNeed, withStepNeed } from '../../client/src/engine/expect';
import { decodeRawEscapes, escapeBytes } from '../../common/escape';
import { canonicalMessage, inlineBdatMessage, inlineDataBytes } from '../../client/src/engine/data';
import { Masker } from '../../client/src/engine/mask';
import { cramMd5Response, plainPayload, xoauth2Payload } from '../../client/src/engine/auth';
import { junitXml, xmlEscape } from '../../client/src/cli/junit';
import { formatEvent } from '../../client/src/output/transcriptText';
import { exitCodeOf, parseHostPort, parseRunArgs } from '../../client/src/cli/runCommand';
import type { SessionResult } from '../../client/src/engine/types';
import { expectation, implicit } from './plan';

test('reply parser: replies split anywhere across chunks, multi-line, bare LF tolerated', () => {
  const text = '250-mail.example.test hello\r\n250-SIZE 1000\r\n250 PIPELINING\r\n550 5.1.1 no such user\n';
  for (let cut = 1; cut < text.length; cut++) {
    const p = new ReplyParser();
    const replies = [...p.push(Buffer.from(text.slice(0, cut))), ...p.push(Buffer.from(text.slice(cut)))];
    assert.equal(replies.length, 2, `cut at ${cut}`);
    assert.equal(replies[0].code, 250);
    assert.equal(replies[0].lines.length, 3);
    assert.equal(replies[0].text, 'mail.example.test hello\nSIZE 1000\nPIPELINING');
    assert.equal(replies[1].enhanced, '5.1.1');
  }
  const byteByByte = new ReplyParser();
  let count = 0;
  for (const b of Buffer.from(text)) count += byteByByte.push(Buffer.from([b])).length;
  assert.equal(count, 2);
});

test('reply parser: a bare code and a code with an empty text are replies', () => {
  const p = new ReplyParser();
  const r = p.push(Buffer.from('250\r\n354 \r\n'));
  assert.deepEqual(r.map((x) => [x.code, x.text]), [
    [250, ''],
    [354, ''],
  ]);
});

test('reply parser: grammar violations are ReplyProtocolErrors', () => {
  for (const bad of ['hello\r\n', '199 too low\r\n', '260 bad second digit\r\n', '25 short\r\n', '250xno separator\r\n', '250-a\r\n251 b\r\n']) {
    assert.throws(() => new ReplyParser().push(Buffer.from(bad)), ReplyProtocolError, bad);
  }
  assert.throws(() => new ReplyParser().push(Buffer.alloc(70_000, 0x41)), /without ending the line/);
});

test('enhanced status codes only when the class matches (RFC 3463, RFC 2034 §4)', () => {
  assert.equal(enhancedCodeOf(550, '5.1.1 no'), '5.1.1');
  assert.equal(enhancedCodeOf(250, '2.0.0'), '2.0.0');
  assert.equal(enhancedCodeOf(250, '5.1.1 mismatch'), undefined);
  assert.equal(enhancedCodeOf(250, '2.0.0.1 not one'), undefined);
  assert.equal(enhancedCodeOf(250, 'OK'), undefined);
  // RFC 3463 §2: class "." subject "." detail, subject and detail of 1 to 3 digits, then whitespace or the end.
  assert.equal(enhancedCodeOf(250, '2.123.456 three digits'), '2.123.456');
  assert.equal(enhancedCodeOf(450, '4.4.1\tafter a tab'), '4.4.1');
  assert.equal(enhancedCodeOf(550, '5.7.1\u00a0after a no-break space'), '5.7.1');
  assert.equal(enhancedCodeOf(250, '2.1234.5 four digits'), undefined);
  assert.equal(enhancedCodeOf(250, '2.0.0000 four digits'), undefined);
  assert.equal(enhancedCodeOf(250, '2.0.0x glued'), undefined);
  assert.equal(enhancedCodeOf(250, '2..0 empty subject'), undefined);
  assert.equal(enhancedCodeOf(250, '2.0. empty detail'), undefined);
  assert.equal(enhancedCodeOf(354, '3.0.0 no class 3'), undefined);
  assert.equal(enhancedCodeOf(250, ' 2.0.0 leading blank'), undefined);
  assert.equal(enhancedCodeOf(250, ''), undefined);
});

test('capabilities: keywords with arguments, SIZE, AUTH (and the old AUTH= form)', () => {
  const p = new ReplyParser();
  const [reply] = p.push(Buffer.from('250-mx hello\r\n250-SIZE 52428800\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=CRAM-MD5\r\n250-8BITMIME\r\n250 pipelining\r\n'));
  const caps = parseCapabilities(reply);
  assert.equal(caps.size, 52428800);
  assert.deepEqual(caps.authMechanisms, ['PLAIN', 'LOGIN', 'CRAM-MD5']);
  assert.ok(caps.keywords.has('PIPELINING'));
  assert.deepEqual(caps.keywords.get('8BITMIME'), []);
});

test('expectations: codes, classes, enhanced codes with x, substrings and regular expressions', () => {
  const [reply] = new ReplyParser().push(Buffer.from('550 5.1.1 <x@example.test>: Recipient address rejected\r\n'));
  assert.equal(checkExpectation(expectation('550'), reply), undefined);
  assert.equal(checkExpectation(expectation('5xx'), reply), undefined);
  assert.equal(checkExpectation(expectation('250 550'), reply), undefined);
  assert.equal(checkExpectation(expectation('5.1.x'), reply), undefined);
  assert.equal(checkExpectation(expectation('550 5.1.1 "address REJECTED"'), reply), undefined);
  assert.equal(checkExpectation(expectation('5xx /recipient .* rejected/i'), reply), undefined);
  assert.match(checkExpectation(expectation('250'), reply) ?? '', /expected 250, got 550 5\.1\.1/);
  assert.match(checkExpectation(expectation('5.7.x'), reply) ?? '', /expected enhanced status 5\.7\.x, got 5\.1\.1/);
  assert.match(checkExpectation(expectation('550 "mailbox full"'), reply) ?? '', /contain "mailbox full"/);
  const broken = { ...expectation('550'), text: { kind: 'regex' as const, source: '(', flags: '' } };
  assert.match(checkExpectation(broken, reply) ?? '', /not a valid regular expression/);
});

test('expectations: a text alone keeps the step\'s need; codes, classes and enhanced codes replace it', () => {
  const [refusal] = new ReplyParser().push(Buffer.from('550 5.1.1 user not ok\r\n'));
  const [success] = new ReplyParser().push(Buffer.from('250 2.1.5 ok\r\n'));
  const need = implicit(2);
  const textOnly = expectation('"ok"');
  const made = withStepNeed(textOnly, need);
  assert.match(checkExpectation(made, refusal) ?? '', /expected 2xx, got 550 5\.1\.1 \(an EXPECT with only a text/);
  assert.equal(checkExpectation(made, success), undefined);
  assert.equal(withStepNeed(textOnly, need), made, 'made once per EXPECT line');
  assert.equal(withStepNeed(expectation('/OK/i'), need).codes, need.codes);
  for (const written of ['550 "not ok"', '5xx', '5.1.1']) assert.equal(checkExpectation(withStepNeed(expectation(written), need), refusal), undefined, written);
  const dataNeed = implicit(3);
  assert.equal(withStepNeed(need, dataNeed), dataNeed, 'without EXPECT, the need decides');
  assert.equal(keepsStepNeed(textOnly), true);
  assert.equal(keepsStepNeed(need), true);
  assert.equal(keepsStepNeed(expectation('5.1.1')), false);
});

test('DATA bodies: inline lines joined with CRLF; files converted to CRLF and dot-stuffed', () => {
  assert.equal(inlineDataBytes([]).toString(), '.\r\n');
  assert.equal(inlineDataBytes(['a', '..b', '']).toString(), 'a\r\n..b\r\n\r\n.\r\n');
  assert.equal(inlineDataBytes(['x\n.\ny']).toString(), 'x\r\n..\r\ny\r\n.\r\n');
  assert.equal(inlineDataBytes(['.']).toString(), '..\r\n.\r\n');
  assert.equal(canonicalMessage(Buffer.from('a\n.b\r\n..c\rd'), true).toString(), 'a\r\n..b\r\n...c\r\nd\r\n.\r\n');
  assert.equal(canonicalMessage(Buffer.alloc(0), true).toString(), '.\r\n');
  assert.equal(canonicalMessage(Buffer.from('.x\n'), false).toString(), '.x\r\n');
  assert.equal(canonicalMessage(Buffer.from([0xc3, 0xa9, 0x0a]), false).toString('hex'), 'c3a90d0a');
  assert.equal(inlineBdatMessage(['..dot', 'x']).toString(), '.dot\r\nx\r\n');
  assert.equal(inlineBdatMessage([]).length, 0);
});

test('RAW escapes decode to exact bytes and show back the same way', () => {
  const bytes = decodeRawEscapes('a\\r\\n\\t\\\\\\x00\\xff.\\q');
  assert.deepEqual([...bytes], [0x61, 13, 10, 9, 0x5c, 0, 0xff, 0x2e, 0x5c, 0x71]);
  assert.equal(escapeBytes(Buffer.from('x\r\n.\n')), 'x\\r\\n.\\n');
  assert.deepEqual([...decodeRawEscapes('\\x4')], [0x5c, 0x78, 0x34]);
});

test('masking covers the secret, its base64 and AUTH payloads built from it', () => {
  const m = new Masker(['s3cr3t-pw']);
  const payload = plainPayload('user', 's3cr3t-pw');
  m.add(payload);
  assert.equal(m.mask('pw is s3cr3t-pw'), 'pw is ********');
  assert.equal(m.mask(`AUTH PLAIN ${payload}`), 'AUTH PLAIN ********');
  assert.equal(m.mask(Buffer.from('s3cr3t-pw').toString('base64')), '********');
  assert.ok(!m.mask(`x${Buffer.from('\0user\0s3cr3t-pw').toString('base64')}`).includes('czNjcjN0LXB3'));
});

test('AUTH payloads: PLAIN (RFC 4616), CRAM-MD5 (RFC 2195 example), XOAUTH2', () => {
  assert.equal(Buffer.from(plainPayload('tim', 'tanstaaftanstaaf'), 'base64').toString(), '\0tim\0tanstaaftanstaaf');
  // RFC 2195 §2: the example exchange.
  const challenge = Buffer.from('<1896.697170952@postoffice.reston.mci.net>').toString('base64');
  assert.equal(Buffer.from(cramMd5Response('tim', 'tanstaaftanstaaf', challenge), 'base64').toString(), 'tim b913a602c7eda7a495b4e6e7334d3890');
  assert.equal(createHmac('md5', 'k').update('').digest('hex').length, 32);
  assert.equal(Buffer.from(xoauth2Payload('u@example.test', 'tok'), 'base64').toString(), 'user=u@example.test\x01auth=Bearer tok\x01\x01');
});

function result(partial: Partial<SessionResult>): SessionResult {
  return { file: 'f.smtp', title: 'T', line: 0, ok: true, steps: [], transcript: [], timings: { totalMs: 12 }, ...partial };
}

test('CLI helpers: argument parsing, exit codes, JUnit XML and transcript lines', () => {
  const a = parseRunArgs(['x.smtp', '--var', 'a=b=c', '--session', 's', '--repeat=3', '--local', '[::1]:2525', '--timeout', '1.5']);
  assert.ok(typeof a !== 'string');
  if (typeof a !== 'string') {
    assert.deepEqual(a.vars, { a: 'b=c' });
    assert.equal(a.repeat, 3);
    assert.deepEqual(a.local, { host: '::1', port: 2525 });
    assert.equal(a.timeoutSeconds, 1.5);
  }
  assert.equal(typeof parseRunArgs(['--repeat', '0', 'x']), 'string');
  assert.equal(typeof parseRunArgs([]), 'string');
  assert.deepEqual(parseHostPort('127.0.0.1:25'), { host: '127.0.0.1', port: 25 });
  assert.equal(parseHostPort('nope'), undefined);
  const fail = (kind: NonNullable<SessionResult['failure']>['kind']) => result({ ok: false, failure: { kind, message: 'm' } });
  assert.equal(exitCodeOf([result({})]), 0);
  assert.equal(exitCodeOf([result({}), fail('expectation')]), 1);
  assert.equal(exitCodeOf([fail('expectation'), fail('tls')]), 3);
  assert.equal(exitCodeOf([fail('timeout'), fail('script')]), 2);
  const xml = junitXml('a<b>.smtp', [result({ title: 'ok "one"' }), result({ ok: false, title: 'two', failure: { kind: 'expectation', message: 'expected 250, got 550 <x>', line: 4 } }), fail('connection')]);
  assert.match(xml, /tests="3" failures="1" errors="1"/);
  assert.match(xml, /<failure message="expected 250, got 550 &lt;x&gt; \(line 5\)" type="expectation">/);
  assert.match(xml, /<error message="m" type="connection">/);
  // Control characters are shown as visible escapes (what a server sent is data), as on the terminal.
  assert.equal(xmlEscape('a\u0001&'), 'a\\x01&amp;');
  assert.equal(formatEvent({ t: 1.25, dir: 'client', text: 'EHLO x', bytes: 8 }), '     1.3 ms  -> EHLO x\n');
  assert.equal(formatEvent({ t: 0, dir: 'server', text: '220 hi', bytes: 8 }), '     0.0 ms <-  220 hi\n');
  assert.equal(formatEvent({ t: 0, dir: 'client', text: 'a\nb', bytes: 3 }), '     0.0 ms  -> a\n             -> b\n');
});

test('reply parser fuzz: random bytes and mutated replies only ever give replies or ReplyProtocolError', () => {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const samples = ['220 hi\r\n', '250-a\r\n250 b\r\n', '550 5.1.1 x\r\n', '354 go\r\n', '421-x\r\n421 y\r\n'];
  for (let i = 0; i < 3000; i++) {
    const base = Buffer.from(samples[rand(samples.length)].repeat(1 + rand(3)));
    for (let m = rand(4); m > 0; m--) base[rand(base.length)] = rand(256);
    const p = new ReplyParser();
    try {
      let off = 0;
      while (off < base.length) {
        const n = 1 + rand(base.length - off);
        for (const r of p.push(base.subarray(off, off + n))) {
          assert.ok(r.code >= 200 && r.code <= 559);
          assert.ok(r.lines.length >= 1);
        }
        off += n;
      }
    } catch (e) {
      assert.ok(e instanceof ReplyProtocolError, String(e));
    }
  }
});
