/** RFC 2231 §4.1: a character may be split across sections; the outline shows the whole name. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emlSymbols } from '../../server/src/eml/emlService';

test('a UTF-8 character split across filename*0* and filename*1* decodes whole, in the outline', () => {
  const text = [
    'From: a@example.test',
    'Date: Mon, 23 Nov 2026 04:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain',
    '',
    'hi',
    '--b',
    'Content-Type: application/pdf',
    "Content-Disposition: attachment; filename*0*=UTF-8''%E2%82; filename*1*=%AC.pdf",
    'Content-Transfer-Encoding: base64',
    '',
    'JVBERg==',
    '--b--',
    '',
  ].join('\r\n');
  const flat = JSON.stringify(emlSymbols(text));
  assert.match(flat, /€\.pdf/, flat);
});
