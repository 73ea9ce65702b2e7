// The transcript panel and history view glue against a stand-in `vscode` module: one panel per
// script beside the editor, throttled live updates by message, the webview's messages (reveal, copy,
// export, rerun) acted on and bad ones ignored, restore after a reload from the history, and the
// history tree and its commands; the column a transcript goes to.
import { changeSetting, commands, fakeContext, recorded, Selection, Uri, window, type FakePanel, type TreeItem } from './fakeVscode';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as vscode from 'vscode';
import { TranscriptPanels, registerTranscriptSerializer, transcriptColumn, TRANSCRIPT_VIEW_TYPE, UPDATE_INTERVAL_MS } from '../../client/src/views/transcriptPanel';
import { registerHistoryView, HISTORY_COMMANDS, HISTORY_VIEW_ID, type HistoryNode, type HistoryTreeProvider } from '../../client/src/views/historyView';
import { HistoryStore, type HistoryStorage } from '../../client/src/history/historyStore';
import { renderTranscriptText, transcriptJson } from '../../client/src/views/transcriptHtml';
import type { RunRecord } from '../../client/src/runs/runRecord';
import { goodSession, record, SECRET } from './fixtures';

class Memory implements HistoryStorage {
  readonly values = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    const v = this.values.get(key);
    return v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as T);
  }
  async update(key: string, value: unknown): Promise<void> {
    if (value === undefined) this.values.delete(key);
    else this.values.set(key, JSON.parse(JSON.stringify(value)));
  }
}

const context = () => fakeContext() as unknown as vscode.ExtensionContext;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const lastPanel = (): FakePanel => recorded.panels[recorded.panels.length - 1];

test('one panel per script, beside the editor, with scripts only under the nonce and no local resources', () => {
  const panels = new TranscriptPanels(context(), new HistoryStore(new Memory()));
  const before = recorded.panels.length;
  panels.show(record());
  const panel = lastPanel();
  assert.equal(recorded.panels.length, before + 1);
  assert.equal(panel.viewType, TRANSCRIPT_VIEW_TYPE);
  assert.equal(panel.viewColumn, -2, 'ViewColumn.Beside');
  assert.deepEqual(panel.webview.options, { enableScripts: true, enableForms: false, enableCommandUris: false, localResourceRoots: [], retainContextWhenHidden: false, enableFindWidget: true });
  assert.match(panel.webview.html, /Content-Security-Policy/);
  assert.match(panel.title, /^Transcript: All sessions \(submit\.smtp\)$/);
  const firstNonce = panel.webview.nonce;
  // Another run of the same script reuses the panel with a fresh nonce; another script gets its own.
  panels.show(record({ id: 'second', label: 'Second run' }));
  assert.equal(recorded.panels.length, before + 1);
  assert.notEqual(panel.webview.nonce, firstNonce);
  assert.match(panel.webview.html, /Second run/);
  assert.equal(panel.reveals.length, 1);
  panels.show(record({ id: 'other', uri: 'file:///work/examples/other.smtp', fileName: 'other.smtp' }));
  assert.equal(recorded.panels.length, before + 2);
  panels.dispose();
  assert.ok(panel.disposed);
});

