// The extension's run path end to end, without the editor: RunController with the fake `vscode`
// module, the real language server (the built `smtpwb lsp --stdio`, as the extension starts it) for
// the sessions and their plans, the real engine, and scripted servers on loopback (hostile where a
// test needs it). It shows that a run asks everything up front (never in a notification), that a
// session that fails anyway is asked nothing, that the panel sees events as they happen, that
// Cancel ends a session politely, that a CodeLens run shows in the Test Explorer, and that test
// output is escaped with the CRLF line ends the Test Results terminal needs.
import { closeAll, recorded, Uri, window, workspace, type FakeTestController } from './fakeVscode';
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as vscode from 'vscode';
import type { RunRecord } from '../../client/src/runs/runRecord';
import { registerSessionTests } from '../../client/src/testing/sessionTests';
import { formatEventForTestOutput } from '../../client/src/output/transcriptText';
import { politeSmtp, rawServer, type LineConnection, type RawServer } from '../engine/rawServer';
import { startLspClient, type LspClient } from '../support/lspClient';
import { runHarness } from './runHarness';
import { parseCaptureRules, ruleNotes, startCaptureServer } from '../../client/src/localServer';

let lsp: LspClient;
let dir: string;

before(async () => {
  lsp = await startLspClient();
  dir = await mkdtemp(join(tmpdir(), 'smtpwb-runctl-'));
});

after(async () => {
  await lsp.stop();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  closeAll();
  recorded.inputs.length = 0;
  recorded.inputAnswers.length = 0;
  recorded.infoAnswers.length = 0;
  recorded.messages.length = 0;
});

async function script(name: string, text: string): Promise<vscode.Uri> {
  const path = join(dir, name);
  await writeFile(path, text);
  return Uri.file(path) as unknown as vscode.Uri;
}

/** Counts connections, and answers each one like a polite server. */
async function countingServer(): Promise<RawServer & { connections: () => number }> {
  let connections = 0;
  const server = await rawServer((c) => {
    connections++;
    return politeSmtp(c);
  });
  return Object.assign(server, { connections: () => connections });
}

test('a run asks every secret and prompt up front, once each, and nothing for a session that fails anyway', async () => {
  const server = await countingServer();
  const h = runHarness(lsp);
  try {
    const uri = await script(
      'upfront.smtp',
      [
        `@server = smtp://127.0.0.1:${server.port}`,
        '',
        '### First',
        'CONNECT {{server}}',
        'EHLO {{$prompt heloName}}',
        'MAIL FROM:<user+{{$secret api-token}}@example.test>',
        'EXPECT 250',
        'QUIT',
        '',
        '### Second',
        'CONNECT {{server}}',
        'EHLO {{$prompt heloName}}',
        'MAIL FROM:<user+{{$secret api-token}}@example.test>',
        'QUIT',
        '',
        '### Fails anyway',
        'CONNECT {{server}}',
        'EHLO {{$env SMTPWB_TEST_UNSET}}',
        'MAIL FROM:<{{$prompt never-asked}}>',
        'QUIT',
        '',
      ].join('\n'),
    );
    // Each input is answered only if no session has connected yet.
    const connectionsWhenAsked: number[] = [];
    const original = window.showInputBox;
    window.showInputBox = async (options) => {
      connectionsWhenAsked.push(server.connections());
      return original(options);
    };
    recorded.inputAnswers.push('client.example.test', 'tok-Secret-42');
    recorded.infoAnswers.push('Only for this window');
    const record = await h.runs.run(uri, [0, 1, 2]);
    window.showInputBox = original;
    assert.ok(record);
    assert.deepEqual(
      recorded.inputs.map((i) => i.title),
      ['SMTP: value for {{$prompt heloName}}', 'SMTP secret "api-token"'],
      'one question per name, in script order; nothing for the session that fails anyway',
    );
    assert.deepEqual(connectionsWhenAsked, [0, 0], 'asked before anything connected');
    assert.ok(recorded.inputs.every((i) => i.ignoreFocusOut === true), 'inputs stay open until answered');
    assert.equal(recorded.inputs[1].password, true);
    const notifications = recorded.messages.filter((m) => !m.modal && m.kind !== 'error');
    assert.deepEqual(notifications, [], 'no question went to a notification');
    assert.ok(recorded.messages.some((m) => m.modal && /Store the secret "api-token"/.test(m.text)), 'the store question is modal');
    assert.equal(server.connections(), 2, 'the failing session never connected');
    assert.deepEqual(record.sessions.map((s) => [s.title, s.ok]), [['First', true], ['Second', true]]);
    assert.match(record.error ?? '', /SMTPWB_TEST_UNSET is not set/);
    assert.equal(record.status, 'failed');
    const wire = server.received().toString('latin1');
    assert.match(wire, /EHLO client\.example\.test\r\n/);
    assert.match(wire, /MAIL FROM:<user\+tok-Secret-42@example\.test>/);
    assert.equal(h.stored.length, 1);
    assert.doesNotMatch(JSON.stringify(h.stored[0].record), /tok-Secret-42/, 'the secret is masked in the stored record');
    assert.doesNotMatch(h.log.text(), /tok-Secret-42/, 'and in the log');
    // The secret was kept for this window only: a second run asks only the prompt again.
    recorded.inputAnswers.push('client.example.test');
    const again = await h.runs.run(uri, [0]);
    assert.equal(recorded.inputs.length, 3, 'only the prompt is asked again');
    assert.equal(again?.status, 'passed');
  } finally {
    await server.close();
  }
});

