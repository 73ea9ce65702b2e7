// The Mail DNS sidebar with DNSSEC and DANE: the view's glue (fake vscode module) reads the resolver
// from the settings, and the tree shows the DNSSEC, DANE and transport groups for the fixture domains
// served by Knot (signed), validated by Unbound, with Exim presenting the certificate.
import { recorded, commands, fakeContext, FakeLog, workspace } from '../views/fakeVscode';
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import type * as vscode from 'vscode';
import { registerMailDns, MAIL_DNS_COMMANDS, MAIL_DNS_VIEW_ID } from '../../client/src/views/mailDnsView';
import type { MailDnsNode } from '../../client/src/views/mailDnsTree';
import { createEngineStartTlsProber } from '../../client/src/dns/index';
import { createTlsChainProber } from '../../client/src/dns/tlsChain';
import { startDanePeers, type DanePeers } from './danePeers';

let peers: DanePeers;
const log = new FakeLog('SMTP Workbench');

before(async () => {
  peers = await startDanePeers();
  // The view asks the configured DNS server: Unbound, the validating resolver.
  recorded.settings.set('smtp.dns.server', peers.unbound.address);
  // The fake has no trust event: this test adds it, as test/views/dkimKeyFileCheck.test.ts does.
  (workspace as unknown as Record<string, unknown>).onDidGrantWorkspaceTrust = () => ({ dispose: () => undefined });
  registerMailDns(fakeContext() as unknown as vscode.ExtensionContext, {
    log: log as unknown as vscode.LogOutputChannel,
    prober: createEngineStartTlsProber({ port: peers.exim.port, extraCa: [peers.exim.caPem] }),
    chainProber: createTlsChainProber(),
    smtpPort: peers.exim.port,
  });
});

after(async () => {
  await peers?.stop();
});

beforeEach(() => {
  recorded.settings.delete('smtp.dns.dnssecResolver');
});

async function domainNode(domain: string): Promise<MailDnsNode> {
  const view = recorded.treeViews.get(MAIL_DNS_VIEW_ID);
  assert.ok(view, 'the Mail DNS view was not created');
  const nodes = (await view.provider.getChildren()) as MailDnsNode[];
  const node = nodes.find((n) => n.domain === domain && n.kind === 'domain');
  assert.ok(node, `no node for ${domain}`);
  return node;
}

function check(node: MailDnsNode, id: string): MailDnsNode | undefined {
  return node.children.find((c) => c.kind === 'check' && c.checkId === id);
}

function codes(check: MailDnsNode | undefined): string[] {
  return (check?.children ?? []).filter((c) => c.kind === 'finding').map((c) => (c as { code: string }).code);
}

/** Probes STARTTLS on a domain's MX hosts, answering the consent dialog with "Connect". */
async function probe(domain: string): Promise<MailDnsNode> {
  recorded.warningAnswer = 'Connect';
  try {
    await commands.executeCommand(MAIL_DNS_COMMANDS.probeStartTls, { domain });
  } finally {
    recorded.warningAnswer = undefined;
  }
  return domainNode(domain);
}

test('a plain check sends only the usual DNS queries: no DNSSEC or DANE group', async () => {
  await commands.executeCommand(MAIL_DNS_COMMANDS.checkDomain, 'ok.example.test');
  const node = await domainNode('ok.example.test');
  assert.ok(check(node, 'mx'), 'no MX group');
  assert.equal(check(node, 'dnssec'), undefined);
  assert.equal(check(node, 'dane'), undefined);
});

test('the STARTTLS probe adds DNSSEC, DANE and transport groups; a matching 3 1 1 record passes', async () => {
  const node = await probe('ok.example.test');
  const ids = node.children.filter((c) => c.kind === 'check').map((c) => (c as { checkId: string }).checkId);
  assert.deepEqual(ids.slice(-3), ['dnssec', 'dane', 'transport']);
  const dane = check(node, 'dane')!;
  assert.ok(codes(dane).includes('dane-tlsa-match'), codes(dane).join(', '));
  assert.notEqual(dane.icon, 'error');
  // The raw TLSA record is in the tree, and each finding links to its RFC section.
  const raw = dane.children.find((c) => c.kind === 'group' && c.label === 'Raw records');
  assert.ok(raw?.children.some((r) => /^3 1 1 [0-9a-f]+/.test(r.label) && /_25\._tcp\.mx-ok\.example\.test TLSA/.test(r.description ?? '')), JSON.stringify(raw?.children.map((r) => [r.label, r.description])));
  const findings = dane.children.filter((c) => c.kind === 'finding') as Array<MailDnsNode & { link: string }>;
  assert.ok(findings.every((f) => /^https:\/\//.test(f.link)), JSON.stringify(findings.map((f) => f.link)));
  assert.notEqual(check(node, 'dnssec')!.icon, 'error');
});

test('a mismatching record and a bogus zone are errors in the tree; an MX behind a CNAME is matched at its target', async () => {
  const bad = await probe('bad.example.test');
  assert.equal(check(bad, 'dane')!.icon, 'error');
  assert.ok(codes(check(bad, 'dane')).includes('dane-authentication-failed'), codes(check(bad, 'dane')).join(', '));
  const cname = await probe('cname.example.test');
  assert.ok(codes(check(cname, 'dane')).includes('dane-tlsa-match'), codes(check(cname, 'dane')).join(', '));
  const bogus = await probe('bogus.example.test');
  assert.equal(check(bogus, 'dnssec')!.icon, 'error');
  assert.ok(codes(check(bogus, 'dane')).includes('dane-tlsa-bogus'), codes(check(bogus, 'dane')).join(', '));
});

test('smtp.dns.dnssecResolver alone adds the DNSSEC groups without connecting to any MX', async () => {
  recorded.settings.set('smtp.dns.dnssecResolver', peers.unbound.address);
  await commands.executeCommand(MAIL_DNS_COMMANDS.refresh, { domain: 'roll.example.test' });
  const node = await domainNode('roll.example.test').catch(async () => {
    await commands.executeCommand(MAIL_DNS_COMMANDS.checkDomain, 'roll.example.test');
    return domainNode('roll.example.test');
  });
  assert.ok(check(node, 'dnssec'), 'no DNSSEC group');
  const dane = codes(check(node, 'dane'));
  assert.ok(!dane.includes('dane-tlsa-match'), dane.join(', '));
  assert.ok(!dane.includes('dane-authentication-failed'), dane.join(', '));
  assert.match(log.lines.map((l) => l.text).join('\n'), /Mail DNS roll\.example\.test/);
});
