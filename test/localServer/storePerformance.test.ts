// The parts of the capture server's speed that can be checked without a clock (issue 16): a `wait`
// is woken by the store's event, not by polling the folder; messages are acknowledged once
// journaled and become visible whole, in the order they came; a journal a crashed server left
// behind is replayed on the next start. The rates themselves are measured by
// bench/capture-throughput.main.ts, never asserted here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startCaptureApi } from '../../client/src/localServer/captureApi';
import type { CaptureServer } from '../../client/src/localServer';
import { MessageStore, parseJournal } from '../../client/src/localServer/messageStore';
import { makeTempDir, removeTempDir } from '../peers/process';
import { startKnot } from '../peers/knot';
import { createResolver } from '../../client/src/mailAuth';
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

/** A sidecar and its message written straight into `dir`, as a server that stored them earlier leaves them. */
function writeStored(dir: string, i: number, subject: string): { id: string; base: string } {
  const at = new Date(Date.UTC(2026, 10, 23, 10, 0, 0) + i * 1000);
  const id = `f${i.toString(16).padStart(11, '0')}`;
  const base = `${at.toISOString().replace(/[-:.]/g, '')}-${id}`;
  const content = `Subject: ${subject}\r\n\r\nbody\r\n`;
  const envelope = { mailFrom: 'a@example.test', rcptTo: ['b@example.test'], mailParameters: {}, rcptParameters: [{}], remoteAddress: '127.0.0.1', remotePort: 1, helo: 'c', tls: null, auth: null, bodyType: '7bit', smtpUtf8: false, transmissionType: 'ESMTP', receivedAt: at.toISOString(), size: content.length };
  writeFileSync(join(dir, `${base}.envelope.json`), JSON.stringify({ version: 1, id, file: `${base}.eml`, envelope, headers: { subject } }));
  writeFileSync(join(dir, `${base}.eml`), content);
  return { id, base };
}

/** The server as the API sees it, with calls to it reported to `on` first (for counting them). */
function observed(
  server: CaptureServer,
  on: { list?(options?: { write?: boolean }): void; get?(id: string, options?: { write?: boolean }): void; onMessage?(): void },
): CaptureServer {
  return {
    ...server,
    get rules() {
      return server.rules;
    },
    list: (options) => {
      on.list?.(options);
      return server.list(options);
    },
    get: (id, options) => {
      on.get?.(id, options);
      return server.get(id, options);
    },
    onMessage: (listener) => {
      on.onMessage?.();
      return server.onMessage(listener);
    },
  };
}

const STORED = 3000;

test('the store lists from its index: each sidecar is read once, and only files it does not know are read again', async () => {
  const dir = makeTempDir('index');
  try {
    for (let i = 0; i < STORED; i++) writeStored(dir, i, `stored ${i}`);
    // As the Local Inbox makes it: no init, no server.
    const store = new MessageStore(dir);
    const first = await store.list();
    assert.equal(first.length, STORED);
    assert.equal(first[0].subject, `stored ${STORED - 1}`, 'newest first');
    assert.equal(store.sidecarReads, STORED, 'the first listing reads each sidecar once');
    for (let i = 0; i < 20; i++) await Promise.all([store.list(), store.list({ write: false })]);
    assert.equal(store.sidecarReads, STORED, 'later listings read no sidecar');
    // Another process adds a message, and a user removes one and the sidecar of another.
    const added = writeStored(dir, STORED, 'added by hand');
    const removed = first[10];
    rmSync(removed.path);
    rmSync(removed.envelopePath);
    rmSync(first[20].envelopePath);
    const second = await store.list();
    assert.equal(second.length, STORED);
    assert.equal(second[0].id, added.id);
    assert.equal(second.some((m) => m.id === removed.id), false, 'a message removed by hand is gone from the listing');
    const bare = second.find((m) => m.id === first[20].id);
    assert.equal(bare?.envelope, undefined, 'a message whose sidecar was removed is shown from its own header fields');
    assert.equal(bare?.subject, first[20].subject);
    assert.equal(store.sidecarReads, STORED + 2, 'only the new message and the one whose sidecar went are read');
    assert.equal(await store.get(removed.id), undefined);
    assert.equal(await store.delete(second[5].id), true);
    assert.equal((await store.list()).length, STORED - 1);
    assert.equal(store.sidecarReads, STORED + 2);
  } finally {
    removeTempDir(dir);
  }
});

