/**
 * Masking happens where secret bytes can appear, after every decision: a secret that is a common
 * word (`pass`, `test`, `250`) must not turn the status `passed` into `********ed`, the host
 * `example.test` into `example.********` or the reply code `250` into `********`, in any view or
 * export, while the secret sent in AUTH (and echoed back) stays masked. The session runs for real
 * through the engine against an in-process server on loopback.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Masker, MASK, maskSecrets } from '../../common/masking';
import { runSession } from '../../client/src/engine';
import { maskEvent, maskResult } from '../../client/src/engine/mask';
import type { SessionResult } from '../../client/src/engine/types';
import { HistoryStore, type HistoryStorage } from '../../client/src/history/historyStore';
import { formatEvent, formatRecord, formatTls, formatVerdict, statusOfRecord, STATUS_TEXT } from '../../client/src/output/transcriptText';
import { maskRecord, statusOf, type RunRecord } from '../../client/src/runs/runRecord';
import { renderTranscriptBody, transcriptJson } from '../../client/src/views/transcriptHtml';
import { runCommand } from '../../client/src/cli/runCommand';
import { captureCli } from '../support/cliCapture';
import { auth, cmd, data, makePlan } from '../engine/plan';
import { rawServer } from '../engine/rawServer';

/** A Memento that keeps values as JSON, as VS Code does. */
class JsonMemento implements HistoryStorage {
  readonly values = new Map<string, string>();
  get<T>(key: string): T | undefined {
    const v = this.values.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }
  async update(key: string, value: unknown): Promise<void> {
    if (value === undefined) this.values.delete(key);
    else this.values.set(key, JSON.stringify(value));
  }
  written(): string {
    return [...this.values.values()].join('\n');
  }
}

const TITLE = 'Submit to example.test';

