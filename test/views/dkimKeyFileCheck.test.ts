// "Mail DNS: Check DKIM Key File…" (issue 12: the sidebar offers `smtpwb dkim check` for a key file
// the user picks): prompts prefilled from the tree item, the picked file checked against the key
// record a real Knot serves, the verdict in a modal and the log channel with DNS text escaped, and
// the command contributed for the DKIM items of the Mail DNS view.
import { recorded, window, workspace, commands, fakeContext, FakeLog, Uri } from './fakeVscode';
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as vscode from 'vscode';
import { startKnot, type KnotPeer } from '../peers/knot';
import { makeTempDir, removeTempDir } from '../peers/process';
import { repoPath } from '../smtp/repoRoot';
import { registerMailDns } from '../../client/src/views/mailDnsView';
import { CHECK_DKIM_KEY_COMMAND } from '../../client/src/views/dkimKeyFileCheck';
import { createNodeResolver } from '../../client/src/dns/resolver';
import type { MailDnsNode } from '../../client/src/views/mailDnsTree';
import { ROOT_ZONE as ROOT, txt } from '../mailAuth/fixtures';


function newKey(): { pem: string; p: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    p: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

let knot: KnotPeer;
let dir: string;
const published = newKey();
const other = newKey();
const log = new FakeLog('SMTP Workbench');
const asked: Array<{ title?: string; value?: string }> = [];
let picked: string | undefined;

before(async () => {
  dir = makeTempDir('dkim-keyfile');
  writeFileSync(join(dir, 'published.pem'), published.pem);
  writeFileSync(join(dir, 'other.pem'), other.pem);
  const zone = [
    '$ORIGIN keys.test.',
    '$TTL 300',
    '@ SOA ns.invalid. h.invalid. 1 3600 600 86400 300',
    '@ NS ns.invalid.',
    `s1._domainkey TXT ${txt(`v=DKIM1; k=rsa; p=${published.p}`)}`,
    // DNS text a peer controls: a terminal escape in a tag value must reach no log line raw.
    `esc._domainkey TXT ${txt(`v=DKIM1; k=rsa; n=\\027[31mred; p=${published.p}`)}`,
    'gone._domainkey TXT "v=DKIM1; k=rsa; p="',
  ].join('\n');
  knot = await startKnot({ zones: { '': ROOT, 'keys.test': `${zone}\n` } });
  // The fake has no open dialog, no trust event and does not record an input box's value: this test adds them.
  (workspace as unknown as Record<string, unknown>).onDidGrantWorkspaceTrust = () => ({ dispose: () => undefined });
  const w = window as unknown as Record<string, unknown>;
  w.showOpenDialog = async () => (picked === undefined ? undefined : [Uri.file(picked)]);
  const showInputBox = window.showInputBox;
  w.showInputBox = async (options: { title?: string; value?: string } = {}) => {
    asked.push({ title: options.title, value: options.value });
    return showInputBox(options);
  };
  registerMailDns(fakeContext() as unknown as vscode.ExtensionContext, { resolver: createNodeResolver({ server: knot.address, timeoutMs: 1500, tries: 1 }), log: log as unknown as vscode.LogOutputChannel });
});

after(async () => {
  await knot?.stop();
  if (dir) removeTempDir(dir);
});

beforeEach(() => {
  asked.length = 0;
  recorded.messages.length = 0;
  log.lines.length = 0;
});

function recordNode(name: string): MailDnsNode {
  return { kind: 'record', id: 'keys.test/dkim/records/0', label: 'v=DKIM1; …', description: `${name} TXT`, icon: 'record', contextValue: 'mailDnsRecord', domain: 'keys.test', children: [] };
}

test('a key record item prefills domain and selector; the matching key file is confirmed in a modal and the log', async () => {
  recorded.inputAnswers.push('keys.test', 's1');
  picked = join(dir, 'published.pem');
  const verdict = await commands.executeCommand(CHECK_DKIM_KEY_COMMAND, recordNode('s1._domainkey.keys.test'));
  assert.equal(verdict, true);
  assert.deepEqual(asked.map((a) => a.value), ['keys.test', 's1']);
  const shown = recorded.messages.at(-1)!;
  assert.equal(shown.kind, 'info');
  assert.equal(shown.modal, true);
  assert.match(shown.text, /^The key matches: the private key in published\.pem matches the RSA-2048 key published at s1\._domainkey\.keys\.test\.$/);
  assert.match(log.text(), /DKIM key check s1\._domainkey\.keys\.test: OK/);
});

test('another key file, a revoked key and a missing record are each "does not match", with the reason', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['s1', 'other.pem', /the key published at s1\._domainkey\.keys\.test does not match the private key in other\.pem/],
    ['gone', 'published.pem', /the key at gone\._domainkey\.keys\.test is revoked \(empty p=\)/],
    ['nokey', 'published.pem', /no DKIM key record at nokey\._domainkey\.keys\.test/],
  ];
  for (const [selector, file, want] of cases) {
    recorded.inputAnswers.push('keys.test', selector);
    picked = join(dir, file);
    const verdict = await commands.executeCommand(CHECK_DKIM_KEY_COMMAND, recordNode(`${selector}._domainkey.keys.test`));
    assert.equal(verdict, false, selector);
    const shown = recorded.messages.at(-1)!;
    assert.equal(shown.kind, 'error', selector);
    assert.equal(shown.modal, true, selector);
    assert.match(shown.text, want, selector);
    assert.match(log.text(), /: FAIL: /, selector);
  }
});

