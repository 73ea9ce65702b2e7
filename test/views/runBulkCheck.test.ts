// "Check Bulk-Sender Requirements" of a run in the editor (issue 15): RunController keeps the
// messages the engine reported through onMessage, and the command checks them with the one home of
// the check (reports/bulkCheck.ts) and lists the results: one heading per message, one row per
// requirement with its source. Real parts: the language server (plans), the engine, the project's
// capture server as the receiving server (no STARTTLS used, so TLS fails), and Knot for SPF, DMARC
// and the sending IP's reverse DNS.
import { CancellationTokenSource, closeAll, commands, fakeContext, recorded, Uri, window, workspace } from './fakeVscode';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as vscode from 'vscode';
import { startCaptureServer, type CaptureServer } from '../../client/src/localServer';
import type { RunMessageCheck } from '../../client/src/reports/bulkCheck';
import type { RunRecord } from '../../client/src/runs/runRecord';
import { registerRunBulkCheck, RUN_BULK_COMMAND, runBulkRows, runBulkTitle } from '../../client/src/views/runBulkCheck';
import { parseWebviewMessage, renderTranscriptBody, sentAMessage } from '../../client/src/views/transcriptHtml';
import { startKnot, type KnotPeer } from '../peers/knot';
import { fixturesDir } from '../editor/paths';
import { repoPath } from '../smtp/repoRoot';
import { startLspClient, type LspClient } from '../support/lspClient';
import { runHarness, type RunHarness } from './runHarness';

let lsp: LspClient;
let dir: string;
let knot: KnotPeer;
let capture: CaptureServer;
let h: RunHarness;

before(async () => {
  lsp = await startLspClient();
  dir = await mkdtemp(join(tmpdir(), 'smtpwb-runbulk-'));
  knot = await startKnot({
    zones: {
      'bulk-editor.test': ['@ TXT "v=spf1 ip4:127.0.0.1 -all"', '_dmarc TXT "v=DMARC1; p=reject"', 'mail A 127.0.0.1'].join('\n'),
      '0.0.127.in-addr.arpa': '1 PTR mail.bulk-editor.test.',
    },
  });
  capture = await startCaptureServer({ host: '127.0.0.1', port: 0, dir: join(dir, 'inbox') });
  h = runHarness(lsp);
  registerRunBulkCheck(h.context as unknown as vscode.ExtensionContext, h.runs, h.log as unknown as vscode.LogOutputChannel);
});

