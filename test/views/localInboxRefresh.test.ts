// The Local Inbox tree keeps the rows a user is clicking: every row has the message's id, and a
// refresh that would show the same listing (the file watcher and the capture server both report
// each message) does not replace the rows. Real capture server, real engine, the one fake `vscode`.
import { recorded, Uri, type TreeItem } from './fakeVscode';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as vscode from 'vscode';
import { registerLocalInbox } from '../../client/src/views/localInbox';
import type { StoredMessage } from '../../client/src/localServer';
import { runSession } from '../../client/src/engine';
import type { SessionPlan } from '../../common/sessionPlan';
import { makeTempDir, removeTempDir } from '../peers/process';
import { freePort } from '../peers/ports';
import { cmd, data, makePlan } from '../engine/plan';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A one-message session without CONNECT. */
function plan(subject: string): SessionPlan {
  return makePlan({ steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<alice@example.test>'), cmd('RCPT TO:<bob@example.test>'), data([`Subject: ${subject}`, '', 'x']), cmd('QUIT')] });
}

test('Local Inbox rows keep their ids, and a refresh that changes nothing leaves the rows alone', async () => {
  const storage = makeTempDir('inbox-refresh');
  const settings = { host: '127.0.0.1', port: await freePort(), auth: 'any' };
  const context = { globalStorageUri: Uri.file(storage), subscriptions: [] as Array<{ dispose(): unknown }> };
  const inbox = registerLocalInbox(context as unknown as vscode.ExtensionContext, { getSettings: () => settings });
  try {
    const view = recorded.treeView!;
    let refreshes = 0;
    view.provider.onDidChangeTreeData(() => refreshes++);
    const target = await inbox.ensureServer();
    const result = await runSession(plan('Stable row'), { localTarget: target });
    assert.equal(result.ok, true, result.failure?.message);
    await sleep(400);
    const first = (await view.provider.getChildren()) as StoredMessage[];
    assert.equal(first.length, 1);
    const item = view.provider.getTreeItem(first[0]) as TreeItem;
    assert.equal(item.id, first[0].id, 'the row has the message id');
    // The watcher and the server report the same message again: the listing is the same.
    const before = refreshes;
    await recorded.commands.get('smtp.inbox.refresh')?.();
    await sleep(400);
    assert.equal(refreshes, before, 'no refresh replaced the rows for an unchanged listing');
    const again = (await view.provider.getChildren()) as StoredMessage[];
    assert.equal((view.provider.getTreeItem(again[0]) as TreeItem).id, item.id, 'the same id after a listing');
    // A new message does refresh.
    assert.equal((await runSession(plan('Second row'), { localTarget: target })).ok, true);
    await sleep(400);
    assert.ok(refreshes > before, 'a changed listing refreshes');
  } finally {
    await inbox.stop();
    inbox.dispose();
    removeTempDir(storage);
  }
});
