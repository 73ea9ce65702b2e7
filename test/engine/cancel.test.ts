// Polite cancellation (issue 10 §4 and §6): aborting `RunOptions.signal` ends the session with
// QUIT when the protocol state allows it, and closes at once where a QUIT would be misread (before
// the greeting, awaiting 354, inside an AUTH exchange, during STARTTLS, after RAW). The servers
// abort the run themselves when they reach the point under test, so no verdict depends on timing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runSession, type SessionResult } from '../../client/src/engine';
import type { PlanStep } from '../../common/sessionPlan';
import { auth, cmd, data, explain, makePlan, PATIENT, raw, starttls, type PlanSpec } from './plan';
import { rawServer, type LineConnection, type RawServer } from './rawServer';


const servers: RawServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});


/**
 * Serves a session that answers normally until `stallAt(line)` is true: that command gets no
 * answer and the run is aborted. A QUIT received afterwards is answered with `afterQuit`.
 */
async function cancelledRun(
  stallAt: (line: string) => boolean,
  steps: PlanStep[],
  spec: Partial<PlanSpec> = {},
  afterQuit = '221 2.0.0 bye\r\n',
  greet = true,
): Promise<{ r: SessionResult; lines: string[]; closedByClient: boolean }> {
  const controller = new AbortController();
  const lines: string[] = [];
  let closedByClient = false;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const server = await rawServer(async (c: LineConnection) => {
    c.socket.on('end', () => (closedByClient = true));
    c.socket.on('close', () => done());
    if (!greet) {
      controller.abort();
      return;
    }
    c.send('220 cancel.example.test ESMTP\r\n');
    let stalled = false;
    let inData = false;
    for (;;) {
      const line = await c.nextLine();
      lines.push(line);
      if (stalled) {
        if (line === 'QUIT') {
          c.send(afterQuit);
          c.socket.end();
        }
        continue;
      }
      if (stallAt(line)) {
        stalled = true;
        controller.abort();
        continue;
      }
      if (inData) {
        if (line === '.') {
          inData = false;
          c.send('250 2.0.0 queued\r\n');
        }
        continue;
      }
      const verb = line.split(' ')[0].toUpperCase();
      if (verb === 'EHLO') c.send('250-cancel.example.test\r\n250-STARTTLS\r\n250 AUTH LOGIN\r\n');
      else if (verb === 'DATA') {
        inData = true;
        c.send('354 go ahead\r\n');
      } else if (verb === 'AUTH') c.send('334 VXNlcm5hbWU6\r\n');
      else if (verb === 'QUIT') {
        c.send('221 bye\r\n');
        c.socket.end();
      } else c.send('250 ok\r\n');
    }
  });
  servers.push(server);
  const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${server.port}`, steps, ...spec }), { timeouts: PATIENT, signal: controller.signal });
  await finished;
  return { r, lines, closedByClient };
}

const envelope = (): PlanStep[] => [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>')];

test('cancel: while a RCPT waits (greylisting, tarpit), QUIT is sent, the owed reply skipped, 221 read, and the result is cancelled', async () => {
  const { r, lines } = await cancelledRun((l) => l.startsWith('RCPT'), [...envelope(), data(['Subject: x', '', 'body']), cmd('QUIT')], {}, '451 4.7.1 greylisted, try later\r\n221 2.0.0 bye\r\n');
  assert.equal(r.ok, false);
  assert.equal(r.failure?.kind, 'cancelled', explain(r));
  assert.deepEqual(lines.slice(-2), ['RCPT TO:<b@example.test>', 'QUIT'], 'QUIT follows the cancelled command');
  assert.ok(r.transcript.some((e) => e.dir === 'server' && e.text.startsWith('221')), `the 221 was read: ${explain(r)}`);
  assert.ok(r.transcript.some((e) => e.dir === 'error' && e.text === 'cancelled'), explain(r));
  assert.ok(!lines.includes('DATA'), 'nothing after the cancelled step');
});

test('cancel: while the server holds the reply to the end of data, QUIT is sent after the complete message', async () => {
  const { r, lines } = await cancelledRun((l) => l === '.', [...envelope(), data(['Subject: x', '', 'body']), cmd('QUIT')], {}, '250 2.0.0 queued\r\n221 2.0.0 bye\r\n');
  assert.equal(r.failure?.kind, 'cancelled', explain(r));
  assert.deepEqual(lines.slice(-2), ['.', 'QUIT']);
});

test('cancel: while DATA waits for its 354, the connection is closed without QUIT (it could become message text)', async () => {
  const { r, lines, closedByClient } = await cancelledRun((l) => l === 'DATA', [...envelope(), data(['Subject: x', '', 'body']), cmd('QUIT')]);
  assert.equal(r.failure?.kind, 'cancelled', explain(r));
  assert.equal(lines[lines.length - 1], 'DATA');
  assert.ok(closedByClient, 'the client closed the connection');
  assert.ok(!lines.includes('QUIT'), explain(r));
});

test('cancel: inside an AUTH LOGIN exchange, the connection is closed without QUIT', async () => {
  // The server answers AUTH LOGIN with 334, then holds its reply to the user name.
  let authSeen = false;
  const { r, lines } = await cancelledRun(
    (l) => {
      if (authSeen) return true;
      authSeen = l.startsWith('AUTH');
      return false;
    },
    [cmd('EHLO c.example.test'), auth('LOGIN', 'user', 'secret-pw'), cmd('QUIT')],
    { options: { allowCleartextAuth: true } },
  );
  assert.equal(r.failure?.kind, 'cancelled', explain(r));
  assert.ok(!lines.includes('QUIT'), explain(r));
});

test('cancel: while STARTTLS waits for its reply, the connection is closed without a cleartext QUIT', async () => {
  const { r, lines, closedByClient } = await cancelledRun((l) => l === 'STARTTLS', [cmd('EHLO c.example.test'), starttls(), cmd('EHLO c.example.test'), cmd('QUIT')], { tls: { verify: false } });
  assert.equal(r.failure?.kind, 'cancelled', explain(r));
  assert.equal(lines[lines.length - 1], 'STARTTLS');
  assert.ok(closedByClient, 'the client closed the connection');
});

test('cancel: in the middle of a message sent with RAW, the connection is closed without QUIT', async () => {
  const { r, lines } = await cancelledRun(
    (l) => l === 'half a line of the message',
    [...envelope(), { kind: 'command', line: 500_000, source: 'DATA', verb: 'DATA', template: 'DATA', expect: { line: 500_000, source: '', codes: [{ kind: 'class', class: 3 }], enhanced: [], implicit: true } }, raw('half a line of the message\\r\\n'), raw('.\\r\\n', '250')],
  );
  assert.equal(r.failure?.kind, 'cancelled', explain(r));
  assert.ok(!lines.includes('QUIT'), explain(r));
});

test('cancel: before the greeting, the connection is closed without QUIT', async () => {
  const { r, lines, closedByClient } = await cancelledRun(() => false, [cmd('EHLO c.example.test'), cmd('QUIT')], {}, '', false);
  assert.equal(r.failure?.kind, 'cancelled', explain(r));
  assert.deepEqual(lines, []);
  assert.ok(closedByClient, 'the client closed the connection');
});

test('cancel: a signal aborted before the run opens no connection', async () => {
  let connections = 0;
  const server = await rawServer(() => {
    connections++;
  });
  servers.push(server);
  const controller = new AbortController();
  controller.abort();
  const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${server.port}`, steps: [cmd('EHLO c.example.test')] }), { signal: controller.signal });
  assert.equal(r.failure?.kind, 'cancelled');
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(connections, 0);
});