test('live updates are throttled and posted as messages once the document is ready', async () => {
  const panels = new TranscriptPanels(context(), new HistoryStore(new Memory()));
  const running = record({ id: 'live', status: 'running', sessions: [] });
  panels.show(running);
  const panel = lastPanel();
  const html = panel.webview.html;
  // Before the document's script is ready, a running update waits instead of replacing the document.
  await sleep(UPDATE_INTERVAL_MS + 20);
  panels.update({ ...running, durationMs: 10 });
  assert.equal(panel.webview.html, html);
  assert.equal(panel.webview.posted.length, 0);
  panel.webview.loaded();
  assert.equal(panel.webview.posted.length, 1, 'the pending update is posted when the document is ready');
  // Many updates within the interval give one message, with the latest state.
  for (let i = 0; i < 20; i++) panels.update({ ...running, sessions: [goodSession({ title: `Session ${i}` })] });
  assert.equal(panel.webview.posted.length, 1);
  await sleep(UPDATE_INTERVAL_MS + 50);
  assert.equal(panel.webview.posted.length, 2);
  const message = panel.webview.posted[1] as { type: string; recordId: string; status: string; html: string };
  assert.equal(message.type, 'render');
  assert.equal(message.recordId, 'live');
  assert.equal(message.status, 'running');
  assert.match(message.html, /Session 19/);
  assert.doesNotMatch(message.html, /<script/);
  // The final state is rendered at once.
  panels.update({ ...running, status: 'passed', sessions: [goodSession()] });
  assert.equal(panel.webview.posted.length, 3);
  assert.equal((panel.webview.posted[2] as { status: string }).status, 'passed');
  // Updates of another run than the one shown are ignored.
  panels.update(record({ id: 'not-shown' }));
  await sleep(UPDATE_INTERVAL_MS + 20);
  assert.equal(panel.webview.posted.length, 3);
  // While hidden the document itself is replaced; shown again after messages, it is set afresh.
  panel.setVisible(false);
  panels.update({ ...running, status: 'failed', label: 'Hidden update' });
  assert.match(panel.webview.html, /Hidden update/);
  panel.setVisible(true);
  panel.webview.loaded();
  panels.update({ ...running, status: 'failed', label: 'Shown update' });
  assert.match((panel.webview.posted.at(-1) as { html: string }).html, /Shown update/);
  assert.doesNotMatch(panel.webview.html, /Shown update/);
  panel.setVisible(false);
  panel.setVisible(true);
  assert.match(panel.webview.html, /Shown update/);
  panels.dispose();
});

test('the webview messages reveal, copy, export and rerun; bad ones are ignored', async () => {
  const panels = new TranscriptPanels(context(), new HistoryStore(new Memory()));
  const r = record();
  panels.show(r);
  const panel = lastPanel();
  const send = async (message: unknown) => {
    panel.webview.received.fire(message);
    await sleep(10);
  };
  await send({ type: 'reveal', line: 27 });
  assert.deepEqual(recorded.shown.at(-1), { uri: 'file:///work/examples/submit.smtp', fsPath: '/work/examples/submit.smtp', line: 27, viewColumn: 1 });
  await send({ type: 'reveal', line: 500 });
  assert.equal(recorded.shown.at(-1)?.line, 39, 'clamped to the document');
  const shown = recorded.shown.length;
  await send({ type: 'reveal', line: -1 });
  await send({ type: 'reveal', line: '3' });
  await send({ type: 'reveal', uri: 'file:///etc/passwd', line: 1.5 });
  assert.equal(recorded.shown.length, shown);

  await send({ type: 'copy' });
  assert.equal(recorded.clipboard, renderTranscriptText(r));

  recorded.saveAnswer = Uri.file('/tmp/out/run.json');
  await send({ type: 'exportJson' });
  assert.equal(recorded.written.get('file:///tmp/out/run.json'), transcriptJson(r));
  recorded.saveAnswer = Uri.file('/tmp/out/run.txt');
  await send({ type: 'exportText' });
  assert.equal(recorded.written.get('file:///tmp/out/run.txt'), renderTranscriptText(r));
  recorded.saveAnswer = undefined;
  await send({ type: 'exportText' });
  assert.equal(recorded.written.size, 2, 'a cancelled dialog writes nothing');

  await send({ type: 'rerun', id: 'someone-else' });
  assert.deepEqual(recorded.executed.at(-1), { command: 'smtp.rerunRecord', args: [r.id] });
  const executed = recorded.executed.length;
  await send({ type: 'runCommand', command: 'workbench.action.terminal.new' });
  await send(null);
  assert.equal(recorded.executed.length, executed);
  panels.dispose();
});

