/**
 * The parser's line-break index answers how many CR and LF characters a range holds without
 * reading it (the base64 check of a large attachment asks this); it must agree with counting them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineBreakCharacters, parseMessage } from '../../server/src/eml/parser';
import { lintMessage } from '../../server/src/eml/lint';
import { prng } from '../fuzz/smtpFuzz';

function count(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (text[i] === '\r' || text[i] === '\n') n++;
  return n;
}

test('line-break counts from the index agree with counting, or are left to counting when mixed', () => {
  const random = prng(7);
  for (const breaks of [['\r\n'], ['\n'], ['\r\n', '\n'], ['\r\n', '\r'], ['\n', '\r']]) {
    const lines = Array.from({ length: 200 }, (_, i) => 'abc'.repeat(i % 5) + breaks[Math.floor(random() * breaks.length)]);
    const text = lines.join('');
    const parsed = parseMessage(text);
    for (let k = 0; k < 300; k++) {
      const a = Math.floor(random() * text.length);
      const b = a + Math.floor(random() * (text.length - a));
      const fast = lineBreakCharacters(parsed.lineBreaks, a, b);
      if (breaks.length === 1) assert.notEqual(fast, undefined, `${JSON.stringify(breaks)}: a uniform text is counted from the index`);
      if (fast !== undefined) assert.equal(fast, count(text, a, b), `${JSON.stringify(breaks)} [${a}, ${b})`);
    }
  }
});

test('a base64 body with a wrong length is reported the same with CRLF and LF line endings', () => {
  const message = (nl: string) =>
    ['From: <a@example.test>', 'To: <b@example.test>', 'Subject: x', 'Date: Mon, 23 Nov 2026 04:19:27 +0000', 'Message-ID: <x@example.test>', 'MIME-Version: 1.0', 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '', 'QUJD', 'QUJDRA', ''].join(nl);
  for (const nl of ['\r\n', '\n']) {
    const problems = lintMessage(message(nl)).filter((p) => p.code === 'eml-base64-padding');
    assert.equal(problems.length, 1, JSON.stringify(nl));
    assert.match(problems[0].message, /has 10 characters and 0 padding/);
  }
});