test('a dismissed secret fails the session at once, saying what to set, and nothing connects', async () => {
  const server = await countingServer();
  const h = runHarness(lsp);
  try {
    const uri = await script(
      'dismissed.smtp',
      ['### Needs a secret', `CONNECT smtp://127.0.0.1:${server.port}`, 'EHLO client.example.test', 'MAIL FROM:<{{$secret missing-one}}@example.test>', 'QUIT', ''].join('\n'),
    );
    recorded.inputAnswers.push(undefined);
    const record = await h.runs.run(uri, [0]);
    assert.equal(record?.status, 'error');
    assert.match(record?.error ?? '', /the secret "missing-one" is not set .*"SMTP: Set Secret"/);
    assert.equal(recorded.inputs.length, 1);
    assert.equal(server.connections(), 0);
  } finally {
    await server.close();
  }
});

test('a file the session reads that cannot be read stops it before it connects, with the line and the reason', async () => {
  const server = await countingServer();
  const h = runHarness(lsp);
  try {
    const uri = await script(
      'named-file.smtp',
      ['### Reads a file', `CONNECT smtp://127.0.0.1:${server.port}`, 'EHLO client.example.test', 'MAIL FROM:<a@example.test>', 'RCPT TO:<b@example.test>', 'DATA < not-there.eml', 'QUIT', ''].join('\n'),
    );
    const record = await h.runs.run(uri, [0]);
    assert.equal(record?.status, 'error');
    assert.match(record?.error ?? '', /was not run: line 6: cannot read not-there\.eml: ENOENT/);
    assert.equal(server.connections(), 0);
  } finally {
    await server.close();
  }
});

