// Reports in the editor's glue, against the one stand-in `vscode` module and real peers:
// - Collect: the Local Inbox badges the DMARC aggregate, TLS-RPT and failure reports that reach the
//   capture server, and "Open in Report View" opens the stored .eml in the report view;
// - Act: "Show Reports for This Domain" on a Mail DNS domain node shows only the reports about it,
//   from the reports opened before and the folder of smtp.reports.folder;
// - Fetch: "SMTP: Fetch Reports over IMAP…" against Dovecot, the password asked once in a password
//   input and stored only after the modal offer; the next fetch takes it from SecretStorage;
// - Bulk: "Check Bulk-Sender Requirements" on a captured message gets TLS and the client IP's
//   forward-confirmed reverse DNS (Knot serves the PTR and A records) from the capture server.
import { commands, fakeContext, recorded, Uri, window, type FakePanel } from './fakeVscode';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as vscode from 'vscode';
import { registerLocalInbox, LOCAL_INBOX_COMMANDS, type LocalInbox } from '../../client/src/views/localInbox';
import { registerReportView, REPORTS_FOR_DOMAIN_COMMAND, type ReportViewHandle } from '../../client/src/views/reportView';
import { FETCH_REPORTS_COMMAND, imapSecretKey, registerReportFetch } from '../../client/src/views/reportFetch';
import { bulkFindingItem, mayHoldReport, reportBadge, type LocalServerSettings } from '../../client/src/views/localInboxModel';
import { forwardConfirmedReverseDns } from '../../client/src/reports/fcrdns';
import { createResolver, publicKeyRecord, signMessage } from '../../client/src/mailAuth';
import type { StoredMessage } from '../../client/src/localServer';
import { runSession } from '../../client/src/engine';
import { makeTempDir, removeTempDir } from '../peers/process';
import { startKnot, type KnotPeer } from '../peers/knot';
import { startDovecot, type DovecotPeer } from '../peers/dovecot';
import { cmd, data, makePlan } from '../engine/plan';
import { aggregateReportMail, aggregateXml, failureReportEml, gzip, randomAggregate, tlsRptJson } from '../reports/generate';

const storage = makeTempDir('reports-in-editor');
const context = fakeContext();
let reports: ReportViewHandle;
let inbox: LocalInbox;
const settings: LocalServerSettings = { host: '127.0.0.1', port: 0, auth: 'any', dir: join(storage, 'inbox') };
let openAnswer: Uri[] | undefined;

before(() => {
  // The fake has no open dialog; this one answers what the test sets.
  (window as unknown as { showOpenDialog(): Promise<Uri[] | undefined> }).showOpenDialog = async () => openAnswer;
  reports = registerReportView(context as unknown as vscode.ExtensionContext);
  registerReportFetch(context as unknown as vscode.ExtensionContext, reports);
  const inboxContext = { globalStorageUri: Uri.file(storage), subscriptions: [] as Array<{ dispose(): unknown }> };
  inbox = registerLocalInbox(inboxContext as unknown as vscode.ExtensionContext, { getSettings: () => settings });
});

after(async () => {
  inbox?.dispose();
  await inbox?.stop();
  removeTempDir(storage);
});

const lastPanel = (): FakePanel => recorded.panels[recorded.panels.length - 1];
const run = (id: string, ...args: unknown[]): Promise<unknown> => Promise.resolve(recorded.commands.get(id)!(...args));

/** Sends a raw message to the capture server (real engine, real server). */
async function capture(target: { host: string; port: number }, raw: string | Buffer, from = 'reports@receiver.example'): Promise<void> {
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'latin1');
  const result = await runSession(
    makePlan({ steps: [cmd('EHLO mail.example.test'), cmd(`MAIL FROM:<${from}>`), cmd('RCPT TO:<rua@example.com>'), data({ file: '/virtual/m.eml' }), cmd('QUIT')] }),
    { localTarget: target, readFile: async () => bytes },
  );
  assert.equal(result.ok, true, result.failure?.message);
}

