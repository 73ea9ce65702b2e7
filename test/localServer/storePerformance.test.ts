// The parts of the capture server's speed that can be checked without a clock (issue 16): a `wait`
// is woken by the store's event, not by polling the folder; messages are acknowledged once
// journaled and become visible whole, in the order they came; a journal a crashed server left
// behind is replayed on the next start. The rates themselves are measured by
// bench/capture-throughput.main.ts, never asserted here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
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

test('a crash before the files are written: the next start writes the journaled messages, with their verification results, and deleted ones stay deleted', async () => {
  const dir = makeTempDir('journal-live');
  const crashed = makeTempDir('journal-crashed');
  // Files wait for an hour of quiet here, so the journal holds everything when the "crash" comes.
  const store = new MessageStore(dir, { quietMs: 3_600_000, maxWaitMs: 3_600_000 });
  try {
    await store.init();
    const envelope = { mailFrom: 'a@example.test', rcptTo: ['b@example.test'], mailParameters: {}, rcptParameters: [{}], remoteAddress: '127.0.0.1', remotePort: 1, helo: 'c.example.test', tls: null, auth: null, bodyType: '7bit' as const, smtpUtf8: false, transmissionType: 'ESMTP' };
    const put = async (subject: string) => {
      const incoming = store.begin();
      await incoming.receive(Readable.from([Buffer.from(`Subject: ${subject}\r\n`), Buffer.from('\r\nbody\r\n')]));
      return incoming.commit(envelope);
    };
    const kept = await put('kept');
    const deleted = await put('deleted');
    const verified = await put('verified');
    assert.equal(await store.delete(deleted.id), true);
    const none = { result: 'none', info: 'no signature' };
    assert.equal(await store.annotate(verified.id, { verifiedAt: '2026-11-23T10:00:00.000Z', dkim: [], spf: none, dmarc: none, arc: none, authenticationResults: 'localhost; dkim=none', failed: false }), true);
    // Seen at once through the store, though no file is written yet.
    // Sorted by subject: messages of one millisecond have no order of their own.
    assert.deepEqual((await store.list({ write: false })).map((m) => m.subject).sort(), ['kept', 'verified']);
    assert.equal((await store.read(kept.id)).toString('latin1'), 'Subject: kept\r\n\r\nbody\r\n');
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.eml')), []);
    // The crash: the journal as the process leaves it, under the name of a process that is gone.
    const [journal] = readdirSync(join(dir, '.smtpwb-journal'));
    mkdirSync(join(crashed, '.smtpwb-journal'));
    writeFileSync(join(crashed, '.smtpwb-journal', 'journal-4194305-c0ffee.log'), readFileSync(join(dir, '.smtpwb-journal', journal)));
    const restarted = new MessageStore(crashed);
    await restarted.init();
    const listed = (await restarted.list()).sort((a, b) => (a.subject ?? '').localeCompare(b.subject ?? ''));
    assert.deepEqual(listed.map((m) => m.subject), ['kept', 'verified']);
    assert.deepEqual(listed.map((m) => m.id), [kept.id, verified.id]);
    assert.equal(listed[1].authentication?.authenticationResults, 'localhost; dkim=none');
    assert.equal(listed[0].authentication, undefined);
    assert.equal(readFileSync(listed[0].path, 'latin1'), 'Subject: kept\r\n\r\nbody\r\n');
    assert.deepEqual(readdirSync(join(crashed, '.smtpwb-journal')), [], 'the replayed journal is removed');
    // The live store writes its files when it closes, and removes its journal.
    await store.close();
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.eml')).length, 2);
    assert.deepEqual(readdirSync(join(dir, '.smtpwb-journal')), []);
  } finally {
    await store.close();
    removeTempDir(dir);
    removeTempDir(crashed);
  }
});
