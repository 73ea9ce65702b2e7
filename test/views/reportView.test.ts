// The report view's glue against the stand-in `vscode` module: "Open Report View" on a compressed
// aggregate report and on a folder, the webview's CSP under its nonce, the export to a file the save
// dialog gives, and the "Check DNS" button that opens the Mail DNS check of a failing source's
// domain; messages of other shapes and domains that are not host names are ignored; "Look up
// reverse DNS" asks Knot (through smtp.dns.server) for the sources' PTR names and draws the view
// again with them, never in an untrusted workspace, each IP once per window, and at the opening
// with smtp.reports.reverseDnsOnOpen.
import { commands, fakeContext, recorded, Uri, workspace, type FakePanel } from './fakeVscode';
import { startKnot, type KnotPeer } from '../peers/knot';
import { startDnsForwarder, type DnsForwarder } from '../peers/dnsForwarder';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as vscode from 'vscode';
import { parseReportViewMessage, registerReportView, REPORT_VIEW_COMMAND, REPORT_VIEW_TYPE, REVERSE_DNS_ON_OPEN_SETTING } from '../../client/src/views/reportView';
import { aggregateXml, gzip, tlsRptJson, type AggregateSpec } from '../reports/generate';

let dir: string;
const spec: AggregateSpec = {
  format: 'rfc9990',
  orgName: 'fixture receiver',
  email: 'dmarc@receiver.example',
  reportId: 'view-1',
  begin: 1767225600,
  end: 1767311999,
  domain: 'example.com',
  p: 'quarantine',
  records: [
    { sourceIp: '192.0.2.10', count: 120, disposition: 'none', dkim: 'pass', spf: 'pass', headerFrom: 'example.com', envelopeFrom: 'bounce.example.com', dkimDomain: 'example.com', dkimSelector: 's1', dkimResult: 'pass', spfDomain: 'bounce.example.com', spfResult: 'pass' },
    { sourceIp: '198.51.100.7', count: 30, disposition: 'quarantine', dkim: 'fail', spf: 'fail', headerFrom: 'news.example.com', envelopeFrom: 'mailer.example.net', dkimDomain: 'esp.example.net', dkimSelector: 's2', dkimResult: 'fail', spfDomain: 'mailer.example.net', spfResult: 'softfail' },
  ],
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-reportview-'));
  writeFileSync(join(dir, 'receiver.example!example.com!1767225600!1767311999.xml.gz'), gzip(aggregateXml(spec)));
  mkdirSync(join(dir, 'tls'));
  writeFileSync(
    join(dir, 'tls', 'report.json'),
    tlsRptJson({ organizationName: 'R', reportId: 't1', policyDomain: 'example.com', policyType: 'sts', successful: 5, failures: [{ resultType: 'certificate-expired', mx: 'mx.example.com', ip: '192.0.2.1', count: 2 }] }),
  );
  registerReportView(fakeContext() as unknown as vscode.ExtensionContext);
});

after(() => rmSync(dir, { recursive: true, force: true }));

const lastPanel = (): FakePanel => recorded.panels[recorded.panels.length - 1];
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