/** A TLS-RPT report mail (RFC 8460 §5.3): multipart/report, report-type=tlsrpt, an application/tlsrpt+gzip part. */
function tlsRptMail(): string {
  const json = tlsRptJson({ organizationName: 'R', reportId: 't1', policyDomain: 'example.com', policyType: 'sts', successful: 5, failures: [{ resultType: 'certificate-expired', mx: 'mx.example.com', ip: '192.0.2.1', count: 2 }] });
  const b = 'tlsrpt-b';
  return [
    'From: tlsrpt@receiver.example',
    'To: rua@example.com',
    'Subject: Report Domain: example.com Submitter: receiver.example Report-ID: <t1>',
    'TLS-Report-Domain: example.com',
    'TLS-Report-Submitter: receiver.example',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain',
    '',
    'A TLS report.',
    `--${b}`,
    'Content-Type: application/tlsrpt+gzip; name="receiver.example!example.com!1767225600!1767311999!t1.json.gz"',
    'Content-Disposition: attachment; filename="receiver.example!example.com!1767225600!1767311999!t1.json.gz"',
    'Content-Transfer-Encoding: base64',
    '',
    gzip(json).toString('base64').replace(/.{76}/g, '$&\r\n'),
    `--${b}--`,
    '',
  ].join('\r\n');
}

async function listed(): Promise<StoredMessage[]> {
  await new Promise((resolve) => setTimeout(resolve, 200));
  return ((await recorded.treeView!.provider.getChildren()) as Array<StoredMessage | { kind: string }>).filter((n): n is StoredMessage => 'path' in n);
}

test('the pure parts: badges, the cheap report sniff, a finding as a quick-pick row', () => {
  assert.equal(reportBadge(undefined), undefined);
  assert.equal(reportBadge({ aggregate: 0, tlsRpt: 0, failure: 0 }), undefined);
  assert.equal(reportBadge({ aggregate: 1, tlsRpt: 0, failure: 0 }), 'DMARC report');
  assert.equal(reportBadge({ aggregate: 2, tlsRpt: 1, failure: 1 }), '2 DMARC reports, TLS-RPT report, failure report');
  assert.equal(mayHoldReport('Subject: hi\r\n\r\nhello'), false);
  assert.equal(mayHoldReport('Content-Type: application/tlsrpt+gzip\r\n'), true);
  assert.equal(mayHoldReport('Content-Disposition: attachment; filename="a!b!1!2.zip"\r\n'), true);
  assert.equal(mayHoldReport('Content-Type: message/feedback-report\r\n'), true);
  const row = bulkFindingItem({ status: 'fail', code: 'bulk-tls', title: 'TLS was used', message: 'the message was sent without TLS', link: 'https://support.google.com/a/answer/81126' });
  assert.equal(row.label, '$(error) TLS was used');
  assert.match(row.detail, /without TLS — https:\/\/support\.google\.com/);
  // What DNS or the message said is text: a control character is escaped, `$(pass)` draws no icon.
  const hostile = bulkFindingItem({ status: 'fail', code: 'bulk-dmarc', title: 'DMARC is published', message: 'the record is "v=DMARC1; $(pass) \u001b[2J"', link: 'https://example.test/' });
  assert.equal(hostile.detail, 'the record is "v=DMARC1; \\$(pass) \\x1B[2J" — https://example.test/');
});

