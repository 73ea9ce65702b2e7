/**
 * Hover tests: each case is a message with `|` marking the cursor; the hover's markdown must contain
 * the listed fragments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emlHover } from '../../server/src/eml/emlService';

function at(source: string): { text: string; offset: number } {
  const offset = source.indexOf('|');
  assert.ok(offset !== -1, 'the case needs a | cursor');
  return { text: source.slice(0, offset) + source.slice(offset + 1), offset };
}

function hoverOf(source: string, timeZone = 'America/New_York'): { markdown: string; hovered: string } {
  const { text, offset } = at(source);
  const result = emlHover(text, offset, { timeZone });
  assert.ok(result, `no hover at ${JSON.stringify(source.slice(Math.max(0, offset - 20), offset + 20))}`);
  return { markdown: result.markdown, hovered: text.slice(result.range.start, result.range.end) };
}

const HEAD = 'From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nMessage-ID: <1@example.org>\r\n';

test('an encoded word shows its decoded text', () => {
  const { markdown, hovered } = hoverOf(`${HEAD}Subject: =?UTF-8?Q?Gr=C3|=BC=C3=9Fe?= aus =?UTF-8?B?TcO8bmNoZW4=?=\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n\r\nx\r\n`);
  assert.equal(hovered, '=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=');
  assert.match(markdown, /`Grüße`/);
  assert.match(markdown, /Grüße aus München/);
});

test('a Date shows the instant in UTC and in the given zone', () => {
  const { markdown } = hoverOf(`${HEAD}Date: Mon, 23 Nov 2026 10:|14:07 +0100\r\n\r\nx\r\n`);
  assert.match(markdown, /UTC: 2026-11-23 09:14:07 UTC/);
  assert.match(markdown, /America\/New_York: Mon 2026-11-23 04:14:07 \(GMT-5\)/);
  assert.match(markdown, /offset \+0100/);
});

test('a Date hover survives an unknown time zone by falling back to UTC', () => {
  const { markdown } = hoverOf(`${HEAD}Date: Mon, 23 Nov 2026 10:|14:07 +0100\r\n\r\nx\r\n`, 'Not/AZone');
  assert.match(markdown, /UTC: Mon 2026-11-23 09:14:07/);
});

test('a Received chain lists each hop, oldest first, with delays', () => {
  const source = [
    'Received: from mx.example.net (mx.example.net [192.0.2.7]) by mail.example.com with ESMTPS; Mon, 23 Nov 2026 10:00:45 +0000',
    'Received: from relay.example.org by mx.example.net with ESMTP id 123; Mon, 23 Nov 2026 10:00:05 +0000',
    'Received: from [198.51.100.4] (helo=laptop) by relay.exa|mple.org with ESMTPSA; Mon, 23 Nov 2026 11:00:00 +0100',
    HEAD + 'Date: Mon, 23 Nov 2026 10:59:58 +0100',
    '',
    'x',
  ].join('\r\n');
  const { markdown } = hoverOf(source);
  const rows = markdown.split('\n').filter((l) => /^\| (\*\*→\*\*)?\d/.test(l));
  assert.equal(rows.length, 3);
  assert.match(rows[0], /^\| \*\*→\*\*1 \| \\\[198\.51\.100\.4\\\] \| relay\.example\.org \| 10:00:00 UTC \|  \|$/);
  assert.match(rows[1], /relay\.example\.org \| mx\.example\.net \| 10:00:05 UTC \| 5 s \|/);
  assert.match(rows[2], /mx\.example\.net \| mail\.example\.com \| 10:00:45 UTC \| 40 s \|/);
  assert.match(markdown, /Total: 45 s over 3 hops/);
});

test('a DKIM-Signature tag shows its meaning', () => {
  const base = `${HEAD}Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nDKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel; t=1795432541;\r\n h=from:to; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n\r\nx\r\n`;
  const selector = hoverOf(base.replace('s=sel', 's=s|el'));
  assert.equal(selector.hovered, 's=sel');
  assert.match(selector.markdown, /_domainkey/);
  const time = hoverOf(base.replace('t=1795', 't=1|795'));
  assert.match(time.markdown, /2026-11-23T\d\d:\d\d:\d\dZ/);
  const l = hoverOf(base.replace('h=from', 'h=fr|om'));
  assert.match(l.markdown, /Signed fields: `from`, `to`/);
});

test('an Authentication-Results method, result and property show what they mean', () => {
  const base = `${HEAD}Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nAuthentication-Results: mx.example.net;\r\n spf=pass (sender ok) smtp.mailfrom=example.org;\r\n dkim=fail header.d=example.org\r\n\r\nx\r\n`;
  assert.match(hoverOf(base.replace('spf=', 's|pf=')).markdown, /SPF check of the MAIL FROM/);
  assert.match(hoverOf(base.replace('=fail', '=fa|il')).markdown, /\*\*dkim=fail\*\* — The check failed/);
  assert.match(hoverOf(base.replace('smtp.mailfrom', 'smtp.mail|from')).markdown, /envelope sender/);
});

test('a header name shows its RFC definition', () => {
  const { markdown, hovered } = hoverOf(`${HEAD}Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nIn-Rep|ly-To: <0@example.org>\r\n\r\nx\r\n`);
  assert.equal(hovered, 'In-Reply-To');
  assert.match(markdown, /RFC 5322 §3\.6\.4\]\(https:\/\/www\.rfc-editor\.org\/rfc\/rfc5322#section-3\.6\.4\)/);
  assert.match(markdown, /at most once/);
  const unknown = hoverOf(`${HEAD}X-Sp|am: yes\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nx\r\n`);
  assert.match(unknown.markdown, /optional field/);
});

test('a base64 or quoted-printable part shows a decoded preview', () => {
  const multipart = [
    HEAD + 'Date: Mon, 23 Nov 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Gr=C3=BC=C3=9Fe, this is a soft=',
    '|ly broken line.',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('Hallo München').toString('base64'),
    '--b',
    'Content-Type: application/pdf',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('%PDF-1.7\n%binary').toString('base64'),
    '--b--',
    '',
  ].join('\r\n');
  const qp = hoverOf(multipart);
  assert.match(qp.markdown, /Grüße, this is a softly broken line\./);
  const b64 = hoverOf(multipart.replace('|', '').replace('SGFsbG8', 'SGF|sbG8'));
  assert.match(b64.markdown, /Hallo München/);
  const pdf = hoverOf(multipart.replace('|', '').replace('JVBER', 'JV|BER'));
  assert.match(pdf.markdown, /looks like a PDF document/);
  assert.match(pdf.markdown, /25 50 44 46/);
});

test('a Content-Type shows the decoded RFC 2231 parameters', () => {
  const { markdown } = hoverOf(`${HEAD}Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: application/pdf;\r\n name*0*=UTF-8''Gr%C3%BC%C3%9Fe%20;\r\n name*1*=aus%20M%C3%BC|nchen.pdf\r\n\r\nx\r\n`);
  assert.match(markdown, /`name` = Grüße aus München\.pdf \(RFC 2231, UTF-8\)/);
});

test('no hover on plain body text and never a throw at any offset', () => {
  const text = `${HEAD}Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nplain body\r\n`;
  assert.equal(emlHover(text, text.indexOf('plain') + 2), undefined);
  for (let i = -2; i <= text.length + 2; i++) emlHover(text, i);
});

test('a Content-Disposition shows the disposition and the decoded file name', () => {
  const { markdown } = hoverOf(`${HEAD}Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Disposition: attachment; filename*=UTF-8''Gr%C3%BC|%C3%9Fe.pdf\r\n\r\nx\r\n`);
  assert.match(markdown, /\*\*attachment\*\* — offered as a separate file/);
  assert.match(markdown, /`filename` = Grüße\.pdf \(RFC 2231, UTF-8\)/);
});
