/** Sending strips the Bcc field (RFC 5322 §3.6.3) and keeps every other byte. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withoutBcc } from '../../client/src/preview/envelope';

test('the Bcc field and its folded lines are removed, nothing else changes', () => {
  const raw = Buffer.from('From: a@example.test\r\nBcc: hidden@example.test,\r\n  other@example.test\r\nTo: b@example.test\r\nSubject: x\r\n\r\nBcc: in the body stays\r\n', 'latin1');
  assert.equal(withoutBcc(raw).toString('latin1'), 'From: a@example.test\r\nTo: b@example.test\r\nSubject: x\r\n\r\nBcc: in the body stays\r\n');
});

test('LF files, a Bcc as the last field, and messages without Bcc', () => {
  assert.equal(withoutBcc(Buffer.from('From: a@x.test\nBCC : h@x.test\n\nbody\n')).toString(), 'From: a@x.test\n\nbody\n');
  const plain = Buffer.from('From: a@x.test\r\n\r\n\xff8-bit\r\n', 'latin1');
  assert.equal(withoutBcc(plain), plain);
});

test('Resent-Bcc goes too, and a resent message is not sent from the original Return-Path', async () => {
  const { envelopeFromHeaders } = await import('../../client/src/preview/envelope');
  const raw = Buffer.from('Return-Path: <orig-bounce@sender.example>\r\nFrom: a@sender.example\r\nTo: b@example.test\r\nResent-From: r@resender.example\r\nResent-To: c@example.test\r\nResent-Bcc: secret@example.org\r\n\r\nbody\r\n');
  assert.doesNotMatch(withoutBcc(raw).toString(), /secret@example\.org/);
  const envelope = envelopeFromHeaders(raw);
  assert.equal(envelope.mailFrom, 'r@resender.example');
  assert.ok(envelope.recipients.includes('secret@example.org'));
});