test('Collect: reports that reach the capture server are badged and open in the report view', async () => {
  const target = await inbox.ensureServer();
  await capture(target, aggregateReportMail(randomAggregate(41, 'rfc9990')));
  await capture(target, tlsRptMail());
  await capture(target, failureReportEml({ reportedDomain: 'example.com', originalFromDomain: 'example.com', sourceIp: '192.0.2.9', authFailure: 'dmarc' }));
  await capture(target, 'From: a@example.com\r\nTo: b@example.com\r\nSubject: not a report\r\n\r\nhello\r\n', 'a@example.com');
  const messages = await listed();
  assert.equal(messages.length, 4);
  const items = new Map(messages.map((m) => [m.subject ?? '', recorded.treeView!.provider.getTreeItem(m)]));
  const by = (pattern: RegExp) => [...items.entries()].find(([subject]) => pattern.test(subject))?.[1];
  assert.match(by(/Report-ID: <41|Submitter/)?.description ?? '', /^(DMARC report|TLS-RPT report) · /);
  const descriptions = [...items.values()].map((i) => i.description ?? '');
  assert.equal(descriptions.filter((d) => d.startsWith('DMARC report · ')).length, 1, descriptions.join('\n'));
  assert.equal(descriptions.filter((d) => d.startsWith('TLS-RPT report · ')).length, 1, descriptions.join('\n'));
  assert.equal(descriptions.filter((d) => d.startsWith('failure report · ')).length, 1, descriptions.join('\n'));
  const plain = by(/not a report/)!;
  assert.equal(plain.contextValue, 'smtpInboxMessage');
  assert.ok(!/report ·/.test(plain.description ?? ''));
  const aggregate = messages.find((m) => (recorded.treeView!.provider.getTreeItem(m).description ?? '').startsWith('DMARC report'))!;
  assert.equal(recorded.treeView!.provider.getTreeItem(aggregate).contextValue, 'smtpInboxReport');

  const before = recorded.panels.length;
  await run(LOCAL_INBOX_COMMANDS.openReport, aggregate);
  assert.equal(recorded.panels.length, before + 1, 'the report view opened');
  assert.match(lastPanel().webview.html, /Top failing sources|messages/);
  assert.match(lastPanel().webview.html, /example\.com/);
  const all = messages.filter((m) => recorded.treeView!.provider.getTreeItem(m).contextValue === 'smtpInboxReport');
  await run(LOCAL_INBOX_COMMANDS.openReport, all[0], all);
  assert.equal(recorded.panels.length, before + 2);
  assert.match(lastPanel().title, /3 files/);
});

test('Act: "Show Reports for This Domain" shows only the reports about the domain', async () => {
  const folder = join(storage, 'setting-reports');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'other.xml.gz'), gzip(aggregateXml(randomAggregate(52, 'rfc7489', 'other.example'))));
  recorded.settings.set('smtp.reports.folder', folder);
  try {
    await run(REPORTS_FOR_DOMAIN_COMMAND, { domain: 'other.example', kind: 'domain' });
    const html = lastPanel().webview.html;
    assert.equal(lastPanel().title, 'Reports: other.example');
    assert.match(html, /other\.example/);
    assert.ok(!/>example\.com</.test(html), 'the reports about example.com (opened before) are left out');
    await run(REPORTS_FOR_DOMAIN_COMMAND, { domain: 'example.com' });
    assert.match(lastPanel().webview.html, /example\.com/);
    assert.ok(!/other\.example/.test(lastPanel().webview.html), 'the report about other.example is left out');
    const panels = recorded.panels.length;
    await run(REPORTS_FOR_DOMAIN_COMMAND, { domain: 'nothing.example' });
    assert.equal(recorded.panels.length, panels, 'no view for a domain without reports');
    assert.match(recorded.messages[recorded.messages.length - 1].text, /No report about nothing\.example/);
  } finally {
    recorded.settings.delete('smtp.reports.folder');
  }
  assert.ok(reports.openedPaths().length >= 1, 'the Local Inbox reports count as opened before');
});