after(async () => {
  closeAll();
  recorded.settings.delete('smtp.dns.server');
  h?.runs.dispose();
  await capture?.stop();
  await knot?.stop();
  await lsp?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function script(name: string, text: string): Promise<vscode.Uri> {
  const path = join(dir, name);
  await writeFile(path, text);
  return Uri.file(path) as unknown as vscode.Uri;
}

type Row = { label: string; kind?: number; description?: string; detail?: string; link?: string };

/** Runs the command and returns the rows the quick pick was given (picking none). */
async function checkRows(recordId?: string, onTitle?: (title: string) => void): Promise<Row[]> {
  let rows: Row[] = [];
  recorded.quickPickAnswer = (items, options) => {
    rows = items as Row[];
    onTitle?.(String((options as { title?: string } | undefined)?.title ?? ''));
    return undefined;
  };
  try {
    await commands.executeCommand(RUN_BULK_COMMAND, ...(recordId !== undefined ? [recordId] : []));
  } finally {
    recorded.quickPickAnswer = undefined;
  }
  return rows;
}

test('the messages a run sent are checked: a heading per message, a row per requirement with its source; TLS and reverse DNS as the run saw them', async () => {
  recorded.settings.set('smtp.dns.server', knot.address);
  // The editor flow's script (test/editor-fixtures/basic/bulk.smtp), sent to this test's capture server.
  const fixture = await readFile(join(fixturesDir(), 'basic', 'bulk.smtp'), 'utf8');
  const uri = await script('bulk.smtp', fixture.replace('CONNECT local\n', `CONNECT smtp://127.0.0.1:${capture.port}\n`));
  const record = (await h.runs.run(uri, [0], { showPanel: false })) as RunRecord;
  assert.equal(record.status, 'passed', JSON.stringify(record.sessions[0]?.failure));
  assert.equal(sentAMessage(record), true);
  assert.match(renderTranscriptBody(record), /data-action="checkBulk"/, 'the finished transcript offers the check');
  assert.equal(h.runs.sentMessages(record.id)?.sessions[0]?.sent.length, 1);

  let title = '';
  const rows = await checkRows(record.id, (t) => (title = t));
  assert.equal(rows.filter((r) => r.kind === -1).length, 0, 'one message needs no heading');
  assert.match(title, /^Bulk-sender requirements of "Newsletter from a run" \(message at line 9, without TLS, from 127\.0\.0\.1\): \d+ of \d+ fail\. Select a row to open its source\.$/);
  const row = (code: string) => rows.find((r) => r.description?.endsWith(`· ${code}`));
  assert.match(row('bulk-tls')?.description ?? '', /^fail/, 'the run did not use STARTTLS');
  assert.match(row('bulk-fcrdns')?.description ?? '', /^pass/, JSON.stringify(rows));
  assert.match(row('bulk-fcrdns')?.detail ?? '', /mail\.bulk-editor\.test/);
  assert.match(row('bulk-spf')?.description ?? '', /^pass/, 'SPF with the run\'s sending IP, EHLO and MAIL FROM');
  assert.match(row('bulk-dkim')?.description ?? '', /^fail/, 'the message is not signed');
  for (const r of rows.filter((x) => x.kind !== -1)) assert.match(r.link ?? '', /^https:\/\//, `${r.label} links its source`);
  // The same results in the log, escaped.
  assert.ok(h.log.lines.some((l) => /bulk-sender requirements of the run "Newsletter from a run"/.test(l.text)));

  // From the command palette, without a record id: the last run that sent a message.
  const again = await checkRows();
  assert.deepEqual(again.map((r) => r.description), rows.map((r) => r.description));
});

test('the progress notification can be cancelled: no further message is checked, and the results say how many were not', async () => {
  recorded.settings.set('smtp.dns.server', knot.address);
  const transaction = (n: number): string[] => [
    'MAIL FROM:<news@bulk-editor.test>',
    'RCPT TO:<reader@example.test>',
    'DATA',
    'From: News <news@bulk-editor.test>',
    'To: <reader@example.test>',
    `Subject: Cancelled ${n}`,
    'Date: Mon, 23 Nov 2026 10:00:00 +0000',
    `Message-ID: <c${n}@bulk-editor.test>`,
    '',
    'Hello.',
    '.',
    'EXPECT 250',
  ];
  const text = ['### Three messages', `CONNECT smtp://127.0.0.1:${capture.port}`, 'EHLO mail.bulk-editor.test', ...transaction(1), ...transaction(2), ...transaction(3), 'QUIT', ''].join('\n');
  const record = (await h.runs.run(await script('three.smtp', text), [0], { showPanel: false })) as RunRecord;
  assert.equal(record.status, 'passed', JSON.stringify(record.sessions[0]?.failure));
  assert.equal(h.runs.sentMessages(record.id)?.sessions[0]?.sent.length, 3);

  // The person presses Cancel on the notification: after the first message is checked, or before any.
  const original = window.withProgress;
  const cancelling = (after: number | undefined) =>
    (async (options, task) => {
      assert.equal(options.cancellable, true, 'the notification offers Cancel');
      const source = new CancellationTokenSource();
      if (after === undefined) source.cancel();
      let reports = 0;
      try {
        return await task({ report: () => void (++reports === after && source.cancel()) }, source.token);
      } finally {
        source.dispose();
      }
    }) as typeof window.withProgress;
  try {
    window.withProgress = cancelling(1);
    let title = '';
    const rows = await checkRows(record.id, (t) => (title = t));
    assert.match(title, /^Bulk-sender requirements of "Three messages" \(message at line \d+, without TLS, from 127\.0\.0\.1\): \d+ of \d+ fail\. The check was cancelled: 2 messages not checked\. Select a row/);
    assert.equal(rows.at(-1)?.label, '2 messages not checked (cancelled)');
    assert.equal(rows.filter((r) => r.kind !== -1).length, 9, 'the one message checked');
    assert.ok(h.log.lines.some((l) => /"Three messages".*: cancelled, 2 of 3 messages not checked/.test(l.text)));

    recorded.messages.length = 0;
    window.withProgress = cancelling(undefined);
    assert.deepEqual(await checkRows(record.id), []);
    assert.match(recorded.messages.at(-1)?.text ?? '', /was cancelled before any message was checked/);
  } finally {
    window.withProgress = original;
  }
  assert.deepEqual(
    runBulkRows([{ title: 's', checks: [], truncated: false, unchecked: 1 }]),
    [{ kind: 'heading', label: '1 message not checked (cancelled)' }],
  );
});

test('a run no longer in memory, or none that sent a message, is explained; an untrusted workspace checks nothing', async () => {
  recorded.messages.length = 0;
  assert.deepEqual(await checkRows('no-such-record'), []);
  assert.match(recorded.messages.at(-1)?.text ?? '', /no longer at hand: they are kept in memory .* never stored/);
  workspace.isTrusted = false;
  try {
    assert.deepEqual(await checkRows(), []);
    assert.match(recorded.messages.at(-1)?.text ?? '', /does not do from an untrusted workspace/);
  } finally {
    workspace.isTrusted = true;
  }
  assert.equal(parseWebviewMessage({ type: 'checkBulk' })?.type, 'checkBulk');
  // The command palette offers it in a trusted workspace only.
  const manifest = JSON.parse(await readFile(repoPath('package.json'), 'utf8')) as {
    contributes: { commands: Array<{ command: string; title: string; category?: string }>; menus: Record<string, Array<{ command: string; when?: string }>> };
  };
  const contributed = manifest.contributes.commands.find((c) => c.command === RUN_BULK_COMMAND);
  assert.equal(`${contributed?.category}: ${contributed?.title}`, 'SMTP: Check Bulk-Sender Requirements of the Last Run');
  assert.equal(manifest.contributes.menus.commandPalette.find((m) => m.command === RUN_BULK_COMMAND)?.when, 'isWorkspaceTrusted');
});

test('the rows: what the message said is shown as text, headings name session, line, TLS, IP and how many fail', () => {
  const check = {
    line: 9,
    finalCodes: [250],
    tls: true,
    clientIp: '192.0.2.1',
    dnsUnanswered: false,
    report: {} as RunMessageCheck['report'],
    requirements: [
      { code: 'bulk-unsubscribe', status: 'fail', title: 'One-click unsubscribe', message: 'List-Unsubscribe is <javascript:x>\u001b[2J', link: 'https://www.rfc-editor.org/rfc/rfc8058' },
      { code: 'bulk-tls', status: 'pass', title: 'TLS', message: 'sent over TLS', link: 'https://support.google.com/a/answer/81126' },
    ],
  } as unknown as RunMessageCheck;
  const two = [
    { title: 'Send\u202e evil', checks: [check, { ...check, line: 20 }], truncated: true },
    { title: 'Other', checks: [check], truncated: false },
  ];
  const rows = runBulkRows(two);
  assert.deepEqual(rows[0], { kind: 'heading', label: 'Send\\u202E evil · line 10: 1 of 2 fail' });
  assert.equal(rows[1].kind === 'requirement' && rows[1].detail, 'List-Unsubscribe is <javascript:x>\\x1B[2J — https://www.rfc-editor.org/rfc/rfc8058');
  assert.deepEqual(rows[3], { kind: 'heading', label: 'Send\\u202E evil · line 21: 1 of 2 fail' });
  assert.deepEqual(rows[6], { kind: 'heading', label: 'Send\\u202E evil: only the first messages are kept and checked' });
  assert.equal(runBulkTitle('Run', two), 'Bulk-sender requirements of "Run": 3 of 3 messages fail. Select a row to open its source.');
  assert.equal(runBulkTitle('Run\u001b', [{ title: 's', checks: [check], truncated: false }]), 'Bulk-sender requirements of "Run\\x1B" (message at line 10, over TLS, from 192.0.2.1): 1 of 2 fail. Select a row to open its source.');
  assert.equal(runBulkRows([{ title: 's', checks: [check], truncated: false }]).filter((r) => r.kind === 'heading').length, 0);
});
