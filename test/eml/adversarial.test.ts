/**
 * Inputs built to trip quadratic behaviour: each must be linted, outlined and hovered quickly. The
 * bound is generous (timing on shared machines varies) but an O(n²) path over these sizes would take
 * many seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emlFolding, emlHover, emlSymbols, lintMessage } from '../../server/src/eml/emlService';
import { takeInternalError } from '../../server/src/eml/problems';

const HEAD = 'Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom: a@example.org\r\nMessage-ID: <a@example.org>\r\n';
const N = 200_000;

const CASES: Record<string, string> = {
  'open comments': `${HEAD}To: ${'('.repeat(N)}\r\n\r\nx\r\n`,
  'quotes in From': `From: Alice${'"'.repeat(N)}\r\n${HEAD}\r\nx\r\n`,
  'encoded-word starts': `${HEAD}Subject: ${'=?'.repeat(N / 2)}\r\nContent-Disposition: inline;${'=?'.repeat(N / 2)}\r\n\r\nx\r\n`,
  'many header fields': HEAD + 'X-A: b\r\n'.repeat(N / 8) + '\r\nx\r\n',
  'many addresses': `${HEAD}To: ${'a@b.c, '.repeat(N / 7)}x@y.z\r\n\r\nx\r\n`,
  'many boundary lines': `${HEAD}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${'--b\r\n'.repeat(N / 5)}--b--\r\n`,
  'many nested multiparts': `${HEAD}MIME-Version: 1.0\r\n${Array.from({ length: 2000 }, (_, i) => `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n`).join('')}x\r\n`,
  'many sibling multiparts': `${HEAD}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n${Array.from({ length: 3000 }, (_, i) => `--o\r\nContent-Type: multipart/alternative; boundary=i${i}\r\n\r\n--i${i}\r\n\r\nt\r\n--i${i}--\r\n`).join('')}--o--\r\n`,
  'one huge line': `${HEAD}\r\n${'x'.repeat(N * 5)}\r\n`,
  'many parameters': `${HEAD}MIME-Version: 1.0\r\nContent-Type: text/plain${'; a=b'.repeat(N / 5)}\r\n\r\nx\r\n`,
  'many continuations': `${HEAD}MIME-Version: 1.0\r\nContent-Type: text/plain${Array.from({ length: 20000 }, (_, i) => `; name*${i}*=a`).join('')}\r\n\r\nx\r\n`,
  'many DKIM tags': `${HEAD}DKIM-Signature: ${'x=1; '.repeat(N / 5)}\r\n\r\nx\r\n`,
  'many Received fields': 'Received: from a by b; Mon, 23 Nov 2026 10:00:00 +0000\r\n'.repeat(5000) + HEAD + '\r\nx\r\n',
  'many bare CRs and NULs': `${HEAD}\r\n${'\r\0'.repeat(N / 2)}\r\n`,
  'base64 garbage': `${HEAD}MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\n${'*=a'.repeat(N / 3)}\r\n`,
  'huge Q encoded word': `${HEAD}Subject: =?utf-8?q?${'a=41'.repeat(N)}?=\r\n\r\nx\r\n`,
  'huge B encoded word': `${HEAD}Subject: =?utf-8?b?${'QUFB'.repeat(N)}?=\r\n\r\nx\r\n`,
  'huge quoted reason': `${HEAD}Authentication-Results: mx.example.net; spf=pass reason="${'\\"'.repeat(N)}" smtp.mailfrom=a.example\r\n\r\nx\r\n`,
  'huge quoted display name': `${HEAD}To: "${'\\"a'.repeat(N)}" <b@example.net>\r\n\r\nx\r\n`,
  'huge quoted parameter': `${HEAD}MIME-Version: 1.0\r\nContent-Type: text/plain; name="${'\\"'.repeat(N)}"\r\n\r\nx\r\n`,
  'qp escapes': `${HEAD}MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${'=Z'.repeat(N / 2)}\r\n`,
};

for (const [name, text] of Object.entries(CASES)) {
  test(`adversarial: ${name}`, () => {
    takeInternalError();
    const started = performance.now();
    const problems = lintMessage(text);
    emlSymbols(text);
    emlFolding(text);
    for (let i = 0; i < 10; i++) emlHover(text, Math.floor((text.length * i) / 10), { timeZone: 'UTC' });
    const ms = performance.now() - started;
    const internal = takeInternalError();
    assert.equal(internal, undefined, `${name}: ${String(internal)}`);
    assert.ok(ms < 3000, `${name} took ${ms.toFixed(0)} ms`);
    assert.ok(problems.length <= 5000, `${name} reported ${problems.length} problems`);
    assert.ok(!problems.some((p) => p.message.startsWith('Internal error')), `${name}: ${problems.find((p) => p.message.startsWith('Internal error'))?.message}`);
    for (const p of problems) assert.ok(p.range.start >= 0 && p.range.end <= text.length && p.range.start <= p.range.end);
  });
}