let dovecot: DovecotPeer | undefined;
test('Fetch: over IMAP (Dovecot), the password asked once, stored after the modal offer, then taken from SecretStorage', async () => {
  dovecot = await startDovecot();
  try {
    dovecot.deliver(aggregateReportMail(randomAggregate(61, 'rfc9990')));
    dovecot.deliver(failureReportEml({ reportedDomain: 'example.com', originalFromDomain: 'example.com', sourceIp: '192.0.2.9', authFailure: 'dmarc' }));
    dovecot.deliver('From: a@example.com\r\nTo: b@example.com\r\nSubject: not a report\r\n\r\nhello\r\n');
    recorded.settings.set('smtp.reports.imapCa', dovecot.caPath);
    const out = join(storage, 'fetched');
    mkdirSync(out);
    openAnswer = [Uri.file(out)];
    recorded.quickPickAnswer = (items) => (items as Array<{ mode: string }>).find((i) => i.mode === 'starttls');
    recorded.inputs.length = 0;
    recorded.inputAnswers.push(`127.0.0.1:${dovecot.port}`, dovecot.user, 'INBOX', dovecot.pass);
    recorded.infoAnswers.push('Store Password');
    const panels = recorded.panels.length;
    await commands.executeCommand(FETCH_REPORTS_COMMAND);
    const files = readdirSync(out).sort();
    assert.equal(files.length, 2, files.join(' ') + dovecot.log());
    assert.equal(recorded.panels.length, panels + 1, 'the report view opened on what was fetched');
    assert.match(lastPanel().title, /INBOX on 127\.0\.0\.1/);
    const password = recorded.inputs.find((i) => i.password === true);
    assert.ok(password, 'the password was asked in a password input');
    const offer = recorded.messages.find((m) => /Store the password/.test(m.text));
    assert.equal(offer?.modal, true, 'the offer to store the password is modal');
    assert.equal(await context.secrets.get(imapSecretKey(dovecot.user, '127.0.0.1', dovecot.port)), dovecot.pass);

    // The second fetch asks for no password and makes no offer.
    const out2 = join(storage, 'fetched2');
    mkdirSync(out2);
    openAnswer = [Uri.file(out2)];
    recorded.inputs.length = 0;
    const offers = recorded.messages.filter((m) => /Store the password/.test(m.text)).length;
    recorded.inputAnswers.push(`127.0.0.1:${dovecot.tlsPort}`, dovecot.user, 'INBOX');
    recorded.quickPickAnswer = (items) => (items as Array<{ mode: string }>).find((i) => i.mode === 'tls');
    // Implicit TLS on the other port is another account key: it asks once more.
    recorded.inputAnswers.push(dovecot.pass);
    recorded.infoAnswers.push(undefined);
    await commands.executeCommand(FETCH_REPORTS_COMMAND);
    assert.equal(readdirSync(out2).length, 2);
    assert.equal(recorded.messages.filter((m) => /Store the password/.test(m.text)).length, offers + 1);
    assert.equal(await context.secrets.get(imapSecretKey(dovecot.user, '127.0.0.1', dovecot.tlsPort)), undefined, 'declined: not stored');

    const out3 = join(storage, 'fetched3');
    mkdirSync(out3);
    openAnswer = [Uri.file(out3)];
    recorded.inputs.length = 0;
    recorded.inputAnswers.push(`127.0.0.1:${dovecot.port}`, dovecot.user, 'INBOX');
    recorded.quickPickAnswer = (items) => (items as Array<{ mode: string }>).find((i) => i.mode === 'starttls');
    await commands.executeCommand(FETCH_REPORTS_COMMAND);
    assert.equal(recorded.inputs.filter((i) => i.password).length, 0, 'the stored password was used');
    assert.equal(readdirSync(out3).length, 2);

    // A wrong stored password: the modal offer to forget it, and the password is in no message.
    await context.secrets.store(imapSecretKey(dovecot.user, '127.0.0.1', dovecot.port), 'wrong-secret-987');
    recorded.inputAnswers.push(`127.0.0.1:${dovecot.port}`, dovecot.user, 'INBOX');
    recorded.warningAnswer = 'Forget the Stored Password';
    await commands.executeCommand(FETCH_REPORTS_COMMAND);
    recorded.warningAnswer = undefined;
    assert.equal(await context.secrets.get(imapSecretKey(dovecot.user, '127.0.0.1', dovecot.port)), undefined);
    assert.ok(recorded.messages.every((m) => !m.text.includes('wrong-secret-987')));
  } finally {
    recorded.settings.delete('smtp.reports.imapCa');
    recorded.quickPickAnswer = undefined;
    openAnswer = undefined;
    await dovecot.stop();
  }
});

