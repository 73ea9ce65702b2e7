/**
 * UTF-8 in messages (issue 10 §5, issue 12): a byte-order mark is an error whose fix removes it,
 * invalid UTF-8 in a header is an error, and raw UTF-8 is a warning unless the message declares an
 * internationalised context (RFC 6532 §3), which a message/global part does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintMessage } from '../../server/src/eml/lint';
import { isKnownCharset } from '../../server/src/eml/facts/charsets';

const HEADERS = 'Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nMessage-ID: <u.1@example.org>\r\n';

test('the BOM quick fix leaves a message without eml-bom and without new problems', () => {
  const text = '\uFEFF' + HEADERS + 'Subject: hi\r\n\r\nhello\r\n';
  const bom = lintMessage(text).find((p) => p.code === 'eml-bom');
  assert.ok(bom?.fixes?.[0]);
  const edit = bom.fixes[0].edits[0];
  const fixed = text.slice(0, edit.range.start) + edit.newText + text.slice(edit.range.end);
  assert.deepEqual(lintMessage(fixed).map((p) => p.code), []);
  assert.deepEqual(lintMessage(text).map((p) => p.code), ['eml-bom'], 'one problem for one cause');
});

test('raw UTF-8 in a header: a warning without context, a note inside message/global', () => {
  const plain = lintMessage(HEADERS + 'Subject: Grüße\r\n\r\nhello\r\n').filter((p) => p.code === 'eml-utf8-header');
  assert.deepEqual(plain.map((p) => p.severity), ['warning']);
  const inner = 'From: Jürgen <j@example.org>\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\nSubject: Grüße\r\n\r\nhallo\r\n';
  const wrapped = HEADERS + 'Subject: forwarded\r\nMIME-Version: 1.0\r\nContent-Type: message/global\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' + inner;
  const inside = lintMessage(wrapped).filter((p) => p.code === 'eml-utf8-header');
  assert.ok(inside.length > 0);
  assert.deepEqual([...new Set(inside.map((p) => p.severity))], ['info']);
});

test('invalid UTF-8 in a header is an error; in the body it stays a replacement-character warning', () => {
  const problems = lintMessage(HEADERS + 'Subject: Gr\uFFFD\uFFFDe\r\n\r\nbody \uFFFD\r\n');
  assert.deepEqual(problems.map((p) => `${p.code} ${p.severity}`), ['eml-utf8-invalid error', 'eml-replacement-char warning']);
});

test('IANA charset aliases are registered names', () => {
  for (const name of ['iso_8859-1', 'ISO_8859-1:1987', 'latin1', 'l1', 'IBM819', 'CP819', 'csISOLatin1', 'iso-ir-100', 'ISO_8859-15', 'csUTF8', 'ms_kanji', 'csShiftJIS', 'us', 'ANSI_X3.4-1986']) {
    assert.ok(isKnownCharset(name), name);
  }
  for (const name of ['utf-9', 'latin-utf', 'iso_8859', 'latin11']) assert.ok(!isKnownCharset(name), name);
});
