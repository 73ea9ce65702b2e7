/**
 * Table-driven checks of the field parsers: valid values that must not be reported and invalid ones
 * that must be, each with the code expected; plus the quick fixes, applied to the text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Problem } from '../../common/problem';
import { lintMessage, parseMessage } from '../../server/src/eml/emlService';
import { parseDateTime } from '../../server/src/eml/dateTime';

const BASE: Record<string, string> = {
  Date: 'Mon, 23 Nov 2026 10:00:00 +0000',
  From: 'Alice <alice@example.org>',
  To: 'bob@example.net',
  'Message-ID': '<base@example.org>',
  Subject: 'test',
};

/** Builds a message where `field` has `value` (replacing the base value), and lints it. */
function lintField(field: string, value: string): Problem[] {
  const fields = { ...BASE, [field]: value };
  const text = Object.entries(fields).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\nbody\r\n';
  return lintMessage(text).filter((p) => p.code !== 'eml-line-over-78');
}

const VALID: Array<[string, string]> = [
  ['To', 'bob@example.net'],
  ['To', 'Bob Jones <bob@example.net>'],
  ['To', '"Jones, Bob" <bob@example.net>, carol@example.net'],
  ['To', '"bob smith"@example.net'],
  ['To', 'bob@[192.0.2.1]'],
  ['To', 'bob@[IPv6:2001:db8::1]'],
  ['To', 'bob@example.net (Bob, in a comment)'],
  ['To', '(leading comment) Bob <bob@example.net>'],
  ['To', 'Friends: alice@example.org, Bob <bob@example.net>;'],
  ['To', 'undisclosed-recipients:;'],
  ['To', '=?UTF-8?Q?J=C3=B6rg?= <joerg@example.org>'],
  ['To', "o'brien+tag@example.ie"],
  ['To', 'Bob\r\n <bob@example.net>,\r\n\tcarol@example.net'],
  ['From', 'alice@example.org'],
  ['Date', 'Mon, 23 Nov 2026 10:00:00 +0000'],
  ['Date', '23 Nov 2026 10:00 -0500'],
  ['Date', 'Thu, 1 Jan 2026 00:00:00 +1400'],
  ['Date', 'Sun, 29 Feb 2032 23:59:59 -1200'],
  ['Date', 'Mon, 23 Nov 2026 10:00:00 +0000 (UTC)'],
  ['Date', 'mon, 23 nov 2026 10:00:00 +0530'],
  ['Message-ID', '<20261123.1234.abc@host.example>'],
  ['Message-ID', '<a.b+c=d_e@[192.0.2.1]>'],
  ['Message-ID', ' (comment) <x@y.example> '],
  ['Subject', 'Re: =?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?4pyTIGRvbmU=?='],
  ['Subject', 'A subject with = and ? but no encoded word'],
];

const INVALID: Array<[string, string, string]> = [
  ['To', 'bob', 'eml-address-syntax'],
  ['To', 'bob@', 'eml-address-syntax'],
  ['To', '@example.net', 'eml-address-syntax'],
  ['To', 'bob@example..net', 'eml-address-syntax'],
  ['To', '.bob@example.net', 'eml-address-syntax'],
  ['To', 'Bob <bob@example.net', 'eml-address-syntax'],
  ['To', 'Bob <>', 'eml-address-syntax'],
  ['To', 'bob@example.net carol@example.net', 'eml-address-syntax'],
  ['To', 'Friends: alice@example.org', 'eml-address-syntax'],
  ['To', '"unclosed <bob@example.net>', 'eml-address-syntax'],
  ['To', '<@relay.example:bob@example.net>', 'eml-address-obsolete'],
  ['To', 'bob@example.net,,carol@example.net', 'eml-address-obsolete'],
  ['To', 'bob."smith"@example.net', 'eml-address-obsolete'],
  ['Date', 'Mon, 23 Nov 2026 10:00:00', 'eml-date-syntax'],
  ['Date', 'Mon 23 Nov 2026 10:00:00 +0000', 'eml-date-syntax'],
  ['Date', 'Mon, 23 November 2026 10:00:00 +0000', 'eml-date-syntax'],
  ['Date', 'Mon, 23 Nov 2026 10:00:00 +01:00', 'eml-date-syntax'],
  ['Date', 'Mon, 23 Nov 2026 9:00:00 +0000', 'eml-date-syntax'],
  ['Date', 'Mon, 23 Nov 2026 10:00:00 +0000 extra', 'eml-date-syntax'],
  ['Date', 'Fri, 31 Apr 2026 10:00:00 +0000', 'eml-date-invalid'],
  ['Date', 'Sun, 29 Feb 2026 10:00:00 +0000', 'eml-date-invalid'],
  ['Date', 'Mon, 23 Nov 2026 24:00:00 +0000', 'eml-date-invalid'],
  ['Date', 'Mon, 23 Nov 1850 10:00:00 +0000', 'eml-date-invalid'],
  ['Date', 'Mon, 23 Nov 2026 10:00:00 +0070', 'eml-date-zone'],
  ['Date', 'Mon, 23 Nov 2026 10:00:00 EST', 'eml-date-obsolete'],
  ['Date', 'Mon, 23 Nov 2026 10:00:00 Q', 'eml-date-obsolete'],
  ['Message-ID', '<no-at-sign>', 'eml-message-id-syntax'],
  ['Message-ID', '<two@ids.example> <three@ids.example>', 'eml-message-id-syntax'],
  ['Message-ID', '<sp ace@x.example>', 'eml-message-id-syntax'],
  ['Message-ID', '<unclosed@x.example', 'eml-message-id-syntax'],
  ['Subject', '=?UTF-8?Q?a b?=', 'eml-ew-syntax'],
  ['Subject', '=?UTF-8?X?abc?=', 'eml-ew-syntax'],
  ['Subject', '=?UTF-8?B?abc?=', 'eml-ew-syntax'],
];