test('the panel sees each event as it happens, and Cancel ends the session with QUIT', async () => {
  let sawQuit = false;
  const server = await rawServer(async (c: LineConnection) => {
    c.send('220 slow.example.test ESMTP\r\n');
    for (;;) {
      const line = await c.nextLine();
      const verb = line.split(' ')[0].toUpperCase();
      if (verb === 'EHLO') c.send('250-slow.example.test\r\n250 PIPELINING\r\n');
      else if (verb === 'MAIL') continue; // A greylisting server that takes its time: no reply until QUIT.
      else if (verb === 'QUIT') {
        sawQuit = true;
        c.send('451 4.7.1 try later\r\n221 2.0.0 bye\r\n');
        c.socket.end();
        return;
      } else c.send('250 ok\r\n');
    }
  });
  const h = runHarness(lsp);
  try {
    const uri = await script(
      'slow.smtp',
      ['### Slow server', `CONNECT smtp://127.0.0.1:${server.port}`, 'EHLO client.example.test', 'MAIL FROM:<a@example.test>', 'RCPT TO:<b@example.test>', 'QUIT', ''].join('\n'),
    );
    const running = h.runs.run(uri, [0]);
    // Wait until the panel has been shown MAIL FROM while the session is still running.
    const deadline = Date.now() + 20_000;
    let live: RunRecord | undefined;
    while (Date.now() < deadline) {
      live = h.updates.find((u) => u.status === 'running' && u.current?.events.some((e) => e.dir === 'client' && e.text.startsWith('MAIL FROM')));
      if (live) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(live?.current, 'a running state with the events so far reached the panel');
    assert.equal(live.current.title, 'Slow server');
    assert.equal(live.sessions.length, 0, 'before the session finished');
    assert.ok(live.current.events.some((e) => e.dir === 'server' && e.text.startsWith('220 slow.example.test')));
    assert.equal(h.runs.cancel(live.id), true);
    const record = await running;
    assert.equal(record?.status, 'cancelled');
    assert.ok(sawQuit, 'the engine said QUIT before closing');
    assert.equal((h.stored[0].record as RunRecord).current, undefined, 'the live part is never stored');
    assert.equal(h.runs.cancel(live.id), false, 'a finished run cannot be cancelled');
  } finally {
    await server.close();
  }
});

test('a run from the CodeLens shows in the Test Explorer, and test output is escaped with CRLF', async () => {
  // A hostile server: colour and title sequences in its replies, a bidi override, LF-only lines.
  const server = await rawServer(async (c: LineConnection) => {
    c.send('220 evil \x1b[31mred\x1b]0;pwned\x07 ESMTP\r\n');
    for (;;) {
      const line = await c.nextLine();
      const verb = line.split(' ')[0].toUpperCase();
      if (verb === 'EHLO') c.send('250-evil\u202Egnp.exe\r\n250 8BITMIME\r\n');
      else if (verb === 'DATA') {
        c.send('354 go\r\n');
        while ((await c.nextLine()) !== '.') {
          // The body is read and dropped.
        }
        c.send('250 2.0.0 \x1b[2Jqueued\r\n');
      } else if (verb === 'QUIT') {
        c.send('221 bye\r\n');
        c.socket.end();
        return;
      } else c.send('250 ok\r\n');
    }
  });
  const h = runHarness(lsp);
  workspace.files = [];
  const tests = registerSessionTests(h.context as unknown as vscode.ExtensionContext, h.runs);
  const controller = tests.controller as unknown as FakeTestController;
  try {
    const uri = await script(
      'lens.smtp',
      [
        '### Hostile replies',
        `CONNECT smtp://127.0.0.1:${server.port}`,
        'EHLO client.example.test',
        'MAIL FROM:<a@example.test>',
        'RCPT TO:<b@example.test>',
        'DATA',
        'Subject: three lines',
        '',
        'one',
        'two',
        'three',
        '.',
        'QUIT',
        '',
      ].join('\n'),
    );
    // What the CodeLens does: `smtp.runSession` with the script and the session's index.
    const record = await h.runs.run(uri, [0]);
    assert.equal(record?.status, 'passed');
    assert.equal(controller.runs.length, 1, 'the CodeLens run became a test run');
    const run = controller.runs[0];
    assert.ok(run.ended);
    const id = `${uri.toString()}#0`;
    assert.deepEqual(run.states.filter((s) => s.id === id).map((s) => s.state), ['enqueued', 'started', 'passed']);
    assert.ok(controller.items.get(uri.toString())?.children.get(id), 'the item is the one the Test Explorer lists');
    const output = run.output;
    assert.ok(output.length > 0);
    assert.doesNotMatch(output, /\x1b|\x07|\u202E/, 'no control character reaches the terminal raw');
    assert.match(output, /\\x1B\[31mred/i, 'the colour sequence is shown as text');
    assert.doesNotMatch(output, /(^|[^\r])\n/, 'every line ends in CRLF: no staircase');
    for (const line of ['one', 'two', 'three']) assert.match(output, new RegExp(`${line}\\r\\n`));
    assert.match(output, /PASS Hostile replies \(\d+ steps?, [^)]*\)\r\n/, 'the verdict line, as `smtpwb run` prints it');
    // The same formatter writes the log channel.
    assert.doesNotMatch(h.log.text(), /\x1b|\x07/);
    assert.match(h.log.text(), /\\x1B\[31mred/i);

    // A run the Test Explorer starts is reported once, not twice.
    const profile = controller.profiles[0];
    const item = controller.items.get(uri.toString())!.children.get(id)!;
    await profile.runHandler({ include: [item] }, { isCancellationRequested: false, onCancellationRequested: () => ({ dispose: () => undefined }) });
    assert.equal(controller.runs.length, 2);
    assert.equal(controller.runs[1].final()[id], 'passed');
  } finally {
    await server.close();
  }
});

test('test output: one event as CRLF lines, escaped as the CLI prints it', () => {
  const out = formatEventForTestOutput({ t: 12.5, dir: 'server', text: '250-a\x1b[31m\n250 b', bytes: 20 });
  assert.doesNotMatch(out, /\x1b/);
  assert.doesNotMatch(out, /(^|[^\r])\n/);
  assert.equal(out.split('\r\n').length, 3);
});

test('a session without CONNECT goes to the Local Inbox\'s server, and the panel shows which behaviour rule answered', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'smtpwb-run-rules-'));
  const parsed = parseCaptureRules(JSON.stringify({ version: 1, rules: [{ name: 'greylist them', when: { command: 'RCPT' }, reply: '451 4.7.1 Greylisted' }] }));
  assert.deepEqual(parsed.problems, []);
  const server = await startCaptureServer({ dir, port: 0, tls: false, rules: parsed.rules });
  const notes = ruleNotes(server);
  const h = runHarness(lsp, undefined, async () => ({ host: server.host, port: server.port, notes: notes.notes }));
  try {
    const uri = await script('local-rules.smtp', ['### Greylisted', 'EHLO client.example.test', 'MAIL FROM:<a@example.test>', 'RCPT TO:<b@example.test>', 'EXPECT 451', 'QUIT', ''].join('\n'));
    const record = await h.runs.run(uri, [0]);
    assert.equal(record?.status, 'passed', JSON.stringify(record?.sessions));
    const live = h.updates.filter((u) => u.current !== undefined).pop();
    const events = live?.current?.events ?? [];
    const reply = events.findIndex((e) => e.dir === 'server' && e.text.startsWith('451 4.7.1'));
    assert.equal(events[reply + 1]?.text, 'capture server: rule "greylist them" (reply) at RCPT: 451 4.7.1 Greylisted', JSON.stringify(events));
    assert.ok(h.log.lines.some((l) => l.text.includes('capture server: rule "greylist them"')), 'the log channel has it too');
  } finally {
    notes.dispose();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