test('DNS text is escaped in the log and the modal; cancelling any step checks nothing', async () => {
  recorded.inputAnswers.push('keys.test', 'esc');
  picked = join(dir, 'published.pem');
  assert.equal(await commands.executeCommand(CHECK_DKIM_KEY_COMMAND, recordNode('esc._domainkey.keys.test')), true);
  assert.ok(!log.text().includes('\u001b'), 'no raw escape character in the log');
  assert.match(log.text(), /n=\\x1B\[31mred/i);

  recorded.messages.length = 0;
  recorded.inputAnswers.push('keys.test', undefined);
  assert.equal(await commands.executeCommand(CHECK_DKIM_KEY_COMMAND, recordNode('s1._domainkey.keys.test')), undefined);
  recorded.inputAnswers.push('keys.test', 's1');
  picked = undefined;
  assert.equal(await commands.executeCommand(CHECK_DKIM_KEY_COMMAND, recordNode('s1._domainkey.keys.test')), undefined);
  assert.deepEqual(recorded.messages, []);
});

test('the DKIM check and its records carry their own context value, and package.json contributes the command there', () => {
  const provider = recorded.treeViews.get('smtp.mailDns')!.provider as unknown as { getTreeItem(n: MailDnsNode): { contextValue?: string } };
  const check: MailDnsNode = { kind: 'check', id: 'keys.test/dkim', checkId: 'dkim', label: 'DKIM', icon: 'pass', contextValue: 'mailDnsCheck', domain: 'keys.test', children: [] };
  const spf: MailDnsNode = { ...check, id: 'keys.test/spf', checkId: 'spf' };
  assert.equal(provider.getTreeItem(check).contextValue, 'mailDnsCheckDkim');
  assert.equal(provider.getTreeItem(spf).contextValue, 'mailDnsCheck');
  assert.equal(provider.getTreeItem(recordNode('s1._domainkey.keys.test')).contextValue, 'mailDnsDkimRecord');
  const manifest = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as {
    contributes: { commands: Array<{ command: string; title: string }>; menus: Record<string, Array<{ command: string; when?: string }>> };
  };
  assert.equal(manifest.contributes.commands.find((c) => c.command === CHECK_DKIM_KEY_COMMAND)?.title, 'Check DKIM Key File…');
  const whens = manifest.contributes.menus['view/item/context'].filter((m) => m.command === CHECK_DKIM_KEY_COMMAND).map((m) => m.when ?? '');
  for (const value of ['mailDnsCheckDkim', 'mailDnsDkimRecord']) {
    assert.ok(
      whens.some((w) => w.includes('view == smtp.mailDns') && new RegExp(/viewItem =~ \/(.*)\//.exec(w)?.[1] ?? '^$').test(value)),
      `a context menu entry shows the command on ${value}`,
    );
  }
});
