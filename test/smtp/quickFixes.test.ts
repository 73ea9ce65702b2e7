/**
 * Quick fixes repair what they say: each case applies a fix of a problem and lints the result,
 * which must no longer carry the problem nor any new error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Problem, QuickFix } from '../../common/problem';
import { analyzeSmtp } from '../../server/src/smtp/smtpService';

function applyFix(text: string, fix: QuickFix): string {
  const edits = [...fix.edits].sort((a, b) => b.range.start - a.range.start);
  let out = text;
  for (const e of edits) out = out.slice(0, e.range.start) + e.newText + out.slice(e.range.end);
  return out;
}

function errors(problems: Problem[]): string[] {
  return problems.filter((p) => p.severity === 'error').map((p) => p.code);
}

interface FixCase {
  name: string;
  script: string;
  code: string;
  title: RegExp;
  /** The fixed script, when it is worth stating exactly. */
  fixed?: string;
}

const CASES: FixCase[] = [
  {
    name: 'cleartext AUTH: STARTTLS and a new EHLO before it',
    script: 'CONNECT smtp://127.0.0.1:2525\nEHLO client.example.test\nAUTH PLAIN user {{$secret smtp-password}}\nQUIT\n',
    code: 'smtp-security-cleartext-auth',
    title: /STARTTLS/,
    fixed: 'CONNECT smtp://127.0.0.1:2525\nEHLO client.example.test\nSTARTTLS\nEHLO client.example.test\nAUTH PLAIN user {{$secret smtp-password}}\nQUIT\n',
  },
  {
    name: 'cleartext AUTH in a titled session: the opt-in comment',
    script: '### Probe\nCONNECT smtp://127.0.0.1:2525\nEHLO client.example.test\nAUTH PLAIN user {{$secret smtp-password}}\nEXPECT 5xx\n',
    code: 'smtp-security-cleartext-auth',
    title: /allow-cleartext-auth/,
    fixed: '### Probe\n# @allow-cleartext-auth\nCONNECT smtp://127.0.0.1:2525\nEHLO client.example.test\nAUTH PLAIN user {{$secret smtp-password}}\nEXPECT 5xx\n',
  },
  {
    name: 'cleartext AUTH in an untitled session: the opt-in comment',
    script: 'EHLO client.example.test\nAUTH LOGIN user {{$secret smtp-password}}\n',
    code: 'smtp-security-cleartext-auth',
    title: /allow-cleartext-auth/,
  },
  {
    name: 'cleartext AUTH, indented, after LHLO on LMTP',
    script: 'CONNECT lmtp://127.0.0.1:2424\n  LHLO client.example.test\n  AUTH PLAIN user {{$secret smtp-password}}\n',
    code: 'smtp-security-cleartext-auth',
    title: /STARTTLS and LHLO/,
    fixed: 'CONNECT lmtp://127.0.0.1:2424\n  LHLO client.example.test\n  STARTTLS\n  LHLO client.example.test\n  AUTH PLAIN user {{$secret smtp-password}}\n',
  },
  {
    name: 'cleartext AUTH after HELO: EHLO instead, then STARTTLS and EHLO again (RFC 3207 §4.2)',
    script: 'CONNECT smtp://127.0.0.1:2525\nHELO client.example.test\nAUTH PLAIN user {{$secret smtp-password}}\nQUIT\n',
    code: 'smtp-security-cleartext-auth',
    title: /STARTTLS/,
    fixed: 'CONNECT smtp://127.0.0.1:2525\nEHLO client.example.test\nSTARTTLS\nEHLO client.example.test\nAUTH PLAIN user {{$secret smtp-password}}\nQUIT\n',
  },
  {
    name: 'STARTTLS after HELO: greet with EHLO',
    script: 'CONNECT smtp://127.0.0.1:2525\nHELO client.example.test\nSTARTTLS\nEHLO client.example.test\nQUIT\n',
    code: 'smtp-order-extension-after-helo',
    title: /EHLO instead of HELO/,
    fixed: 'CONNECT smtp://127.0.0.1:2525\nEHLO client.example.test\nSTARTTLS\nEHLO client.example.test\nQUIT\n',
  },
  {
    name: 'AUTH after HELO over TLS: greet with EHLO',
    script: 'CONNECT smtps://mail.example.test\nHELO client.example.test\nAUTH PLAIN user {{$secret smtp-password}}\n',
    code: 'smtp-order-extension-after-helo',
    title: /EHLO instead of HELO/,
    fixed: 'CONNECT smtps://mail.example.test\nEHLO client.example.test\nAUTH PLAIN user {{$secret smtp-password}}\n',
  },
  {
    name: 'MAIL parameters after HELO: greet with EHLO',
    script: 'HELO client.example.test\nMAIL FROM:<a@example.test> SIZE=100\nRCPT TO:<b@example.test> NOTIFY=NEVER\nBDAT\nSubject: x\n\nhi\n.\n',
    code: 'smtp-order-extension-after-helo',
    title: /EHLO instead of HELO/,
    fixed: 'EHLO client.example.test\nMAIL FROM:<a@example.test> SIZE=100\nRCPT TO:<b@example.test> NOTIFY=NEVER\nBDAT\nSubject: x\n\nhi\n.\n',
  },
  {
    name: 'DATA after BODY=BINARYMIME: send with BDAT (RFC 3030 §3)',
    script: 'EHLO client.example.test\nMAIL FROM:<a@example.test> BODY=BINARYMIME\nRCPT TO:<b@example.test>\nDATA\nSubject: x\n\nhi\n.\n',
    code: 'smtp-order-binarymime-data',
    title: /BDAT/,
    fixed: 'EHLO client.example.test\nMAIL FROM:<a@example.test> BODY=BINARYMIME\nRCPT TO:<b@example.test>\nBDAT\nSubject: x\n\nhi\n.\n',
  },
  {
    name: 'a literal password reached through variables moves to $secret',
    script: '@login = hunter2xyz\n@alias = {{login}}\n### s\nCONNECT smtps://mail.example.test\nEHLO client.example.test\nAUTH PLAIN user {{alias}}\n',
    code: 'smtp-security-literal-secret',
    title: /\$secret login/,
    fixed: '@login = {{$secret login}}\n@alias = {{login}}\n### s\nCONNECT smtps://mail.example.test\nEHLO client.example.test\nAUTH PLAIN user {{alias}}\n',
  },
];

