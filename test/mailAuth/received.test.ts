// Received trace fields (RFC 5321 §4.4) as Postfix, Exim, Sendmail and Gmail write them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReceived, topReceived, returnPath } from '../../client/src/mailAuth/received';
import { parseDnsServer } from '../../client/src/mailAuth/resolver';
import { smtpIdentities } from '../../client/src/mailAuth/verify';

test('Postfix: from HELO (RDNS [IP])', () => {
  assert.deepEqual(parseReceived('from mail.example.org (mail.example.org [192.0.2.1]) by mx.example.net (Postfix) with ESMTPS id 4A; Mon, 1 Jan 2024 00:00:00 +0000'), {
    by: 'mx.example.net',
    helo: 'mail.example.org',
    ip: '192.0.2.1',
  });
  const other = parseReceived('from helo.example (rdns.example [192.0.2.2]) by mx; date');
  assert.equal(other.helo, 'helo.example');
  assert.equal(other.reverseName, 'rdns.example');
});

test('Exim: from [IP] (helo=NAME) and from RDNS ([IP] helo=NAME) with envelope-from', () => {
  const a = parseReceived('from [127.0.0.1] (helo=client.example) by mail.example.test with esmtp (Exim 4.96) (envelope-from <a@example.test>) id 1abc; Mon, 23 Nov 2026 04:00:00 +0000');
  assert.equal(a.ip, '127.0.0.1');
  assert.equal(a.helo, 'client.example');
  assert.equal(a.envelopeFrom, 'a@example.test');
  const b = parseReceived('from localhost ([::1] helo=[::1]) by mail.example.test with esmtps; date');
  assert.equal(b.ip, '::1');
  assert.equal(b.helo, '[::1]');
  assert.equal(b.reverseName, 'localhost');
});

test('IPv6 literals, Gmail style, and fields without FROM', () => {
  const v6 = parseReceived('from mail.example.org (mail.example.org [IPv6:2001:db8::25]) by mx; date');
  assert.equal(v6.ip, '2001:db8::25');
  const gmail = parseReceived('from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS id x for <bob@example.com>; Mon, 1 Jan 2024');
  assert.equal(gmail.ip, '209.85.220.41');
  assert.equal(gmail.helo, 'mail-sor-f41.google.com');
  assert.deepEqual(parseReceived('by mail.example.test (Postfix, from userid 0) id 1; date'), { by: 'mail.example.test' });
  assert.equal(parseReceived('from [198.51.100.4] by mx; date').ip, '198.51.100.4');
});

test('topReceived skips fields without a client and reports its index; Return-Path', () => {
  const msg = Buffer.from(
    'Return-Path: <>\r\nReceived: by local.example (Postfix, from userid 0); date\r\nReceived: from a.example (a.example\r\n [192.0.2.9]) by b; date\r\nSubject: x\r\n\r\nReceived: from body.example ([192.0.2.10])\r\n',
  );
  const top = topReceived(msg);
  assert.equal(top?.index, 1);
  assert.equal(top?.ip, '192.0.2.9');
  assert.equal(returnPath(msg), '');
  const ids = smtpIdentities(msg, {});
  assert.deepEqual(ids.sources, { ip: 'received', helo: 'received', mailFrom: 'return-path' });
  // A caller IP for another connection keeps the Received HELO out: HELO becomes the address literal.
  const other = smtpIdentities(msg, { ip: '203.0.113.1' });
  assert.equal(other.helo, '[203.0.113.1]');
  assert.equal(other.sources.helo, 'derived');
  assert.equal(smtpIdentities(msg, { useReceived: false }).ip, undefined);
});

test('parseDnsServer follows the one --dns-server grammar (HOST[:PORT], IPv6 in brackets)', () => {
  assert.equal(parseDnsServer('127.0.0.1:5353'), '127.0.0.1:5353');
  assert.equal(parseDnsServer('127.0.0.1'), '127.0.0.1:53');
  assert.equal(parseDnsServer('[::1]:53'), '[::1]:53');
  assert.equal(parseDnsServer('::1'), undefined);
  assert.equal(parseDnsServer('dns.example:53'), 'dns.example:53');
  assert.equal(parseDnsServer('127.0.0.1:70000'), undefined);
  assert.equal(parseDnsServer('300.0.0.1'), undefined);
});

test('topReceived passes over hops inside the site: a loopback content filter and an LMTP hand-off', () => {
  const msg = Buffer.from(
    [
      'Received: from mail.example.test by mx.example.test (Dovecot) with LMTP id x; Mon, 23 Nov 2026 04:00:03 +0000',
      'Received: from localhost ([127.0.0.1]) by mx.example.test (amavis) with ESMTP id y; Mon, 23 Nov 2026 04:00:02 +0000',
      'Received: from client.sender.example (client.sender.example [192.0.2.1]) by mx.example.test with ESMTPS id z; Mon, 23 Nov 2026 04:00:01 +0000',
      'From: a@sender.example',
      '',
      'body',
      '',
    ].join('\r\n'),
  );
  assert.equal(topReceived(msg)?.ip, '192.0.2.1');
});
