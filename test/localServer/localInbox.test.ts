// The Local Inbox glue (views/localInbox.ts) against a stand-in `vscode` module: the server starts
// on demand (falling back to a free port when the configured one is taken), the tree lists what
// arrives, and the commands open, copy, reveal, delete, clear (after confirmation), start and stop.
import { recorded, Uri, workspace, type TreeItem } from '../views/fakeVscode';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { publicKeyRecord, signMessage } from '../../client/src/mailAuth';
import { startKnot } from '../peers/knot';
import { join } from 'node:path';
import type * as vscode from 'vscode';
import { registerLocalInbox, LOCAL_INBOX_COMMANDS, RUNNING_CONTEXT_KEY } from '../../client/src/views/localInbox';
import { startCaptureServer, type CaptureServer, type StoredMessage } from '../../client/src/localServer';
import type { LocalServerSettings } from '../../client/src/views/localInboxModel';
import { runSession } from '../../client/src/engine';
import type { TranscriptEvent } from '../../client/src/engine/types';
import { makeTempDir, removeTempDir } from '../peers/process';
import { cmd, data, makePlan, why } from './support';
import type { RuleAction } from '../../client/src/localServer';

async function send(target: { host: string; port: number }, subject: string): Promise<void> {
  const result = await runSession(
    makePlan({ steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<alice@example.test>'), cmd('RCPT TO:<bob@example.test>'), data([`From: Alice <alice@example.test>`, `Subject: ${subject}`, '', 'x']), cmd('QUIT')] }),
    { localTarget: target },
  );
  assert.equal(result.ok, true, why(result));
}

/** The tree's current top level, after its pending refresh. */
async function treeMessages(): Promise<StoredMessage[]> {
  await new Promise((resolve) => setTimeout(resolve, 150));
  return (await recorded.treeView!.provider.getChildren()) as StoredMessage[];
}

const run = (id: string, ...args: unknown[]): Promise<unknown> => Promise.resolve(recorded.commands.get(id)!(...args));

test('Local Inbox: start on demand, list, open, copy, reveal, delete, clear, stop', async () => {
  const storage = makeTempDir('inbox-view');
  // Something else holds the configured port, so the inbox falls back to a free one.
  const squatter = await startCaptureServer({ dir: join(storage, 'squatter'), tls: false });
  const settings: LocalServerSettings = { host: '127.0.0.1', port: squatter.port, auth: 'any' };
  const context = { globalStorageUri: Uri.file(storage), subscriptions: [] as Array<{ dispose(): unknown }> };
  const inbox = registerLocalInbox(context as unknown as vscode.ExtensionContext, { getSettings: () => settings });
  try {
    for (const id of Object.values(LOCAL_INBOX_COMMANDS)) assert.ok(recorded.commands.has(id), `${id} is registered`);
    assert.match(recorded.treeView?.message ?? '', /stopped/);
    assert.equal(recorded.statusBar.visible, false);
    assert.deepEqual(await treeMessages(), []);

    const [a, b] = await Promise.all([inbox.ensureServer(), inbox.ensureServer()]);
    assert.deepEqual(a, b, 'one server for concurrent callers');
    assert.notEqual(a.port, squatter.port);
    assert.ok(recorded.messages.some((m) => m.kind === 'warning' && /is in use/.test(m.text)));
    assert.equal(inbox.server?.dir, join(storage, 'inbox'), 'the default folder is globalStorage/inbox');
    assert.equal(recorded.treeView?.message, undefined);
    assert.ok(recorded.executed.some((e) => e.command === 'setContext' && e.args[0] === RUNNING_CONTEXT_KEY && e.args[1] === true));
    assert.equal(recorded.statusBar.visible, true);
    assert.equal(recorded.statusBar.command, 'smtp.localInbox.focus');
    assert.match(recorded.statusBar.text, new RegExp(`127\\.0\\.0\\.1:${a.port}`));

    await send(a, 'one');
    await new Promise((resolve) => setTimeout(resolve, 5));
    await send(a, 'two');
    let messages = await treeMessages();
    assert.deepEqual(messages.map((m) => m.subject), ['two', 'one']);
    assert.match(recorded.statusBar.text, /\(2\)$/);
    const item = recorded.treeView!.provider.getTreeItem(messages[0]);
    assert.equal(item.label, 'two');
    assert.match(item.description ?? '', /^Alice → bob@example\.test · /);
    assert.equal(item.contextValue, 'smtpInboxMessage');
    assert.equal(item.command?.command, LOCAL_INBOX_COMMANDS.open);

    await run(LOCAL_INBOX_COMMANDS.open, messages[0]);
    assert.deepEqual(recorded.shown.map((s) => s.fsPath), [messages[0].path]);
    await run(LOCAL_INBOX_COMMANDS.copyPath, messages[0], messages);
    assert.equal(recorded.clipboard, messages.map((m) => m.path).join('\n'));
    await run(LOCAL_INBOX_COMMANDS.reveal, messages[1]);
    const reveal = recorded.executed.find((e) => e.command === 'revealFileInOS');
    assert.equal((reveal?.args[0] as Uri).fsPath, messages[1].path);

    // With no argument, the commands use the tree's selection.
    recorded.treeView!.selection = [messages[1]];
    await run(LOCAL_INBOX_COMMANDS.delete);
    assert.equal(existsSync(messages[1].path), false);
    messages = await treeMessages();
    assert.deepEqual(messages.map((m) => m.subject), ['two']);

    await send(a, 'three');
    recorded.warningAnswer = undefined;
    await run(LOCAL_INBOX_COMMANDS.clear);
    assert.equal((await treeMessages()).length, 2, 'cancelling the confirmation keeps the messages');
    recorded.warningAnswer = 'Delete All';
    await run(LOCAL_INBOX_COMMANDS.clear);
    assert.equal((await treeMessages()).length, 0);

    await run(LOCAL_INBOX_COMMANDS.stop);
    assert.equal(inbox.server, undefined);
    assert.equal(recorded.statusBar.visible, false);
    assert.match(recorded.treeView?.message ?? '', /stopped/);

    // The folder setting and a configured account take effect on the next start.
    settings.dir = join(storage, 'custom');
    settings.auth = 'user:secret';
    settings.port = 0;
    for (const listener of recorded.configurationListeners) listener({ affectsConfiguration: (s: string) => s === 'smtp.localServer' });
    await run(LOCAL_INBOX_COMMANDS.start);
    // Read through a function: the assertion above narrowed `inbox.server` to undefined.
    const current = (): CaptureServer | undefined => inbox.server;
    assert.equal(current()?.dir, join(storage, 'custom'));
    assert.equal(current()?.authMode, 'account');
    assert.ok(recorded.messages.some((m) => m.kind === 'info' && /listens on/.test(m.text)));
    const target = await inbox.ensureServer();
    await send(target, 'custom folder');
    messages = await treeMessages();
    assert.equal(messages.length, 1);
    assert.ok(messages[0].path.startsWith(join(storage, 'custom')));
    const tooltip = (recorded.treeView!.provider.getTreeItem(messages[0]) as TreeItem & { tooltip: { value: string } }).tooltip.value;
    assert.match(tooltip, /\*\*RCPT TO:\*\*/);

    // A bad auth setting is reported, not thrown at the user.
    await inbox.stop();
    settings.auth = 'nocolon';
    await run(LOCAL_INBOX_COMMANDS.start);
    assert.ok(recorded.messages.some((m) => m.kind === 'error' && /smtp\.localServer\.auth/.test(m.text)));
    await assert.rejects(inbox.ensureServer(), /smtp\.localServer\.auth/);

    // An untrusted workspace starts no server.
    settings.auth = 'any';
    workspace.isTrusted = false;
    await assert.rejects(inbox.ensureServer(), /trusted workspace/);
    workspace.isTrusted = true;
  } finally {
    inbox.dispose();
    await inbox.stop();
    await squatter.stop();
    removeTempDir(storage);
  }
});

test('Local Inbox: the rules in force, each message\'s authentication and the rule that answered; a broken rules file is reported', async () => {
  const storage = makeTempDir('inbox-rules');
  const { privateKey } = generateKeyPairSync('ed25519');
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const knot = await startKnot({
    zones: {
      'example.test': ['@ TXT "v=spf1 ip4:127.0.0.1 -all"', '_dmarc TXT "v=DMARC1; p=reject"', `sel._domainkey TXT "${publicKeyRecord(privateKeyPem)}"`].join('\n'),
    },
  });
  const rulesFile = join(storage, 'capture-rules.json');
  writeFileSync(rulesFile, JSON.stringify({ version: 1, rules: [{ name: 'unknown user', when: { command: 'RCPT', recipient: 'nobody@*' }, reply: '550 5.1.1 No such user' }] }, null, 2));
  workspace.workspaceFolders = [{ uri: Uri.file(storage), name: 'ws', index: 0 }];
  const settings: LocalServerSettings = { host: '127.0.0.1', port: 0, auth: 'any', dir: 'inbox', rules: 'capture-rules.json', verify: true, dnsServer: knot.address };
  const context = { globalStorageUri: Uri.file(storage), subscriptions: [] as Array<{ dispose(): unknown }> };
  const inbox = registerLocalInbox(context as unknown as vscode.ExtensionContext, { getSettings: () => settings });
  try {
    const target = await inbox.ensureServer();
    const server = inbox.server!;
    assert.deepEqual(server.rules.rules.map((r) => r.name), ['unknown user'], 'the rules file (relative to the workspace folder) is in force');

    const verified = new Promise<void>((done) => server.onAuthenticated(() => done()));
    const body = Buffer.from('From: Alice <alice@example.test>\r\nTo: <bob@example.test>\r\nSubject: signed\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <s@example.test>\r\n\r\nhello\r\n');
    const signed = await signMessage(body, { domain: 'example.test', selector: 'sel', privateKeyPem });
    const events: TranscriptEvent[] = [];
    const result = await runSession(
      makePlan({ steps: [cmd('EHLO client.example.test'), cmd('MAIL FROM:<alice@example.test>'), cmd('RCPT TO:<bob@example.test>'), cmd('RCPT TO:<nobody@example.test>', '550'), data({ file: '/virtual/signed.eml' }), cmd('QUIT')] }),
      { localTarget: { host: target.host, port: target.port }, serverNotes: target.notes, readFile: async () => signed, onEvent: (e) => events.push(e) },
    );
    assert.equal(result.ok, true, why(result));
    // The run's transcript says which rule answered, right after the reply: the server runs in this process.
    const refused = events.findIndex((e) => e.dir === 'server' && e.text.startsWith('550 5.1.1'));
    assert.equal(events[refused + 1]?.text, 'capture server: rule "unknown user" (reply) at RCPT: 550 5.1.1 No such user', JSON.stringify(events));
    await verified;
    const nodes = await recorded.treeView!.provider.getChildren();
    const [rulesNode, message] = nodes as [unknown, StoredMessage];
    const rulesItem = recorded.treeView!.provider.getTreeItem(rulesNode) as TreeItem & { label: string };
    assert.equal(rulesItem.label, 'Rules in force');
    assert.equal(rulesItem.description, '1 rule (capture-rules.json)');
    const ruleNodes = await (recorded.treeView!.provider as unknown as { getChildren(node?: unknown): Promise<unknown[]> }).getChildren(rulesNode);
    const ruleItem = recorded.treeView!.provider.getTreeItem(ruleNodes[0]) as TreeItem & { label: string };
    assert.equal(ruleItem.label, 'unknown user');
    assert.equal(ruleItem.description, 'RCPT recipient=nobody@* → reply 550 5.1.1 No such user');

    const item = recorded.treeView!.provider.getTreeItem(message);
    assert.equal(item.label, 'signed');
    assert.match(item.description ?? '', / · dkim=pass spf=pass dmarc=pass arc=none · rule "unknown user"$/);
    assert.equal((item.iconPath as { id: string }).id, 'verified');
    const tooltip = (item.tooltip as { value: string; supportThemeIcons?: boolean });
    assert.equal(tooltip.supportThemeIcons, true);
    assert.match(tooltip.value, /\$\(pass\) \*\*DKIM\*\* pass \(d=example\.test s=sel\)/);
    assert.match(tooltip.value, /\*\*Transfer:\*\* DATA/);
    assert.match(tooltip.value, /\$\(law\) "unknown user" \(reply\) at RCPT: 550 5\.1\.1 No such user/);

    // After a settings change the server restarts; a rules file with an error is refused with its first problem.
    writeFileSync(rulesFile, '{ "version": 1, "rules": [ { "when": { "command": "RCPT" }, "reply": "250 fine" } ] }');
    for (const listener of recorded.configurationListeners) listener({ affectsConfiguration: (s: string) => s === 'smtp.localServer' });
    await new Promise((r) => setTimeout(r, 300));
    await inbox.ensureServer();
    assert.ok(recorded.messages.some((m) => m.kind === 'warning' && /capture-rules\.json:1:\d+: .*The rules in force stay\./.test(m.text)), JSON.stringify(recorded.messages));
    const action: RuleAction | undefined = inbox.server!.rules.rules[0]?.action;
    assert.equal(action, undefined, 'a restarted server with a broken file starts without rules');
  } finally {
    workspace.workspaceFolders = undefined;
    inbox.dispose();
    await inbox.stop();
    await knot.stop();
    removeTempDir(storage);
  }
});
