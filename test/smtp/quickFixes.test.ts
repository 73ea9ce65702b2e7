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
