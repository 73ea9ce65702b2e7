/**
 * What a server sends is data, never terminal control (issue 10 §2): every human-readable output
 * made by the one transcript formatter (the CLI's transcript and verdicts, the log channel's lines,
 * the Test Results output, the text export) shows C0 controls other than tab and line feed, DEL,
 * C1 controls, ESC sequences and bidi overrides as visible escapes. A hostile server runs in
 * process on loopback, and `smtpwb run` prints its replies.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeRawEscapes, escapeBytes, escapeHtml, escapeMarkdown, hasInvisible, jsonText, markdownTableCell, visibleLine, visibleText } from '../../common/escape';
import { runSession } from '../../client/src/engine';
import type { SessionResult, TranscriptEvent } from '../../client/src/engine/types';
import { runCommand } from '../../client/src/cli/runCommand';
import {
  formatEvent,
  formatEventForTestOutput,
  formatEventLines,
  formatForTestOutput,
  formatRecord,
  formatStep,
  formatTls,
  formatTranscript,
  formatVerdict,
} from '../../client/src/output/transcriptText';
import type { RunRecord } from '../../client/src/runs/runRecord';
import { markupText } from '../../client/src/views/transcriptHtml';
import { captureCli } from '../support/cliCapture';
import { cmd, makePlan } from '../engine/plan';
import { rawServer } from '../engine/rawServer';

/** Replies a hostile server sends: colour, window title (OSC … BEL), clear screen, NUL, 8-bit CSI, bidi override, bare CR. */
const HOSTILE = [
  '220 evil \u001b[31m…\u001b]0;pwned\u0007',
  '250 \u001b[2Jclear',
  '250 nul\u0000byte',
  '250 c1\u009b31mcsi',
  '250 bidi \u202eevil\u202c txt',
  '250 cr\rovertyped',
  '250 del\u007f zero\u200bwidth iso\u2066late\u2069 ls\u2028ps\u2029 bom\ufeff',
];

/**
 * Characters that must never reach a terminal raw: C0 except tab and line feed, DEL, C1, and the
 * invisible or reordering characters.
 */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;

function assertClean(text: string, what: string): void {
  const m = RAW_CONTROL.exec(text);
  assert.equal(m, null, `${what} holds U+${m?.[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} raw at ${m?.index}: ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 20), (m?.index ?? 0) + 20))}`);
}

const dir = mkdtempSync(join(tmpdir(), 'smtpwb-escape-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('visibleText and visibleLine escape every control, C1 and bidi character, and keep text', () => {
  for (const h of HOSTILE) {
    assertClean(visibleText(h), 'visibleText');
    assertClean(visibleLine(h), 'visibleLine');
    assert.ok(hasInvisible(h));
  }
  assert.equal(visibleText('220 evil \u001b[31m…\u001b]0;pwned\u0007'), '220 evil \\x1B[31m…\\x1B]0;pwned\\x07');
  assert.equal(visibleText('c1\u009b31m'), 'c1\\x9B31m');
  assert.equal(visibleText('a\u202eb'), 'a\\u202Eb');
  assert.equal(visibleText('tab\tand\nline'), 'tab\tand\nline');
  assert.equal(visibleLine('two\nlines\r'), 'two\\x0Alines\\x0D');
  assert.equal(visibleText('émoji 😀 and 日本'), 'émoji 😀 and 日本');
  assert.equal(visibleText('lone \ud800 surrogate'), 'lone \\uD800 surrogate');
  assert.equal(hasInvisible('plain'), false);
  // Idempotent: formatter output can be escaped again without change.
  for (const h of HOSTILE) assert.equal(visibleText(visibleText(h)), visibleText(h));
});

test('jsonText is exact JSON with nothing a terminal acts on: the same data reads back', () => {
  const value = { replies: HOSTILE, nested: [{ text: 'a\u202eb\u009b', n: 1 }], plain: 'émoji 😀', lone: 'x\ud800y', none: null };
  for (const indent of [undefined, 2]) {
    const text = jsonText(value, indent);
    assertClean(text, 'jsonText');
    assert.deepEqual(JSON.parse(text), value, 'the same data');
  }
  assert.equal(jsonText({ s: 'c1\u009b31m \u202e' }), '{"s":"c1\\u009b31m \\u202e"}');
  assert.equal(jsonText({ a: 1, b: ['x'] }, 2), JSON.stringify({ a: 1, b: ['x'] }, null, 2), 'clean data is unchanged');
  assert.equal(jsonText(undefined), 'null');
});