test('the serializer restores a panel from the history after a reload', async () => {
  const store = new HistoryStore(new Memory());
  await store.add(record({ id: 'kept', label: 'Kept', error: `could not log in: ${SECRET}` }), [SECRET]);
  const ctx = context();
  const panels = new TranscriptPanels(ctx, store);
  registerTranscriptSerializer(ctx, panels);
  const serializer = recorded.serializers.get(TRANSCRIPT_VIEW_TYPE);
  assert.ok(serializer);
  const restored = new (lastPanelClass())('smtp.transcript', 'old title', 1, {}, {});
  await serializer.deserializeWebviewPanel(restored, { recordId: 'kept', scrollY: 10 });
  assert.match(restored.webview.html, /<h1>Kept<\/h1>/);
  assert.match(restored.webview.html, /could not log in: \*{8}/);
  assert.doesNotMatch(restored.webview.html, new RegExp(SECRET.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')));
  assert.deepEqual((restored.webview.options as { localResourceRoots: unknown[] }).localResourceRoots, []);
  // The restored panel is managed: the next run of that script shows in it.
  const count = recorded.panels.length;
  const next: RunRecord = record({ id: 'next' });
  panels.show(next);
  assert.equal(recorded.panels.length, count);
  assert.match(restored.webview.html, /data-record-id="next"/);

  const gone = new (lastPanelClass())('smtp.transcript', 'old', 1, {}, {});
  await serializer.deserializeWebviewPanel(gone, { recordId: 'deleted' });
  assert.match(gone.webview.html, /no longer in the SMTP history/);
  const junk = new (lastPanelClass())('smtp.transcript', 'old', 1, {}, {});
  await serializer.deserializeWebviewPanel(junk, undefined);
  assert.match(junk.webview.html, /no longer in the SMTP history/);
  panels.dispose();
});

function lastPanelClass(): new (viewType: string, title: string, column: number, show: unknown, options: unknown) => FakePanel {
  return recorded.panels[0].constructor as new (viewType: string, title: string, column: number, show: unknown, options: unknown) => FakePanel;
}

test('the history view lists runs and sessions, and its commands open, rerun, delete and clear', async () => {
  const store = new HistoryStore(new Memory(), { size: 10 });
  await store.add(record({ id: 'r1', label: 'First', status: 'passed', sessions: [goodSession()] }), []);
  await store.add(record({ id: 'r2', label: 'Second\u202Eevil\nline' }), []);
  const ctx = context();
  const panels = new TranscriptPanels(ctx, store);
  registerHistoryView(ctx, store, panels);
  const view = recorded.treeViews.get(HISTORY_VIEW_ID);
  assert.ok(view);
  const provider = view.treeDataProvider as HistoryTreeProvider;
  let changes = 0;
  provider.onDidChangeTreeData(() => changes++);

  const runs = provider.getChildren();
  assert.deepEqual(runs.map((n) => (n.kind === 'run' ? n.entry.id : '')), ['r2', 'r1']);
  const item = provider.getTreeItem(runs[0]) as unknown as TreeItem;
  assert.equal(item.label, 'Second\\u202Eevil line', 'the bidi override is shown, not applied');
  assert.match(item.description ?? '', /^submit\.smtp · /);
  assert.equal((item.iconPath as { id: string }).id, 'error');
  assert.equal(item.contextValue, 'smtpHistoryRun');
  assert.equal(item.command?.command, HISTORY_COMMANDS.open);
  assert.equal(((provider.getTreeItem(runs[1]) as unknown as TreeItem).iconPath as { id: string }).id, 'pass');
  const sessions = provider.getChildren(runs[0]);
  assert.equal(sessions.length, 2);
  const failed = provider.getTreeItem(sessions[1]) as unknown as TreeItem;
  assert.equal(failed.label, 'Unknown recipient is refused');
  assert.match(failed.description ?? '', /^expectation: RCPT TO:<nobody@example\.net>/);
  assert.equal(failed.contextValue, 'smtpHistorySession');

  const before = recorded.panels.length;
  await commands.executeCommand(HISTORY_COMMANDS.open, sessions[1]);
  assert.equal(recorded.panels.length, before + 1);
  assert.match(lastPanel().webview.html, /data-record-id="r2"/);
  await commands.executeCommand(HISTORY_COMMANDS.open, 'r1');
  assert.match(lastPanel().webview.html, /data-record-id="r1"/);

  await commands.executeCommand(HISTORY_COMMANDS.rerun, runs[1]);
  assert.deepEqual(recorded.executed.at(-1), { command: 'smtp.rerunRecord', args: ['r1'] });

  await commands.executeCommand(HISTORY_COMMANDS.delete, runs[1] as HistoryNode);
  assert.deepEqual(store.list().map((e) => e.id), ['r2']);
  assert.ok(changes > 0, 'the tree refreshed');
  await commands.executeCommand(HISTORY_COMMANDS.open, 'r1');
  assert.match(recorded.warnings.at(-1) ?? '', /no longer in the SMTP history/);

  recorded.warningAnswer = undefined;
  await commands.executeCommand(HISTORY_COMMANDS.clear);
  assert.equal(store.list().length, 1, 'not cleared without confirmation');
  recorded.warningAnswer = 'Clear History';
  await commands.executeCommand(HISTORY_COMMANDS.clear);
  assert.equal(store.list().length, 0);

  // A smaller size setting prunes at once.
  const sized = new HistoryStore(new Memory(), { size: () => Number(recorded.settings.get('smtp.history.size') ?? 50) });
  registerHistoryView(context(), sized, panels);
  for (const id of ['a', 'b', 'c']) await sized.add(record({ id }), []);
  changeSetting('smtp.history.size', 1);
  await sleep(10);
  assert.deepEqual(sized.list().map((e) => e.id), ['c']);
  panels.dispose();
});

test('a transcript goes to a column that exists: never a third column for a script in the second', () => {
  // Pure: where a panel goes.
  assert.equal(transcriptColumn({ script: 1, editors: [1], transcripts: [] }), -2, 'alone: beside the script');
  assert.equal(transcriptColumn({ script: 2, editors: [1, 2], transcripts: [] }), 1, 'script in the second column: the first');
  assert.equal(transcriptColumn({ script: 1, editors: [1, 2], transcripts: [] }), 2);
  assert.equal(transcriptColumn({ script: 2, editors: [1, 2, 3], transcripts: [] }), 3, 'the nearest, the right one first');
  assert.equal(transcriptColumn({ script: 1, editors: [1, 2, 3], transcripts: [3] }), 3, "another transcript's column");
  assert.equal(transcriptColumn({ script: 2, editors: [1, 2], transcripts: [], own: 1 }), 1, 'its own column');
  assert.equal(transcriptColumn({ script: 2, editors: [1, 2], transcripts: [], own: 2 }), 1, 'moved off the script');

  const panels = new TranscriptPanels(context(), new HistoryStore(new Memory()));
  const script = Uri.parse('file:///work/examples/submit.smtp');
  window.visibleTextEditors = [
    { document: { uri: Uri.parse('file:///work/examples/other.smtp') }, viewColumn: 1, selection: new Selection(0, 0, 0, 0) },
    { document: { uri: script }, viewColumn: 2, selection: new Selection(0, 0, 0, 0) },
  ];
  try {
    panels.show(record());
    const panel = lastPanel();
    assert.equal(panel.viewColumn, 1, 'created in the first column, not a third');
    // Shown again while the script sits in the panel's column: the panel moves off the script.
    window.visibleTextEditors = [{ document: { uri: script }, viewColumn: 1, selection: new Selection(0, 0, 0, 0) }, { document: { uri: Uri.parse('file:///x.smtp') }, viewColumn: 2, selection: new Selection(0, 0, 0, 0) }];
    panels.show(record({ id: 'again' }));
    assert.deepEqual(panel.reveals.at(-1), { column: 2, preserveFocus: true });
  } finally {
    window.visibleTextEditors = [];
    panels.dispose();
  }
});

test('the panel shows the session in progress, and its Cancel cancels that run only while it runs', async () => {
  const panels = new TranscriptPanels(context(), new HistoryStore(new Memory()));
  const running: RunRecord = record({
    id: 'live-run',
    status: 'running',
    sessions: [],
    current: { index: 0, title: 'Waiting on a slow server', line: 3, events: [{ t: 1, dir: 'server', text: '220 slow.example.test ESMTP', bytes: 29 }] },
  });
  panels.show(running);
  const panel = lastPanel();
  assert.match(panel.webview.html, /Waiting on a slow server/);
  assert.match(panel.webview.html, /220 slow\.example\.test ESMTP/, 'the events so far are shown');
  assert.match(panel.webview.html, /data-action="cancel"/);
  const send = async (message: unknown) => {
    panel.webview.received.fire(message);
    await sleep(10);
  };
  await send({ type: 'cancel' });
  assert.deepEqual(recorded.executed.at(-1), { command: 'smtp.cancelRun', args: ['live-run'] });
  const executed = recorded.executed.length;
  panels.update({ ...running, status: 'cancelled', current: undefined });
  await send({ type: 'cancel' });
  assert.equal(recorded.executed.length, executed, 'a finished run is not cancelled again');
  panels.dispose();
});
