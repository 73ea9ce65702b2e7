// The pure parts of the Local Inbox: the cheap header reader (RFC 5322 unfolding, RFC 2047
// encoded-words, RFC 6532 UTF-8), the settings, and the text of tree items and tooltips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { parseSummaryHeaders } from '../../client/src/localServer';
import type { StoredMessage } from '../../client/src/localServer';
import { headerSectionEnd } from '../../client/src/localServer/messageHeaders';
import { escapeMarkdown } from '../../common/escape';
import { parseCaptureRules } from '../../client/src/localServer';
import {
  answeringRule,
  authenticationSummary,
  messageDescription,
  messageIcon,
  messageLabel,
  ruleLine,
  rulesDescription,
  verdictKind,
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
  assert.match(tooltip, /\*\*MAIL FROM:\*\* \\<alice@example\.test\\> BODY=8BITMIME SMTPUTF8/);
  assert.match(tooltip, /\*\*TLS:\*\* TLSv1\.3 TLS\\_AES\\_256\\_GCM\\_SHA384/);
  assert.match(tooltip, /\*\*AUTH:\*\* PLAIN as me/);
  assert.match(tooltip, /\*\*Size:\*\* 2\.0 KiB/);
  assert.equal(escapeMarkdown('[a](b)'), '\\[a\\](b)');
  assert.equal(statusText('127.0.0.1:2525', 0), '$(mail) 127.0.0.1:2525');
  assert.equal(statusText('127.0.0.1:2525', 3), '$(mail) 127.0.0.1:2525 (3)');
});

test('tree item text: authentication verdicts, the rule that answered, DATA or BDAT', () => {
  const envelope = {
    mailFrom: 'alice@example.test', rcptTo: ['bob@example.test'], mailParameters: {}, rcptParameters: [{}], remoteAddress: '127.0.0.1', remotePort: 1,
    helo: 'c.example.test', tls: null, auth: null, bodyType: '7bit' as const, smtpUtf8: false, transmissionType: 'ESMTP', receivedAt: '2026-11-23T10:00:05.000Z', size: 10, transfer: 'BDAT' as const,
  };
  const authentication = {
    verifiedAt: '2026-11-23T10:00:06.000Z',
    dkim: [{ result: 'pass', info: 'signature verified', domain: 'example.test', selector: 's1' }],
    spf: { result: 'fail', info: 'the IP is not allowed *here*' },
    dmarc: { result: 'pass', info: 'aligned DKIM' },
    arc: { result: 'none', info: 'no ARC set' },
    authenticationResults: 'localhost; dkim=pass',
    failed: true,
  };
  const rules = [
    { rule: 0, name: 'TLS first', command: 'EHLO' as const, action: 'extensions', at: '2026-11-23T10:00:05.000Z' },
    { rule: 4, name: 'greylist partners', command: 'RCPT' as const, action: 'greylist-passed', at: '2026-11-23T10:00:05.000Z' },
    { rule: 2, name: 'unknown user', command: 'RCPT' as const, action: 'reply', reply: '550 5.1.1 No such user', at: '2026-11-23T10:00:05.000Z' },
  ];
  const m = stored({ subject: 's', from: 'alice@example.test', envelope, authentication, rules });
  const now = new Date(2026, 10, 23, 12, 0, 0);
  assert.equal(authenticationSummary(authentication), 'dkim=pass spf=fail dmarc=pass arc=none');
  assert.equal(messageDescription(m, now), 'alice@example.test → bob@example.test · 10:00:05 · dkim=pass spf=fail dmarc=pass arc=none · rule "unknown user"');
  assert.equal(answeringRule(rules)?.name, 'unknown user', 'the rule that replied answers, not the last to fire');
  assert.equal(answeringRule([rules[0]])?.name, 'TLS first');
  assert.equal(answeringRule([]), undefined);
  assert.deepEqual(messageIcon(m), { id: 'unverified', color: 'problemsErrorIcon.foreground' });
  assert.deepEqual(messageIcon(stored({ authentication: { ...authentication, failed: false } })), { id: 'verified', color: 'testing.iconPassed' });
  assert.deepEqual(messageIcon(stored({})), { id: 'mail' });
  assert.equal(verdictKind('PASS'), 'pass');
  assert.equal(verdictKind('neutral'), 'none');
  assert.equal(verdictKind('temperror'), 'fail');
  const tooltip = messageTooltip(m);
  assert.match(tooltip, /\*\*Transfer:\*\* BDAT chunks \(RFC 3030 CHUNKING\)/);
  assert.match(tooltip, /\$\(pass\) \*\*DKIM\*\* pass \(d=example\.test s=s1\): signature verified/);
  assert.match(tooltip, /\$\(error\) \*\*SPF\*\* fail: the IP is not allowed \\\*here\\\*/, 'peer text is escaped');
  assert.match(tooltip, /\$\(circle-slash\) \*\*ARC\*\* none/);
  assert.match(tooltip, /\$\(law\) "unknown user" \(reply\) at RCPT: 550 5\.1\.1 No such user/);
  const broken = { ...authentication, error: 'DNS timeout' };
  assert.equal(authenticationSummary(broken), 'verification failed: DNS timeout');
  assert.match(messageTooltip(stored({ authentication: broken })), /\$\(error\) verification failed: DNS timeout/);
  assert.doesNotMatch(messageTooltip(stored({})), /Authentication|Rules that fired|Transfer/);
});

test('the rules in force: the view description and one line per rule', () => {
  const parsed = parseCaptureRules(JSON.stringify({
    version: 1,
    rules: [
      { name: 'TLS first', require: 'starttls' },
      { name: 'unknown user', when: { command: 'RCPT', recipient: 'nobody@*' }, reply: '550 5.1.1 No such user' },
      { name: 'greylist partners', when: { sender: '*@partner.example' }, greylist: { retryAfter: 60 } },
      { name: 'flaky twice', when: { command: 'MAIL', sender: 'retry@*', attempt: { max: 2 } }, reply: '451 4.3.0 Try again later' },
    ],
  }));
  assert.deepEqual(parsed.problems.filter((p) => p.severity === 'error'), []);
  assert.equal(rulesDescription(parsed.rules, 'capture-rules.json'), '4 rules (capture-rules.json)');
  assert.equal(rulesDescription({ version: 1, rules: [] }, 'capture-rules.json'), 'no rules (capture-rules.json)');
  assert.equal(rulesDescription(undefined, undefined), undefined);
  const lines = parsed.rules.rules.map(ruleLine);
  assert.match(lines[0], /^TLS first: .*→ require STARTTLS$/);
  assert.match(lines[1], /^unknown user: RCPT recipient=nobody@\* → reply 550 5\.1\.1 No such user$/);
  assert.match(lines[2], /^greylist partners: .*sender=\*@partner\.example → greylist \(accept after 60 s\)$/);
  assert.match(lines[3], /^flaky twice: MAIL sender=retry@\* attempt 1-2 → reply 451 4\.3\.0 Try again later$/);
});