const dir = mkdtempSync(join(tmpdir(), 'smtpwb-masking-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A server that accepts everything and echoes what it was sent: the AUTH payload and NOOP's argument. */
async function echoServer() {
  return rawServer(async (c) => {
    c.send('220 mail.example.test ESMTP ready\r\n');
    for (;;) {
      const line = await c.nextLine();
      const verb = line.split(' ')[0].toUpperCase();
      if (verb === 'EHLO') c.send('250-mail.example.test greets you\r\n250-SIZE 102500000\r\n250 AUTH PLAIN LOGIN\r\n');
      else if (verb === 'AUTH') c.send(`235 2.7.0 Authentication passed for payload ${line.split(' ')[2] ?? ''}\r\n`);
      else if (verb === 'NOOP') c.send(`250 2.0.0 OK ${line.slice(5)}\r\n`);
      else if (verb === 'MAIL' || verb === 'RCPT') c.send('250 2.1.0 Ok\r\n');
      else if (verb === 'DATA') {
        c.send('354 go ahead\r\n');
        while ((await c.nextLine()) !== '.');
        c.send('250 2.0.0 Ok: queued, all checks passed\r\n');
      } else if (verb === 'QUIT') {
        c.send('221 2.0.0 Bye\r\n');
        c.socket.end();
        return;
      } else c.send('500 5.5.1 unknown\r\n');
    }
  });
}

async function runWithSecret(secret: string): Promise<SessionResult> {
  const server = await echoServer();
  try {
    const plan = makePlan({
      title: TITLE,
      connect: `smtp://127.0.0.1:${server.port}`,
      options: { allowCleartextAuth: true },
      steps: [
        cmd('EHLO client.example.test'),
        auth('PLAIN', 'user', secret),
        cmd(`NOOP ${secret}`, '250'),
        cmd('MAIL FROM:<alice@example.test>'),
        cmd('RCPT TO:<bob@example.test>'),
        data(['Subject: a test', '', 'Hello.']),
        cmd('QUIT'),
      ],
    });
    return await runSession(plan, { secrets: [secret], timeouts: { greeting: 10_000, command: 10_000, mail: 10_000, rcpt: 10_000, dataInit: 10_000, dataTermination: 10_000 } });
  } finally {
    await server.close();
  }
}

function recordOf(result: SessionResult): RunRecord {
  return {
    id: '0b0e4c2e-6b1d-4c55-9d55-7f1c1f1d2a10',
    startedAt: '2026-12-06T06:00:00.000Z',
    uri: 'file:///work/example.test.smtp',
    fileName: 'example.test.smtp',
    label: TITLE,
    sessionIndexes: [0],
    status: statusOf([result]),
    sessions: [result],
    durationMs: 42,
  };
}

for (const secret of ['pass', 'test', '250']) {
  test(`a secret that is a common word (${secret}) leaves every view's structured fields intact and is masked where it was sent`, async () => {
    const result = await runWithSecret(secret);
    assert.equal(result.ok, true, JSON.stringify(result.failure));
    const payload = Buffer.from(`\0user\0${secret}`).toString('base64');

    // The result: decisions and structured fields as they were made.
    assert.equal(result.title, TITLE);
    assert.ok(result.steps.every((s) => s.ok && typeof s.reply?.code === 'number' && [220, 221, 235, 250].includes(s.reply.code)));
    for (const s of result.steps) if (s.reply) assert.match(s.reply.lines.at(-1) ?? '', new RegExp(`^${s.reply.code} `), 'reply lines keep their code');
    const authStep = result.steps.find((s) => s.command.startsWith('AUTH'));
    assert.equal(authStep?.command, `AUTH PLAIN ${MASK}`);
    const noop = result.steps.find((s) => s.command.startsWith('NOOP'));
    assert.equal(noop?.command, `NOOP ${MASK}`);
    assert.equal(noop?.reply?.lines[0], `250 2.0.0 OK ${MASK}`, 'the echoed secret is masked, the code is kept');
    assert.equal(noop?.expected, 'EXPECT 250');

    // The record as the editor keeps it, masked again as before storing.
    const record = maskRecord(recordOf(result), [secret]);
    assert.equal(record.status, 'passed');
    assert.equal(statusOfRecord(record), 'passed');
    assert.equal(STATUS_TEXT[statusOfRecord(record)], 'Passed');
    assert.equal(record.label, TITLE);
    assert.equal(record.fileName, 'example.test.smtp');
    assert.equal(record.sessions[0].title, TITLE);
    assert.equal(record.sessions[0].target?.scheme, 'smtp');

    // History: the index entry and the stored record.
    const memento = new JsonMemento();
    const store = new HistoryStore(memento);
    await store.add(recordOf(result), [secret]);
    const entry = store.list()[0];
    assert.equal(entry.status, 'passed');
    assert.equal(entry.label, TITLE);
    const stored = store.get(record.id);
    assert.equal(stored?.status, 'passed');
    assert.equal(stored?.sessions[0].title, TITLE);
    assert.deepEqual(
      stored?.sessions[0].steps.map((s) => s.reply?.code),
      result.steps.map((s) => s.reply?.code),
    );

    // Every rendering: transcript HTML, text export, JSON export, the CLI's text.
    const html = renderTranscriptBody(record);
    assert.match(html, /<span class="badge passed">Passed<\/span>/);
    assert.match(html, /<dd>1 passed, 0 failed<\/dd>/);
    assert.ok(html.includes(`<h2>${TITLE}</h2>`), 'the session title is intact in the panel');
    assert.ok(html.includes('<td class="code">250 2.1.0 Ok</td>'), 'reply codes are intact in the steps table');
    const text = formatRecord(record);
    assert.match(text, /^Status: +Passed \(1 passed, 0 failed\)$/m);
    assert.ok(text.includes(`=== Session 1: ${TITLE} (line 1): PASS`));
    // What was sent is masked where the secret is a whole token in it (`example.test` holds `test`).
    assert.match(text, /✓ line \d+ +MAIL FROM:<alice@example\.(test|\*{8})> -> 250 2\.1\.0/);
    const json = transcriptJson(record);
    const parsed = JSON.parse(json) as RunRecord;
    assert.equal(parsed.status, 'passed');
    assert.equal(parsed.sessions[0].title, TITLE);
    const cli = result.transcript.map(formatEvent).join('') + formatTls(result) + formatVerdict(result);
    assert.match(cli, new RegExp(`^PASS ${TITLE.replace(/\./g, '\\.')} \\(\\d+ steps, `, 'm'));

    // The secret as sent in AUTH is nowhere, nor its echo.
    for (const [name, out] of [['result', JSON.stringify(result)], ['record', json], ['html', html], ['text', text], ['cli', cli], ['history', memento.written()]] as const) {
      assert.ok(!out.includes(payload), `the AUTH payload is in the ${name}`);
      assert.ok(!out.includes(`OK ${secret}`), `the echoed secret is in the ${name}`);
      assert.ok(!out.includes(`NOOP ${secret}`), `the sent secret is in the ${name}`);
    }
    if (secret === 'pass') {
      // A word that merely contains the secret is not the secret.
      assert.ok(JSON.stringify(result).includes('all checks passed'));
    }
  });
}

test('smtpwb run with a common-word secret: PASS, codes and host names intact in text and --json', async () => {
  const server = await echoServer();
  try {
    const script = join(dir, 'example.test.smtp');
    writeFileSync(
      script,
      `### ${TITLE}\nCONNECT smtp://127.0.0.1:${server.port}\n# @allow-cleartext-auth\nEHLO client.example.org\nAUTH PLAIN user {{$secret pw}}\nNOOP {{$secret pw}}\nEXPECT 250\nMAIL FROM:<alice@example.org>\nRCPT TO:<bob@example.org>\nQUIT\n`,
    );
    const env = { HOME: dir, SMTPWB_SECRET_PW: 'pass' };
    const text = await captureCli(runCommand, [script], { cwd: dir, env });
    assert.equal(text.code, 0, text.out + text.err);
    assert.match(text.out, new RegExp(`^PASS ${TITLE.replace(/\./g, '\\.')} \\(`, 'm'));
    assert.match(text.out, /<- {2}220 mail\.example\.test ESMTP ready/);
    assert.match(text.out, /<- {2}235 2\.7\.0 Authentication passed for payload \*{8}/);
    assert.match(text.out, /<- {2}250 2\.0\.0 OK \*{8}/);
    assert.ok(!text.out.includes(Buffer.from('\0user\0pass').toString('base64')));
    const json = await captureCli(runCommand, [script, '--json'], { cwd: dir, env });
    const parsed = JSON.parse(json.out) as { sessions: Array<{ title: string; ok: boolean; steps: Array<{ command: string; reply: { code: number; lines: string[] } | null }> }> };
    const session = parsed.sessions[0];
    assert.equal(session.title, TITLE);
    assert.equal(session.ok, true);
    assert.deepEqual(
      session.steps.filter((st) => st.command.startsWith('NOOP')).map((st) => [st.command, st.reply?.code, st.reply?.lines[0]]),
      [[`NOOP ${MASK}`, 250, `250 2.0.0 OK ${MASK}`]],
    );
  } finally {
    await server.close();
  }
});

test('the masker: long forms anywhere, short forms as whole tokens, replies keep their codes', () => {
  const m = new Masker(['pass', 'hunter22', '12']);
  assert.equal(m.mask('user pass', 'sent'), `user ${MASK}`);
  assert.equal(m.mask('passed and bypass', 'sent'), 'passed and bypass');
  assert.equal(m.mask('xhunter22y', 'sent'), `x${MASK}y`);
  assert.equal(m.mask('12 is too short to be a secret', 'sent'), '12 is too short to be a secret');
  // Base64 forms (AUTH LOGIN sends them) count as sent from the start.
  assert.equal(m.mask(`334 ${Buffer.from('pass').toString('base64')}`, 'received'), `334 ${MASK}`);
  // A short secret that was never sent as itself is not masked in a reply; once sent, it is.
  const fresh = new Masker(['250']);
  assert.equal(fresh.mask('250 2.0.0 OK 250', 'received'), '250 2.0.0 OK 250');
  assert.equal(fresh.mask('NOOP 250', 'sent'), `NOOP ${MASK}`);
  assert.equal(fresh.mask('250-first 250\n250 last 250', 'received'), `250-first ${MASK}\n250 last ${MASK}`);
  assert.equal(fresh.mask('the reply was 250', 'note'), `the reply was ${MASK}`);
  // Masking is idempotent, also for a secret made of the mask's characters.
  assert.equal(new Masker(['***']).mask(`a ${MASK} b`), `a ${MASK} b`);
  assert.equal(maskSecrets(`a ${MASK} pass`, ['pass']), `a ${MASK} ${MASK}`);
  // Regular-expression characters in a secret are literal.
  assert.equal(new Masker(['a.b*c']).mask('a.b*c axbbc'), `${MASK} axbbc`);
  assert.equal(new Masker([]).active, false);
  // A RAW line shows its bytes escaped; a non-ASCII secret is masked in that form too.
  assert.equal(new Masker(['pässwörd']).mask('[raw] AUTH x p\\xC3\\xA4ssw\\xC3\\xB6rd\\r\\n', 'sent'), `[raw] AUTH x ${MASK}\\r\\n`);
});

test('maskEvent masks by direction, for the log channel and the live transcript', () => {
  const m = new Masker(['test']);
  assert.equal(maskEvent({ t: 0, dir: 'server', text: '220 mail.example.test ready', bytes: 28 }, m).text, '220 mail.example.test ready');
  assert.equal(maskEvent({ t: 1, dir: 'client', text: 'NOOP test', bytes: 11 }, m).text, `NOOP ${MASK}`);
  assert.equal(maskEvent({ t: 2, dir: 'server', text: '250 OK test', bytes: 13 }, m).text, `250 OK ${MASK}`);
});

test('maskResult never rewrites structured fields', () => {
  const m = new Masker(['250', 'passed', 'example']);
  const r: SessionResult = {
    file: 'x.smtp',
    title: 'example passed 250',
    line: 0,
    ok: true,
    steps: [{ line: 1, command: 'EHLO example', reply: { code: 250, enhanced: '2.5.0', lines: ['250 example greets you'] }, ok: true, expected: '250', durationMs: 250 }],
    transcript: [{ t: 250, dir: 'client', text: 'EHLO example', bytes: 14 }],
    target: { scheme: 'smtp', host: 'example', port: 250, lmtp: false },
    capabilities: { keywords: { SIZE: ['250'] }, authMechanisms: ['PLAIN'] },
    timings: { totalMs: 250 },
  };
  const masked = maskResult(r, m);
  assert.equal(masked.title, r.title);
  assert.deepEqual(masked.target, r.target);
  assert.equal(masked.steps[0].expected, '250');
  assert.equal(masked.steps[0].reply?.code, 250);
  assert.equal(masked.steps[0].command, `EHLO ${MASK}`);
  assert.equal(masked.steps[0].reply?.lines[0], `250 ${MASK} greets you`);
  assert.deepEqual(Object.keys(masked.capabilities?.keywords ?? {}), ['SIZE']);
  assert.equal(r.steps[0].command, 'EHLO example', 'the input is not changed');
});
