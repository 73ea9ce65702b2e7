// The .eml preview glue against the one stand-in `vscode` module: the preview follows the active
// editor (another .eml editor brought to the front is shown; other editors leave it alone), remote
// content is blocked again for a new message, edits of the shown message re-render it, and a
// second "Preview" command reuses the one panel. The HTML comes from the real feature bundle.
import { closeAll, editDocument, openDocument, recorded, setActiveEditor, Uri, type FakePanel } from '../views/fakeVscode';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as vscode from 'vscode';
import { EML_PREVIEW_VIEW_TYPE, EmlPreviewManager } from '../../client/src/views/emlPreview';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'smtpwb-emlpreview-'));
});
after(async () => {
  closeAll();
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function message(name: string, subject: string, html = ''): Promise<Uri> {
  const path = join(dir, name);
  const body = html
    ? ['Content-Type: text/html; charset=utf-8', '', html]
    : ['Content-Type: text/plain; charset=utf-8', '', `Body of ${subject}`];
  await writeFile(path, [`From: a@example.test`, `To: b@example.test`, `Subject: ${subject}`, 'MIME-Version: 1.0', ...body, ''].join('\r\n'));
  return Uri.file(path);
}

/** Waits until the panel's HTML matches (renders are asynchronous). */
async function until(panel: FakePanel, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!pattern.test(panel.webview.html)) {
    if (Date.now() > deadline) assert.fail(`the preview never showed ${pattern}; it shows: ${panel.webview.html.slice(0, 400)}`);
    await sleep(20);
  }
}

test('the preview follows the active .eml editor, and only .eml editors', async () => {
  const first = await message('first.eml', 'First subject');
  const second = await message('second.eml', 'Second subject', '<p>Hi <img src="https://tracker.example/pixel.png"></p>');
  const manager = new EmlPreviewManager();
  try {
    const doc1 = openDocument(first, '', 'eml', { active: true });
    const before = recorded.panels.length;
    await manager.show(first as unknown as vscode.Uri);
    assert.equal(recorded.panels.length, before + 1);
    const panel = recorded.panels.at(-1)!;
    assert.equal(panel.viewType, EML_PREVIEW_VIEW_TYPE);
    await until(panel, /First subject/);
    assert.equal(panel.title, 'Preview first.eml');

    // Another .eml editor becomes active: the same panel shows it.
    const doc2 = openDocument(second, '', 'eml');
    setActiveEditor(doc2, 1);
    await until(panel, /Second subject/);
    assert.equal(panel.title, 'Preview second.eml');
    assert.equal(manager.current?.toString(), second.toString());
    assert.equal(recorded.panels.length, before + 1, 'no second panel');

    // Remote content allowed for this message is blocked again when the preview follows another.
    panel.webview.received.fire({ type: 'loadRemote' });
    await until(panel, /tracker\.example/);
    setActiveEditor(doc1, 1);
    await until(panel, /First subject/);
    setActiveEditor(doc2, 1);
    await until(panel, /Second subject/);
    assert.doesNotMatch(panel.webview.html, /<img[^>]+src="https:\/\/tracker\.example/, 'remote image blocked again');

    // A .smtp editor, or no editor, leaves the preview alone.
    const script = openDocument(Uri.file(join(dir, 'x.smtp')), '### s\nQUIT\n', 'smtp');
    setActiveEditor(script, 1);
    setActiveEditor(undefined);
    await sleep(50);
    assert.equal(panel.title, 'Preview second.eml');

    // Edits of the shown message re-render it.
    doc2.text = ['From: a@example.test', 'Subject: Edited subject', '', 'edited'].join('\r\n');
    editDocument(doc2, doc2.text);
    await until(panel, /Edited subject/);

    // The command on another message reuses the panel.
    await manager.show(first as unknown as vscode.Uri);
    await until(panel, /First subject/);
    assert.equal(recorded.panels.length, before + 1);
  } finally {
    manager.dispose();
  }
});