test('a compressed aggregate report opens in a webview with a strict CSP under its nonce, a summary and charts', async () => {
  const before = recorded.panels.length;
  await commands.executeCommand(REPORT_VIEW_COMMAND, Uri.file(join(dir, 'receiver.example!example.com!1767225600!1767311999.xml.gz')));
  assert.equal(recorded.panels.length, before + 1);
  const panel = lastPanel();
  assert.equal(panel.viewType, REPORT_VIEW_TYPE);
  assert.deepEqual(panel.webview.options, { enableScripts: true, enableForms: false, enableCommandUris: false, localResourceRoots: [], retainContextWhenHidden: false, enableFindWidget: true });
  const html = panel.webview.html;
  const nonce = panel.webview.nonce;
  assert.ok(nonce.length >= 16);
  assert.match(html, new RegExp(`script-src &#39;nonce-${nonce.replace(/[+/=]/g, (c) => `\\${c}`)}&#39;`));
  assert.match(html, /default-src &#39;none&#39;/);
  assert.deepEqual(html.match(/<script\b[^>]*>/g), [`<script nonce="${nonce}">`]);
  assert.ok(!/<(img|iframe|link|object|embed)\b/i.test(html));
  assert.match(html, /150 messages/);
  assert.match(html, /Top failing sources/);
  assert.match(html, /<svg/);
  assert.match(html, /data-source-ip="198\.51\.100\.7"/);
  assert.match(html, /<button class="dns" data-domain="news\.example\.com"/);
  assert.match(html, /data-export="csv"/);
});

test('the export buttons save CSV and JSON where the save dialog says', async () => {
  const panel = lastPanel();
  recorded.saveAnswer = Uri.file(join(dir, 'out.csv'));
  panel.webview.received.fire({ type: 'export', format: 'csv' });
  await settle();
  const csv = recorded.written.get(Uri.file(join(dir, 'out.csv')).toString());
  assert.ok(csv, [...recorded.written.keys()].join(', '));
  assert.match(csv, /198\.51\.100\.7/);
  recorded.saveAnswer = Uri.file(join(dir, 'out.json'));
  panel.webview.received.fire({ type: 'export', format: 'json' });
  await settle();
  const json = JSON.parse(recorded.written.get(Uri.file(join(dir, 'out.json')).toString()) ?? 'null') as { aggregate: { messages: number } };
  assert.equal(json.aggregate.messages, 150);
  // The user cancels: nothing written.
  recorded.saveAnswer = undefined;
  const count = recorded.written.size;
  panel.webview.received.fire({ type: 'export', format: 'csv' });
  await settle();
  assert.equal(recorded.written.size, count);
});

test('"Check DNS" opens the Mail DNS check of the domain; other messages and odd domains do nothing', async () => {
  const panel = lastPanel();
  let checked: unknown[] = [];
  commands.registerCommand('smtp.mailDns.checkDomain', (...args: unknown[]) => {
    checked = args;
  });
  panel.webview.received.fire({ type: 'dnsCheck', domain: 'News.Example.com.' });
  await settle();
  assert.deepEqual(checked, ['news.example.com']);
  const executed = recorded.executed.length;
  for (const bad of [{ type: 'dnsCheck', domain: 'example.com"; rm -rf /' }, { type: 'dnsCheck', domain: 42 }, { type: 'export', format: 'html' }, { type: 'run' }, null, 'dnsCheck']) panel.webview.received.fire(bad);
  await settle();
  assert.equal(recorded.executed.length, executed);
  assert.equal(parseReportViewMessage({ type: 'dnsCheck', domain: '-bad-.example' }), undefined);
});

test('a folder opens every report under it, TLS-RPT included', async () => {
  await commands.executeCommand(REPORT_VIEW_COMMAND, Uri.file(dir));
  const html = lastPanel().webview.html;
  assert.match(html, /2 files: 1 DMARC aggregate report, 1 TLS-RPT report\./);
  assert.match(html, /certificate-expired/);
});

test('"Look up reverse DNS" asks smtp.dns.server for the PTR names and draws the sources with them; only in a trusted workspace', async () => {
  const rdnsDir = join(dir, 'rdns');
  mkdirSync(rdnsDir);
  const local: AggregateSpec = { ...spec, reportId: 'view-rdns', records: [{ ...spec.records[0], sourceIp: '127.0.0.1' }, { ...spec.records[1], sourceIp: '127.0.0.2' }] };
  writeFileSync(join(rdnsDir, 'receiver.example!example.com!1767225600!1767311999.xml'), aggregateXml(local));
  const knot: KnotPeer = await startKnot({ zones: { 'example.test': 'mail A 127.0.0.1', '0.0.127.in-addr.arpa': ['1 PTR mail.example.test.', '2 PTR other.example.test.'].join('\n') } });
  const forwarder: DnsForwarder = await startDnsForwarder({ upstream: { host: knot.host, port: knot.port } });
  try {
    recorded.settings.set('smtp.dns.server', forwarder.address);
    assert.deepEqual(parseReportViewMessage({ type: 'reverseDns' }), { type: 'reverseDns' });
    await commands.executeCommand(REPORT_VIEW_COMMAND, Uri.file(rdnsDir));
    const panel = lastPanel();
    assert.match(panel.webview.html, /<button type="button" class="rdns" data-rdns="lookup"[^>]*>Look up reverse DNS of 2 sources<\/button>/);
    assert.ok(!panel.webview.html.includes('>Reverse DNS</button>'), 'no column before the lookups');
    assert.equal(forwarder.count(), 0, 'nothing is asked when the view opens');
    // Untrusted: a warning, no query, the button drawn again.
    workspace.isTrusted = false;
    panel.webview.received.fire({ type: 'reverseDns' });
    await settle();
    assert.equal(forwarder.count(), 0);
    assert.match(recorded.warnings[recorded.warnings.length - 1] ?? '', /trust the workspace/);
    workspace.isTrusted = true;
    panel.webview.received.fire({ type: 'reverseDns' });
    const deadline = Date.now() + 15_000;
    while (!panel.webview.html.includes('Reverse DNS: 2 source(s) looked up') && Date.now() < deadline) await settle();
    const html = panel.webview.html;
    assert.match(html, /Reverse DNS: 2 source\(s\) looked up: 1 forward-confirmed, 1 not confirmed/);
    assert.match(html, /<td class="wrap good"[^>]*><span aria-hidden="true">✓ <\/span>mail\.example\.test \(forward-confirmed\)<\/td>/);
    assert.match(html, /<td class="wrap bad"[^>]*><span aria-hidden="true">✗ <\/span>other\.example\.test \(not forward-confirmed\)<\/td>/);
    assert.match(html, /<strong>127\.0\.0\.2<\/strong> <span class="muted">rDNS other\.example\.test \(not forward-confirmed\)<\/span>: 30 of 30 messages fail/, 'the verdict names the failing source with its PTR name');
    assert.match(html, /<title>127\.0\.0\.1 \(rDNS mail\.example\.test \(forward-confirmed\)\): 120 messages/, 'the sources chart says it in its tooltips');
    // The export carries the lookups.
    recorded.saveAnswer = Uri.file(join(dir, 'rdns.json'));
    panel.webview.received.fire({ type: 'export', format: 'json' });
    await settle();
    const exported = JSON.parse(recorded.written.get(Uri.file(join(dir, 'rdns.json')).toString()) ?? 'null') as { aggregate: { sources: Array<{ sourceIp: string; reverseDns?: { status: string } }> } };
    assert.equal(exported.aggregate.sources.find((x) => x.sourceIp === '127.0.0.1')?.reverseDns?.status, 'confirmed');
    // Opening again with the setting on: the lookups start at once and come from the window's cache.
    const asked = forwarder.count();
    recorded.settings.set(REVERSE_DNS_ON_OPEN_SETTING, true);
    await commands.executeCommand(REPORT_VIEW_COMMAND, Uri.file(rdnsDir));
    const again = lastPanel();
    assert.notEqual(again, panel);
    const until = Date.now() + 15_000;
    while (!again.webview.html.includes('Reverse DNS: 2 source(s) looked up') && Date.now() < until) await settle();
    assert.match(again.webview.html, /mail\.example\.test \(forward-confirmed\)/);
    assert.equal(forwarder.count(), asked, 'each IP is asked once per window');
  } finally {
    recorded.settings.delete('smtp.dns.server');
    recorded.settings.delete(REVERSE_DNS_ON_OPEN_SETTING);
    workspace.isTrusted = true;
    await forwarder.stop();
    await knot.stop();
  }
});