let knot: KnotPeer | undefined;
test('Bulk: the check of a captured message has TLS and forward-confirmed reverse DNS from the capture server', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  knot = await startKnot({
    zones: {
      'example.test': ['@ TXT "v=spf1 ip4:127.0.0.1 -all"', '_dmarc TXT "v=DMARC1; p=reject"', `sel._domainkey TXT "${publicKeyRecord(privateKeyPem)}"`, 'mail A 127.0.0.1'].join('\n'),
      '0.0.127.in-addr.arpa': ['1 PTR mail.example.test.', '2 PTR nowhere.example.test.'].join('\n'),
    },
  });
  try {
    // The pure lookup, through a real resolver on Knot.
    const resolver = createResolver({ server: knot.address, timeoutMs: 1500, tries: 1 });
    assert.deepEqual(await forwardConfirmedReverseDns('127.0.0.1', resolver), { ptr: 'mail.example.test', confirmed: true });
    assert.deepEqual(await forwardConfirmedReverseDns('127.0.0.2', resolver), { ptr: 'nowhere.example.test', confirmed: false });
    assert.deepEqual(await forwardConfirmedReverseDns('127.0.0.3', resolver), { confirmed: false });

    settings.dnsServer = knot.address;
    const target = await inbox.ensureServer();
    const body = Buffer.from(
      [
        'From: News <news@example.test>',
        'To: <rua@example.com>',
        'Subject: bulk check',
        'Date: Mon, 23 Nov 2026 10:00:00 +0000',
        'Message-ID: <bulk@example.test>',
        'List-Unsubscribe: <https://example.test/u/1>, <mailto:u@example.test>',
        'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
        '',
        'hello',
        '',
      ].join('\r\n'),
    );
    const signed = await signMessage(body, { domain: 'example.test', selector: 'sel', privateKeyPem });
    await capture(target, signed, 'news@example.test');
    const message = (await listed()).find((m) => m.subject === 'bulk check')!;
    assert.ok(message, 'captured');
    let rows: Array<{ label: string; description: string; detail: string; link: string }> = [];
    recorded.quickPickAnswer = (items) => {
      rows = items as typeof rows;
      return rows.find((r) => r.description.includes('bulk-fcrdns'));
    };
    const executed = recorded.executed.length;
    await run(LOCAL_INBOX_COMMANDS.checkBulk, message);
    recorded.quickPickAnswer = undefined;
    const row = (code: string) => rows.find((r) => r.description.endsWith(`· ${code}`));
    assert.match(row('bulk-tls')?.description ?? '', /^fail/, 'the session did not use STARTTLS');
    assert.match(row('bulk-fcrdns')?.description ?? '', /^pass/, JSON.stringify(rows));
    assert.match(row('bulk-fcrdns')?.detail ?? '', /127\.0\.0\.1 has reverse DNS mail\.example\.test/);
    assert.match(row('bulk-spf')?.description ?? '', /^pass/, JSON.stringify(rows));
    assert.match(row('bulk-dkim')?.description ?? '', /^pass/);
    assert.ok(rows.every((r) => /^https:\/\//.test(r.link)), 'every finding has its link');
    const opened = recorded.executed.slice(executed).find((e) => e.command === 'vscode.open');
    const link = opened?.args[0] as Uri | undefined;
    assert.deepEqual([link?.scheme, link?.path], ['https', '/a/answer/81126'], 'the picked finding opens its source (the Gmail sender guidelines)');
  } finally {
    settings.dnsServer = undefined;
    await knot.stop();
  }
});