test('many parallel waits on a store of thousands of messages list it once, and the SMTP side goes on meanwhile', async () => {
  const dir = makeTempDir('index-wait');
  try {
    const written = Array.from({ length: STORED }, (_, i) => writeStored(dir, i, `stored ${i}`));
    await withCaptureServer({ tls: false, dir }, async (server) => {
      let lists = 0;
      let subscribers = 0;
      let baseline = Infinity;
      let registered: () => void = () => undefined;
      const waitsRegistered = new Promise<void>((done) => (registered = done));
      const WAITS = 50;
      // The API sees the server through this wrapper, which counts its listings and subscriptions.
      const counting = observed(server, {
        list: () => lists++,
        // Each wait subscribes once it is registered (the API may subscribe once for itself as it starts).
        onMessage: () => {
          if (++subscribers - baseline === WAITS) registered();
        },
      });
      const api = await startCaptureApi(counting, { port: 0 });
      baseline = subscribers;
      try {
        const waits = Array.from({ length: WAITS }, () => fetch(`${api.url}/api/v1/wait?subject=nomatch&timeout=600000`));
        await waitsRegistered;
        // An SMTP client is greeted and served while they wait.
        const other = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), ...transaction('other@example.test', 'something else'), cmd('QUIT')] }));
        assert.equal(other.ok, true, why(other));
        const match = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), ...transaction('w@example.test', 'nomatch at last'), cmd('QUIT')] }));
        assert.equal(match.ok, true, why(match));
        const answers = await Promise.all(waits);
        for (const answer of answers) {
          assert.equal(answer.status, 200);
          assert.equal(((await answer.json()) as { subject: string }).subject, 'nomatch at last');
        }
        assert.equal(lists, 1, `${WAITS} waits listed the store once between them`);
        // A stored match: the oldest that is there, still without a listing.
        const oldest = await fetch(`${api.url}/api/v1/wait?subject=stored&timeout=0`);
        assert.equal(((await oldest.json()) as { id: string }).id, written[0].id);
        assert.equal(lists, 1);
        // One removed behind the server's back is not answered; one deleted through it makes the next wait list again.
        rmSync(join(dir, `${written[0].base}.eml`));
        rmSync(join(dir, `${written[0].base}.envelope.json`));
        const next = await fetch(`${api.url}/api/v1/wait?subject=stored&timeout=0`);
        assert.equal(((await next.json()) as { id: string }).id, written[1].id);
        assert.equal(await server.delete(written[1].id), true);
        const after = await fetch(`${api.url}/api/v1/wait?subject=stored&timeout=0`);
        assert.equal(((await after.json()) as { id: string }).id, written[2].id);
        assert.equal(lists, 2);
      } finally {
        await api.stop();
      }
    });
  } finally {
    removeTempDir(dir);
  }
});

test('a clear after a listing that saw only journaled messages leaves nothing listed', async () => {
  const dir = makeTempDir('index-clear');
  const store = new MessageStore(dir, { quietMs: 3_600_000, maxWaitMs: 3_600_000 });
  try {
    await store.init();
    for (const subject of ['one', 'two']) {
      const incoming = store.begin();
      await incoming.receive(Readable.from([Buffer.from(`Subject: ${subject}\r\n\r\nbody\r\n`, 'latin1')]));
      await incoming.commit({ mailFrom: 'a@example.test', rcptTo: ['b@example.test'], mailParameters: {}, rcptParameters: [{}], remoteAddress: '127.0.0.1', remotePort: 1, helo: 'c.example.test', tls: null, auth: null, bodyType: '7bit', smtpUtf8: false, transmissionType: 'ESMTP' });
    }
    // The index is empty (nothing written out yet): the listing comes from the journal alone.
    assert.equal((await store.list({ write: false })).length, 2);
    assert.equal(await store.clear(), 2);
    assert.deepEqual(await store.list({ write: false }), []);
    assert.deepEqual(await store.list(), []);
  } finally {
    await store.close();
    removeTempDir(dir);
  }
});

test('waits keep their index across verifications, and a wait asks for its match without writing files', async () => {
  const dir = makeTempDir('index-verify');
  let knot: Awaited<ReturnType<typeof startKnot>> | undefined;
  try {
    // A real DNS server that knows the sender's domain: each verification finishes, with results.
    knot = await startKnot({ zones: { 'example.test': ['@ TXT "v=spf1 -all"', '_dmarc TXT "v=DMARC1; p=none"'].join('\n') } });
    const resolver = createResolver({ server: knot.address, timeoutMs: 2000, tries: 2 });
    await withCaptureServer({ tls: false, dir, verify: { resolver } }, async (server) => {
      let lists = 0;
      const gets: Array<boolean | undefined> = [];
      const counting = observed(server, { list: () => lists++, get: (_id, options) => gets.push(options?.write) });
      const api = await startCaptureApi(counting, { port: 0 });
      try {
        const first = await fetch(`${api.url}/api/v1/wait?subject=nothing&timeout=0`);
        assert.equal(first.status, 408);
        assert.equal(lists, 1);
        const verified = new Promise<void>((done) => {
          const subscription = server.onAuthenticated(() => {
            subscription.dispose();
            done();
          });
        });
        const sent = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), ...transaction('v@example.test', 'verified one'), cmd('QUIT')] }));
        assert.equal(sent.ok, true, why(sent));
        await verified;
        const answer = await fetch(`${api.url}/api/v1/wait?subject=verified&timeout=0`);
        assert.equal(answer.status, 200);
        const body = (await answer.json()) as { id: string; authentication?: unknown };
        assert.ok(body.authentication !== undefined, 'the wait answers with the verification result');
        assert.equal(lists, 1, 'a verification does not make the next wait list the store again');
        // A wait asks the store whether its match is still there without writing the match's files.
        assert.ok(gets.length > 0 && gets.every((write) => write === false), JSON.stringify(gets));
      } finally {
        await api.stop();
      }
    });
  } finally {
    await knot?.stop();
    removeTempDir(dir);
  }
});
