// The parts of the capture server's speed that can be checked without a clock (issue 16): a `wait`
// is woken by the store's event, not by polling the folder; messages are acknowledged once
// journaled and become visible whole, in the order they came; a journal a crashed server left
// behind is replayed on the next start. The rates themselves are measured by
// bench/capture-throughput.main.ts, never asserted here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCaptureApi } from '../../client/src/localServer/captureApi';
import type { CaptureServer } from '../../client/src/localServer';
import { MessageStore, parseJournal } from '../../client/src/localServer/messageStore';
import { makeTempDir, removeTempDir } from '../peers/process';
import { cmd, data, makePlan, sendLocal, why, withCaptureServer } from './support';

function transaction(to: string, subject: string) {
  return [cmd(`MAIL FROM:<a@example.test>`), cmd(`RCPT TO:<${to}>`), data([`To: <${to}>`, `Subject: ${subject}`, '', 'body'])];
}

test('a wait is answered by the store event: the folder is listed once, no timer runs out', async () => {
  await withCaptureServer({ tls: false }, async (server) => {
    let lists = 0;
    let listed: () => void = () => undefined;
    const firstList = new Promise<void>((done) => (listed = done));
    // The API sees the server through this wrapper, which counts how often it looks at the folder.
    const counting: CaptureServer = {
      ...server,
      get rules() {
        return server.rules;
      },
      list: async () => {
        lists++;
        const result = await server.list();
        listed();
        return result;
      },
    };
    const api = await startCaptureApi(counting, { port: 0 });
    try {
      // Ten minutes: only the store event can answer this wait while the test runs.
      const pending = fetch(`${api.url}/api/v1/wait?to=woken@example.test&timeout=600000`);
      await firstList;
      const sent = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), ...transaction('woken@example.test', 'woken'), cmd('QUIT')] }));
      assert.equal(sent.ok, true, why(sent));
      const response = await pending;
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { subject: string }).subject, 'woken');
      assert.equal(lists, 1, 'the wait looked at the folder once, before the message came, and never polled');
    } finally {
      await api.stop();
    }
  });
});

test('messages sent back to back are all listed at once after their replies, whole and in order', async () => {
  await withCaptureServer({ tls: false }, async (server) => {
    const order: string[] = [];
    server.onMessage((m) => order.push(m.subject ?? ''));
    const steps = [cmd('EHLO c.example.test')];
    for (let i = 0; i < 30; i++) steps.push(...transaction(`r${i}@example.test`, `m${i}`));
    const sent = await sendLocal(server, makePlan({ steps: [...steps, cmd('QUIT')] }));
    assert.equal(sent.ok, true, why(sent));
    // list() waits for the acknowledged messages still being written.
    const listed = await server.list();
    assert.equal(listed.length, 30);
    for (const m of listed) {
      assert.equal(readFileSync(m.path, 'latin1'), `To: <${m.envelope?.rcptTo[0]}>\r\nSubject: ${m.subject}\r\n\r\nbody\r\n`);
      assert.ok(m.envelope, 'each listed message has its sidecar');
    }
    assert.deepEqual(order, Array.from({ length: 30 }, (_, i) => `m${i}`), 'events fire in the order the messages came');
    assert.deepEqual(readdirSync(join(server.dir, '.smtpwb-incoming')), [], 'no partial file is left');
  });
  // The journal is removed when the server stops with everything written.
});

test('a journal left by a crashed server is replayed on the next start; a torn last record is dropped', async () => {
  const dir = makeTempDir('journal');
  try {
    const base = '20261123T100000000Z-abc123';
    const sidecar = { version: 1, id: 'abc123', file: `${base}.eml`, envelope: { mailFrom: 'a@example.test', rcptTo: ['b@example.test'], mailParameters: {}, rcptParameters: [{}], remoteAddress: '127.0.0.1', remotePort: 1, helo: 'c', tls: null, auth: null, bodyType: '7bit', smtpUtf8: false, transmissionType: 'ESMTP', receivedAt: '2026-11-23T10:00:00.000Z', size: 20 }, headers: { subject: 'replayed' } };
    const sidecarText = `${JSON.stringify(sidecar)}\n`;
    const content = Buffer.from('Subject: replayed\r\n\r\n', 'latin1');
    const head = Buffer.from(JSON.stringify({ base, sidecarText }), 'utf8');
    const record = Buffer.concat([Buffer.from(`SMTPWB-J1 ${head.length} ${content.length}\n`), head, content, Buffer.from('\n')]);
    // A torn second record: the crash came in the middle of the append, before any reply.
    const torn = record.subarray(0, record.length - 7);
    assert.equal(parseJournal(Buffer.concat([record, torn])).length, 1);
    mkdirSync(join(dir, '.smtpwb-journal'), { recursive: true });
    // A journal of a live process is left alone, so the name carries a pid above Linux's pid_max.
    writeFileSync(join(dir, '.smtpwb-journal', 'journal-4194305-deadbeef.log'), Buffer.concat([record, torn]));
    const store = new MessageStore(dir);
    await store.init();
    const listed = await store.list();
    assert.equal(listed.length, 1);
    assert.equal(listed[0].subject, 'replayed');
    assert.equal(readFileSync(listed[0].path, 'latin1'), 'Subject: replayed\r\n\r\n');
    assert.deepEqual(readdirSync(join(dir, '.smtpwb-journal')), [], 'the replayed journal is removed');
  } finally {
    removeTempDir(dir);
  }
});
