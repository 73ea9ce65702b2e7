// The pure parts of the Local Inbox: the cheap header reader (RFC 5322 unfolding, RFC 2047
// encoded-words, RFC 6532 UTF-8), the settings, and the text of tree items and tooltips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { parseSummaryHeaders } from '../../client/src/localServer';
import type { StoredMessage } from '../../client/src/localServer';
import { headerSectionEnd } from '../../client/src/localServer/messageHeaders';
import {
  escapeMarkdown,
  messageDescription,
  messageLabel,
  messageTooltip,
  parseAuthSetting,
  recipientsText,
  resolveInboxFolder,
  senderText,
  statusText,
  timeText,
} from '../../client/src/views/localInboxModel';

test('header reader: folded fields, encoded-words, first occurrence wins, body ignored', () => {
  const message = Buffer.from(
    [
      'Received: from x',
      'Subject: =?UTF-8?B?SGVsbG8g8J+MjQ==?=',
      ' =?ISO-8859-1?Q?caf=E9?= folded',
      'FROM: Alice <alice@example.test>',
      'To: a@example.test,',
      '\tb@example.test',
      'Date: Mon, 23 Nov 2026 10:00:00 +0000',
      'Subject: second subject',
      'constructor: not a field we want',
      '',
      'Subject: in the body',
      '',
    ].join('\r\n'),
  );
  assert.deepEqual(parseSummaryHeaders(message), {
    subject: 'Hello 🌍café folded',
    from: 'Alice <alice@example.test>',
    to: 'a@example.test, b@example.test',
    date: 'Mon, 23 Nov 2026 10:00:00 +0000',
  });
});

test('header reader: raw UTF-8 (RFC 6532), Latin-1 bytes, bare LF, no header section at all', () => {
  assert.equal(parseSummaryHeaders(Buffer.from('Subject: Grüße\n\nbody')).subject, 'Grüße');
  assert.equal(parseSummaryHeaders(Buffer.from([...Buffer.from('Subject: caf'), 0xe9, 0x0d, 0x0a, 0x0d, 0x0a])).subject, 'café');
  assert.deepEqual(parseSummaryHeaders(Buffer.from('\r\nSubject: body only\r\n')), {});
  assert.deepEqual(parseSummaryHeaders(Buffer.from('')), {});
  assert.deepEqual(parseSummaryHeaders(Buffer.from('no colon here\r\n:empty name\r\n')), {});
  assert.equal(headerSectionEnd(Buffer.from('A: b\r\n\r\nbody')), 6);
  assert.equal(headerSectionEnd(Buffer.from('A: b\n\nbody')), 5);
  assert.equal(headerSectionEnd(Buffer.from('A: b\r\n')), 6);
});

test('settings: auth and folder', () => {
  assert.deepEqual(parseAuthSetting(undefined), { ok: true, auth: 'any' });
  assert.deepEqual(parseAuthSetting(' ANY '), { ok: true, auth: 'any' });
  assert.deepEqual(parseAuthSetting('user:pa:ss'), { ok: true, auth: { user: 'user', pass: 'pa:ss' } });
  const bad = parseAuthSetting('user');
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : bad.message, /must be "any" or "user:pass"/);
  assert.equal(parseAuthSetting(':pass').ok, false);
  const ctx = { defaultDir: '/g/inbox', workspaceFolder: '/ws', home: '/home/me' };
  assert.equal(resolveInboxFolder('', ctx), '/g/inbox');
  assert.equal(resolveInboxFolder(undefined, ctx), '/g/inbox');
  assert.equal(resolveInboxFolder('~/mail', ctx), join('/home/me', 'mail'));
  assert.equal(resolveInboxFolder('~', ctx), '/home/me');
  assert.equal(resolveInboxFolder('out/inbox', ctx), resolve('/ws', 'out/inbox'));
  assert.equal(resolveInboxFolder('out', { defaultDir: '/d', home: '/home/me' }), resolve('/home/me', 'out'));
  assert.equal(resolveInboxFolder('/abs/x', ctx), resolve('/abs/x'));
});

function stored(partial: Partial<StoredMessage>): StoredMessage {
  return { id: 'abc', path: '/inbox/20261123T100000000Z-abc.eml', envelopePath: '/inbox/x.envelope.json', receivedAt: new Date(2026, 10, 23, 10, 0, 5), size: 2048, ...partial };
}

test('tree item text: label, sender, recipients, time and tooltip', () => {
  const envelope = {
    mailFrom: 'alice@example.test',
    rcptTo: ['b@example.test', 'c@example.test', 'd@example.test'],
    mailParameters: { BODY: '8BITMIME', SMTPUTF8: true } as Record<string, string | true>,
    rcptParameters: [{}, {}, {}],
    remoteAddress: '127.0.0.1',
    remotePort: 50000,
    helo: 'client.example.test',
    tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    auth: { method: 'PLAIN', username: 'me' },
    bodyType: '8bitmime' as const,
    smtpUtf8: true,
    transmissionType: 'UTF8SMTPSA',
    receivedAt: '2026-11-23T10:00:05.000Z',
    size: 2048,
  };
  const m = stored({ subject: 'Hi *there*', from: '"Alice A." <alice@example.test>', to: 'Bob <b@example.test>', envelope });
  assert.equal(messageLabel(m), 'Hi *there*');
  assert.equal(messageLabel(stored({ subject: '  ' })), '(no subject)');
  assert.equal(senderText(m), 'Alice A.');
  assert.equal(senderText(stored({ from: '<x@example.test>' })), 'x@example.test');
  assert.equal(senderText(stored({ from: 'plain@example.test' })), 'plain@example.test');
  assert.equal(senderText(stored({ envelope: { ...envelope, mailFrom: '' } })), '<>');
  assert.equal(senderText(stored({})), '(unknown sender)');
  assert.equal(recipientsText(m), 'b@example.test, c@example.test +1');
  assert.equal(recipientsText(stored({ to: 'header@example.test' })), 'header@example.test');
  const now = new Date(2026, 10, 23, 12, 0, 0);
  assert.equal(timeText(m.receivedAt, now), '10:00:05');
  assert.equal(timeText(m.receivedAt, new Date(2026, 10, 24)), '2026-11-23 10:00');
  assert.equal(messageDescription(m, now), 'Alice A. → b@example.test, c@example.test +1 · 10:00:05');
  const tooltip = messageTooltip(m);
  assert.match(tooltip, /\*\*Subject:\*\* Hi \\\*there\\\*/);
  assert.match(tooltip, /\*\*MAIL FROM:\*\* \\<alice@example\\\.test\\> BODY=8BITMIME SMTPUTF8/);
  assert.match(tooltip, /\*\*TLS:\*\* TLSv1\\\.3 TLS\\_AES\\_256\\_GCM\\_SHA384/);
  assert.match(tooltip, /\*\*AUTH:\*\* PLAIN as me/);
  assert.match(tooltip, /\*\*Size:\*\* 2\\\.0 KiB/);
  assert.equal(escapeMarkdown('[a](b)'), '\\[a\\]\\(b\\)');
  assert.equal(statusText('127.0.0.1:2525', 0), '$(mail) 127.0.0.1:2525');
  assert.equal(statusText('127.0.0.1:2525', 3), '$(mail) 127.0.0.1:2525 (3)');
});