for (const c of CASES) {
  test(`quick fix: ${c.name}`, () => {
    const before = analyzeSmtp(c.script, '/tmp/fix.smtp');
    const target = before.problems.find((p) => p.code === c.code);
    assert.ok(target, `${c.code} is reported`);
    const fix = target.fixes?.find((f) => c.title.test(f.title));
    assert.ok(fix, `a fix matching ${c.title} among ${JSON.stringify(target.fixes?.map((f) => f.title))}`);
    const text = applyFix(c.script, fix);
    if (c.fixed !== undefined) assert.equal(text, c.fixed);
    const after = analyzeSmtp(text, '/tmp/fix.smtp');
    assert.ok(!after.problems.some((p) => p.code === c.code), `${c.code} is gone`);
    assert.deepEqual(errors(after.problems), [], 'no error after the fix');
  });
}

test('after a refused STARTTLS the connection is still in clear: STARTTLS is offered again', () => {
  const script = 'EHLO client.example.test\nSTARTTLS\nEXPECT 454\nAUTH PLAIN user {{$secret smtp-password}}\n';
  const target = analyzeSmtp(script, '/tmp/fix.smtp').problems.find((p) => p.code === 'smtp-security-cleartext-auth');
  assert.ok(target);
  assert.ok(target.fixes?.some((f) => /STARTTLS/.test(f.title)), 'a refused STARTTLS leaves the connection in clear; a new STARTTLS is offered');
});

test('a bad SIZE value is described once', () => {
  const problems = analyzeSmtp('EHLO x.example.test\nMAIL FROM:<a@example.test> SIZE=lots\n', '/tmp/size.smtp').problems;
  const size = problems.find((p) => p.code === 'smtp-param-value');
  assert.ok(size);
  assert.match(size.message, /^SIZE must be/);
  assert.doesNotMatch(size.message, /SIZE: SIZE/);
});

test('one malformed EXPECT gets one diagnostic', () => {
  for (const line of ['EXPECT 9xx', 'EXPECT banana', 'EXPECT "open', 'EXPECT /(/']) {
    const problems = analyzeSmtp(`EHLO x.example.test\n${line}\n`, '/tmp/expect.smtp').problems.filter((p) => p.code === 'smtp-expect-syntax');
    assert.equal(problems.length, 1, `${line}: ${problems.map((p) => p.message).join(' | ')}`);
  }
});

test('the tester\'s script: every extension after HELO is an error, and a literal through an alias a warning', () => {
  const script = [
    '@login = hunter2xyz',
    '@alias = {{login}}',
    '### s',
    'HELO a.example.test',
    'STARTTLS',
    'HELO a.example.test',
    'AUTH PLAIN user {{alias}}',
    'MAIL FROM:<a@example.test> SIZE=100 BODY=8BITMIME SMTPUTF8',
    'RCPT TO:<b@example.test> NOTIFY=NEVER',
    'BDAT',
    'Subject: x',
    '',
    'hi',
    '.',
    '',
  ].join('\n');
  const problems = analyzeSmtp(script, '/tmp/fix.smtp').problems;
  const helo = problems.filter((p) => p.code === 'smtp-order-extension-after-helo');
  // STARTTLS, AUTH, three MAIL parameters, NOTIFY and BDAT.
  assert.equal(helo.length, 7, JSON.stringify(helo.map((p) => script.slice(p.range.start, p.range.end))));
  assert.ok(helo.every((p) => p.severity === 'error'));
  const literal = problems.filter((p) => p.code === 'smtp-security-literal-secret');
  assert.deepEqual(literal.map((p) => script.slice(p.range.start, p.range.end)), ['hunter2xyz']);
  // In place, the same warning: the two are one rule.
  const inPlace = analyzeSmtp('CONNECT smtps://mail.example.test\nEHLO a.example.test\nAUTH PLAIN user hunter2\n', '/tmp/fix.smtp').problems;
  assert.equal(inPlace.find((p) => p.code === 'smtp-security-literal-secret')?.severity, literal[0].severity);
});

test('a refused extension after HELO is a deliberate probe: a warning', () => {
  const problems = analyzeSmtp('HELO a.example.test\nSTARTTLS\nEXPECT 5xx\n', '/tmp/fix.smtp').problems;
  assert.equal(problems.find((p) => p.code === 'smtp-order-extension-after-helo')?.severity, 'warning');
});