test('escapeBytes and decodeRawEscapes are inverse, and escapeBytes is plain ASCII', () => {
  const bytes = Buffer.from([0x41, 13, 10, 9, 0x5c, 0, 0x1b, 0x7f, 0x9b, 0xc3, 0xa9, 0xff]);
  const shown = escapeBytes(bytes);
  assert.equal(shown, 'A\\r\\n\\t\\\\\\x00\\x1B\\x7F\\x9B\\xC3\\xA9\\xFF');
  assert.ok(/^[\x20-\x7e]*$/.test(shown));
  assert.deepEqual([...decodeRawEscapes(shown)], [...bytes]);
  assert.deepEqual([...decodeRawEscapes('\\X41\\q\\x4')], [0x41, 0x5c, 0x71, 0x5c, 0x78, 0x34]);
});

test('escapeMarkdown and escapeHtml make peer text inert', () => {
  assert.equal(escapeMarkdown('*bold* [x](javascript:y) <b> `c` ~s~ | &amp;'), '\\*bold\\* \\[x\\](javascript:y) \\<b\\> \\`c\\` \\~s\\~ \\| \\&amp;');
  assert.equal(escapeMarkdown('- item'), '\\- item');
  assert.equal(escapeMarkdown('1. item'), '1\\. item');
  assert.equal(escapeMarkdown('dot-stuffing of example.test 5.1.1'), 'dot-stuffing of example.test 5.1.1');
  assert.equal(escapeMarkdown('# heading\nsecond'), '\\# heading second');
  assert.equal(escapeMarkdown('icon $(zap) costs $5'), 'icon \\$(zap) costs $5');
  assertClean(escapeMarkdown(HOSTILE.join(' ')), 'escapeMarkdown');
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  const marked = markupText(HOSTILE[0]);
  assert.ok(!marked.includes('\u001b') && !marked.includes('\u0007'));
  assert.match(marked, /<span class="ctl" title="U\+001B">␛<\/span>/);
});

test('markdownTableCell keeps peer data in one cell of one table row', () => {
  // A Received hop, a heading, a link and a row break: every `|` escaped, line breaks shown, nothing live.
  assert.equal(markdownTableCell('evil|spoofed.example|01:02:03'), 'evil\\|spoofed.example\\|01:02:03');
  assert.equal(markdownTableCell('a\r\n| x | y |\n# h [l](https://evil.test/)'), 'a\\\\x0D\\\\x0A\\| x \\| y \\|\\\\x0A\\# h \\[l\\](https://evil.test/)');
  assert.equal(markdownTableCell('mx.example.net'), 'mx.example.net');
  for (const h of HOSTILE) {
    const cell = markdownTableCell(h);
    assert.ok(!cell.includes('\n') && !cell.includes('\r'), 'one line');
    assert.equal((cell.match(/(?<!\\)\|/g) ?? []).length, 0, 'no unescaped |');
  }
  assertClean(markdownTableCell(HOSTILE.join(' ')), 'markdownTableCell');
});

function event(dir: TranscriptEvent['dir'], text: string, t = 1.25): TranscriptEvent {
  return { t, dir, text, bytes: text.length };
}

function hostileResult(): SessionResult {
  return {
    file: 'evil.smtp',
    title: 'title \u001b]0;pwned\u0007',
    name: 'n\u202eame',
    line: 0,
    ok: false,
    failure: { kind: 'expectation', message: `expected 250, got 550: 550 \u001b[2J${'\u0000'}`, line: 3 },
    steps: [{ line: 3, command: 'EHLO \u001b[31m', reply: { code: 550, lines: ['550 \u009bx'] }, ok: false, expected: '250', message: 'bad \u0007', durationMs: 1 }],
    transcript: HOSTILE.map((h, i) => event(i % 2 === 0 ? 'server' : 'client', h, i)),
    tls: { protocol: 'TLSv1.3', cipher: 'X', mode: 'starttls', subject: 'CN=\u001b[5m', issuer: 'CN=\u202e', verified: false, verifyError: 'E\u0000', verifyDisabled: false },
    timings: { totalMs: 12 },
  };
}