test('valid field values are not reported', () => {
  for (const [field, value] of VALID) {
    const problems = lintField(field, value);
    assert.deepEqual(problems.map((p) => `${p.code}: ${p.message}`), [], `${field}: ${value}`);
  }
});

test('invalid field values are reported with the expected code', () => {
  for (const [field, value, code] of INVALID) {
    const problems = lintField(field, value);
    assert.ok(problems.some((p) => p.code === code), `${field}: ${value} should report ${code}, got ${problems.map((p) => p.code).join(', ') || 'nothing'}`);
  }
});

test('a date-time is read as the right instant', () => {
  const text = 'Sun, 22 Nov 2026 21:40:03 -0800';
  const value = parseDateTime(text, 0, text.length);
  assert.equal(new Date(value!.epochMs).toISOString(), '2026-11-23T05:40:03.000Z');
  assert.equal(value!.offsetMinutes, -480);
  const obsolete = '23 Nov 26 10:00 EDT';
  assert.equal(new Date(parseDateTime(obsolete, 0, obsolete.length)!.epochMs).toISOString(), '2026-11-23T14:00:00.000Z');
});

test('RFC 2231 parameters are joined and decoded', () => {
  const text = "MIME-Version: 1.0\r\nContent-Type: application/pdf;\r\n name*0*=iso-8859-1'de'Gr%FC%DFe%20;\r\n name*1=\"aus \";\r\n name*2*=M%FCnchen.pdf\r\n\r\nx\r\n";
  const name = parseMessage(text).root.contentType?.params.get('name');
  assert.equal(name?.value, 'Grüße aus München.pdf');
  assert.equal(name?.charset, 'iso-8859-1');
  assert.equal(name?.language, 'de');
});

function applyFix(text: string, problem: Problem): string {
  const edits = [...(problem.fixes?.[0]?.edits ?? [])].sort((a, b) => b.range.start - a.range.start);
  let out = text;
  for (const e of edits) out = out.slice(0, e.range.start) + e.newText + out.slice(e.range.end);
  return out;
}

test('quick fixes repair what they claim to', () => {
  const cases: Array<[string, string]> = [
    ['Date: Tue, 23 Nov 2026 10:00:00 +0000\r\nFrom: a@example.org\r\nMessage-ID: <f@example.org>\r\n\r\nx\r\n', 'eml-date-weekday'],
    ['Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom: a@example.org\r\nMessage-ID: <f@example.org>\r\nContent-Type: text/plain\r\n\r\nx\r\n', 'eml-mime-version-missing'],
    ['Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom: a@example.org\r\nMessage-ID: <f@example.org>\r\n\r\nx\ny\r\n', 'eml-bare-lf'],
    ['Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom : a@example.org\r\nMessage-ID: <f@example.org>\r\n\r\nx\r\n', 'eml-header-space-before-colon'],
    ['Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom: a@example.org\r\nMessage-ID: <f@example.org>\r\nBody without separator\r\n', 'eml-missing-separator'],
    ['Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom: a@example.org\r\nMessage-ID: <f@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n', 'eml-boundary-unclosed'],
    ['Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom: a@example.org\r\nMessage-ID: <f@example.org>\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n5 = 5\r\n', 'eml-qp-escape'],
    ['Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom: a@example.org\r\nTo: John Q. Public <j@example.org>\r\nMessage-ID: <f@example.org>\r\n\r\nx\r\n', 'eml-address-obsolete'],
  ];
  for (const [text, code] of cases) {
    const problem = lintMessage(text).find((p) => p.code === code);
    assert.ok(problem?.fixes?.length, `${code} has a fix`);
    const fixed = applyFix(text, problem);
    assert.ok(!lintMessage(fixed).some((p) => p.code === code), `${code} is gone after the fix:\n${fixed}`);
  }
});

test('embedded mode skips line endings and the fields a submission server adds', () => {
  const text = 'From: a@example.org\nTo: b@example.org\nSubject: s\n\nx\r\ny\n';
  const codes = lintMessage(text, { embedded: true }).map((p) => `${p.code}/${p.severity}`);
  assert.deepEqual(codes, ['eml-header-missing/warning']);
  const standalone = lintMessage(text).map((p) => p.code);
  assert.ok(standalone.includes('eml-mixed-line-endings'));
  assert.ok(standalone.includes('eml-message-id-missing'));
});

test('base64 bodies: the fast path and the detailed path agree', () => {
  const lint = (body: string): string[] =>
    lintMessage(`Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom: a@example.org\r\nMessage-ID: <b@example.org>\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\n${body}\r\n`).map((p) => p.code);
  assert.deepEqual(lint('aGVsbG8gd29y\r\nbGQ='), []);
  assert.deepEqual(lint('aGVsbG8gd29y \r\nbGQ= '), []);
  assert.deepEqual(lint('aGVs=bG8='), ['eml-base64-padding']);
  assert.deepEqual(lint('aGVs =bG8='), ['eml-base64-padding']);
  assert.deepEqual(lint('aGVsbG8'), ['eml-base64-padding']);
  assert.deepEqual(lint('aGVsbG8 '), ['eml-base64-padding']);
  assert.deepEqual(lint('aGVsbG8==='), ['eml-base64-padding']);
  assert.deepEqual(lint('aGVs!bG8='), ['eml-base64-char']);
});