test('the one transcript formatter escapes events, steps, verdicts, TLS and whole records', () => {
  const r = hostileResult();
  for (const e of r.transcript) {
    assertClean(formatEvent(e), 'formatEvent');
    for (const line of formatEventLines(e)) {
      assertClean(line, 'formatEventLines');
      assert.ok(!line.includes('\n'));
    }
  }
  assert.equal(formatEvent(event('server', '250-a\n250 b')), '     1.3 ms <-  250-a\n            <-  250 b\n');
  assert.deepEqual(formatEventLines(event('client', 'MAIL FROM:<a@b>')), ['     1.3 ms  -> MAIL FROM:<a@b>']);
  assert.equal(formatEventLines(event('server', '250 \u001b[2Jclear'))[0], '     1.3 ms <-  250 \\x1B[2Jclear');
  assertClean(formatTranscript(r.transcript), 'formatTranscript');
  assertClean(formatStep(r.steps[0]), 'formatStep');
  assertClean(formatVerdict(r), 'formatVerdict');
  assert.match(formatVerdict(r), /^FAIL title \\x1B\]0;pwned\\x07 \[n\\u202Eame\]: expectation: expected 250, got 550: 550 \\x1B\[2J\\x00 \(line 4\)/);
  assert.equal(formatVerdict(r).split('\n').length, 2, 'a verdict is one line');
  assertClean(formatTls(r), 'formatTls');
  const record: RunRecord = {
    id: 'x',
    startedAt: '2026-12-06T06:00:00.000Z',
    uri: 'file:///evil.smtp',
    fileName: 'evil\u001b.smtp',
    label: 'label \u009b',
    sessionIndexes: [0],
    status: 'failed',
    sessions: [r],
    durationMs: 12,
    error: 'error \u0000',
    environment: 'env \u202e',
  };
  assertClean(formatRecord(record), 'formatRecord');
});

test('test output is escaped and ends every line with CRLF', () => {
  const out = formatForTestOutput('Subject: hi\nbody \u001b[31mred\r\n.\n');
  assert.equal(out, 'Subject: hi\r\nbody \\x1B[31mred\\x0D\r\n.\r\n');
  assert.ok(!/[^\r]\n/.test(out), 'no bare LF');
  const ev = formatEventForTestOutput(event('client', 'line one\nline two\u001b'));
  assert.ok(ev.endsWith('\r\n'));
  assert.ok(!/[^\r]\n/.test(ev));
  assertClean(ev.replace(/\r\n/g, '\n'), 'formatEventForTestOutput');
});

/** A server whose every reply carries terminal control. */
async function hostileServer() {
  return rawServer(async (c) => {
    c.send(`${HOSTILE[0]}\r\n`);
    let i = 1;
    for (;;) {
      const line = await c.nextLine();
      if (line.toUpperCase().startsWith('QUIT')) {
        c.send('221 \u001b[0mbye\u0007\r\n');
        c.socket.end();
        return;
      }
      c.send(`${HOSTILE[i++ % HOSTILE.length].replace(/\r/g, '\\r')}\r\n`);
    }
  });
}

test('a real session against a hostile server: the formatted transcript holds no raw control character', async () => {
  const server = await hostileServer();
  try {
    const plan = makePlan({ connect: `smtp://127.0.0.1:${server.port}`, steps: [cmd('EHLO c.example.test'), cmd('NOOP'), cmd('NOOP'), cmd('NOOP'), cmd('QUIT')] });
    const r = await runSession(plan, { timeouts: { greeting: 10_000, command: 10_000 } });
    assert.ok(r.transcript.some((e) => e.text.includes('\u001b')), 'the engine keeps what the server sent, as data');
    const text = formatTranscript(r.transcript) + formatTls(r) + formatVerdict(r);
    assertClean(text, 'the formatted transcript');
    assert.ok(text.includes('\\x1B]0;pwned\\x07'));
  } finally {
    await server.close();
  }
});

test('smtpwb run prints a hostile server\'s replies escaped', async () => {
  const server = await hostileServer();
  try {
    const script = join(dir, 'hostile.smtp');
    writeFileSync(script, `### Hostile\nCONNECT smtp://127.0.0.1:${server.port}\nEHLO c.example.test\nNOOP\nNOOP\nNOOP\nQUIT\n`);
    const r = await captureCli(runCommand, [script], { cwd: dir, env: { HOME: dir } });
    assert.ok(r.out.includes('\\x1B[31m'), r.out + r.err);
    assertClean(r.out, 'smtpwb run stdout');
    assertClean(r.err, 'smtpwb run stderr');
  } finally {
    await server.close();
  }
});

test('smtpwb run --json keeps a hostile server\'s replies exact but never raw', async () => {
  const server = await hostileServer();
  try {
    const script = join(dir, 'hostile-json.smtp');
    writeFileSync(script, `### Hostile\nCONNECT smtp://127.0.0.1:${server.port}\nEHLO c.example.test\nNOOP\nNOOP\nNOOP\nQUIT\n`);
    const r = await captureCli(runCommand, [script, '--json'], { cwd: dir, env: { HOME: dir } });
    assertClean(r.out, 'smtpwb run --json stdout');
    assertClean(r.err, 'smtpwb run --json stderr');
    // The replies are still exactly what the server sent, once the JSON is read.
    const replies = JSON.stringify(JSON.parse(r.out));
    assert.ok(replies.includes(JSON.stringify('c1\u009b31mcsi').slice(1, -1)), r.out);
    assert.ok(replies.includes(JSON.stringify('bidi \u202eevil\u202c txt').slice(1, -1)), r.out);
  } finally {
    await server.close();
  }
});
