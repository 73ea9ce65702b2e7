// A full disk under the capture server (issue 16, "bad input and safety"). The store lives on a
// tiny tmpfs mounted for this test (it runs as root, as CI does; a failed mount fails the test).
// With the disk full, a message gets the transient reply of RFC 5321 §4.2.2 "452 insufficient
// system storage" with RFC 3463's X.3.1 "mail system full", the session goes on, nothing
// half-written stays in the store (the folder, its temporary folder and the journal hold only
// complete messages, as a restart's replay shows), the log says so in one line without a stack
// trace, and a message sent once space is freed is stored. A restart on a full disk starts all the
// same (the crashed server's journal is kept, logged and replayed later, without bringing back what
// was deleted meanwhile), and a torn append that cannot be cut back retires its journal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCaptureServer, type CaptureLogEntry, type CaptureServer } from '../../client/src/localServer';
import { MessageStore, parseJournal, type StoredMessage } from '../../client/src/localServer/messageStore';
import { cmd, data, makePlan, sendLocal, why } from './support';

/** The tmpfs: 4 MiB, room for the small messages and one that spills to a temporary file (over 1 MiB). */
const SIZE = '4m';
let mountPoint = '';
let mounted = false;

before(() => {
  mountPoint = mkdtempSync(join(tmpdir(), 'smtpwb-full-disk-'));
  // Never skipped: a test machine that cannot mount fails here, loudly.
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE},mode=0700`, 'tmpfs', mountPoint], { stdio: 'pipe' });
  mounted = true;
});

after(() => {
  if (mounted) execFileSync('umount', [mountPoint], { stdio: 'pipe' });
  rmSync(mountPoint, { recursive: true, force: true });
});

/** Writes a file until the disk refuses more (ENOSPC); returns its path. */
function fillDisk(path: string): string {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * 1024, 0x78);
  try {
    for (;;) {
      try {
        writeSync(fd, block);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
    // The last partial block: fill the page the file ends in, octet by octet in larger steps.
    for (const size of [4096, 512, 1]) {
      for (;;) {
        try {
          writeSync(fd, block.subarray(0, size));
        } catch {
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** A message of about `octets` octets whose lines all differ, so the store cannot be clever with it. */
function body(subject: string, octets: number): string[] {
  const lines = [`Subject: ${subject}`, ''];
  for (let i = 0; lines.join('\r\n').length < octets; i++) lines.push(`line ${i} ${'x'.repeat(70)}`);
  return lines;
}

function transaction(subject: string, octets: number, expect?: string) {
  return [cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data(body(subject, octets), expect)];
}

/** The names in the store's folders that are not whole messages: temporary files, and journal records torn or beyond the last whole one. */
function leftovers(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(join(dir, '.smtpwb-incoming'))) found.push(`.smtpwb-incoming/${name}`);
  let journals: string[] = [];
  try {
    journals = readdirSync(join(dir, '.smtpwb-journal'));
  } catch {
    // No journal folder yet.
  }
  for (const name of journals) {
    const bytes = readFileSync(join(dir, '.smtpwb-journal', name));
    const records = parseJournal(bytes);
    // Whole records, each ending in LF, make up the file exactly; anything else is half-written.
    const wholeLength = records.reduce((n, r) => n + (r.kind === 'message' ? r.content.length : 0), 0);
    if (bytes.length > 0 && (records.length === 0 || bytes[bytes.length - 1] !== 0x0a)) found.push(`.smtpwb-journal/${name} (${bytes.length} octets, ${wholeLength} in whole records)`);
  }
  // A .eml needs its sidecar and the other way round.
  const names = readdirSync(dir).filter((n) => !n.startsWith('.'));
  for (const name of names) {
    const pair = name.endsWith('.eml') ? name.replace(/\.eml$/, '.envelope.json') : name.replace(/\.envelope\.json$/, '.eml');
    if (!names.includes(pair)) found.push(name);
  }
  return found;
}

test('a full disk: 452 4.3.1 for small and large messages, the session and the server go on, nothing half-written, stored again once space is freed', async () => {
  const dir = join(mountPoint, 'inbox');
  mkdirSync(dir);
  const log: CaptureLogEntry[] = [];
  let server: CaptureServer | undefined = await startCaptureServer({ dir, tls: false, logger: (entry) => log.push(entry) });
  const filler = join(mountPoint, 'filler');
  try {
    const first = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), ...transaction('before', 2000), cmd('QUIT')] }));
    assert.equal(first.ok, true, why(first));
    // Its files are written out now, so the journal is empty before the disk fills up.
    assert.deepEqual((await server.list()).map((m) => m.subject), ['before']);

    fillDisk(filler);
    const full = await sendLocal(
      server,
      makePlan({
        steps: [
          cmd('EHLO c.example.test'),
          // A small message (journaled in memory) and a large one (spilled to a temporary file as it comes).
          ...transaction('small on a full disk', 20_000, '452 4.3.1'),
          cmd('RSET'),
          ...transaction('large on a full disk', 1_500_000, '452 4.3.1'),
          // The session goes on.
          cmd('NOOP', '250'),
          cmd('QUIT'),
        ],
      }),
    );
    assert.equal(full.ok, true, why(full));
    const refusals = full.steps.filter((s) => s.reply?.code === 452).map((s) => s.reply?.lines.join(' ') ?? '');
    assert.equal(refusals.length, 2);
    for (const text of refusals) assert.match(text, /^452 4\.3\.1 Insufficient system storage/);
    assert.deepEqual((await server.list()).map((m) => m.subject), ['before'], 'only the whole message is listed');
    assert.deepEqual(leftovers(dir), [], 'nothing half-written in the store');

    const diskLines = log.filter((e) => /disk is full/.test(e.message));
    assert.equal(diskLines.length, 2, JSON.stringify(log));
    for (const line of diskLines) {
      assert.equal(line.level, 'error');
      assert.doesNotMatch(line.message, /\n|\s+at\s/, 'one line, no stack trace');
      assert.match(line.message, /ENOSPC/);
    }

    rmSync(filler);
    const later = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), ...transaction('after', 20_000, '250'), cmd('QUIT')] }));
    assert.equal(later.ok, true, why(later));
    assert.deepEqual((await server.list()).map((m) => m.subject).sort(), ['after', 'before']);

    // A restart replays the journal (if anything is left in it) and finds the same two messages.
    await server.stop();
    server = await startCaptureServer({ dir, tls: false });
    assert.deepEqual((await server.list()).map((m) => m.subject).sort(), ['after', 'before']);
    assert.deepEqual(leftovers(dir), []);
  } finally {
    rmSync(filler, { force: true });
    await server?.stop();
  }
});

test('a full disk while journaled messages wait to be written: they stay listed and readable, and are written once space is freed', async () => {
  const dir = join(mountPoint, 'waiting');
  mkdirSync(dir);
  const server = await startCaptureServer({ dir, tls: false });
  const filler = join(mountPoint, 'filler-waiting');
  try {
    // The disk fills up while a message is journaled but its files are not written yet: the test
    // holds the server busy with its own session so the files wait (they are written when it is quiet).
    const stored = new Promise<string>((done) => {
      const subscription = server.onMessage((m) => {
        subscription.dispose();
        fillDisk(filler);
        done(m.id);
      });
    });
    const sent = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), ...transaction('journaled', 3000, '250'), cmd('QUIT')] }));
    assert.equal(sent.ok, true, why(sent));
    const id = await stored;
    // Listing tries to write it out, fails for want of space, and still lists it from the journal.
    const whileFull = await server.list();
    assert.deepEqual(whileFull.map((m) => m.subject), ['journaled']);
    assert.equal(existsSync(whileFull[0].path), false, 'its file could not be written yet');
    assert.match((await server.read(id)).toString('latin1'), /^Subject: journaled\r\n/);
    assert.deepEqual(leftovers(dir), [], 'no half-written file while the disk is full');
    rmSync(filler);
    const listed = await server.list();
    assert.equal(listed.length, 1);
    assert.match(readFileSync(listed[0].path, 'latin1'), /^Subject: journaled\r\n/, 'written out once there is room');
    assert.deepEqual(leftovers(dir), []);
  } finally {
    rmSync(filler, { force: true });
    await server.stop();
  }
});

const storeEnvelope = { mailFrom: 'a@example.test', rcptTo: ['b@example.test'], mailParameters: {}, rcptParameters: [{}], remoteAddress: '127.0.0.1', remotePort: 1, helo: 'c.example.test', tls: null, auth: null, bodyType: '7bit' as const, smtpUtf8: false, transmissionType: 'ESMTP' };

/** Stores one message of about `octets` octets in `store` (journaled; its files wait) and returns it with its bytes. */
async function putDirect(store: MessageStore, subject: string, octets: number): Promise<{ message: StoredMessage; bytes: Buffer }> {
  const bytes = Buffer.from(`${body(subject, octets).join('\r\n')}\r\n`, 'latin1');
  const incoming = store.begin();
  await incoming.receive(Readable.from([bytes]));
  return { message: await incoming.commit(storeEnvelope), bytes };
}

/** Copies a store's journals into `to` as a crash leaves them, under the pid of a process that is gone. */
function crashCopy(from: string, to: string): void {
  mkdirSync(join(to, '.smtpwb-journal'), { recursive: true });
  for (const name of readdirSync(join(from, '.smtpwb-journal'))) {
    copyFileSync(join(from, '.smtpwb-journal', name), join(to, '.smtpwb-journal', name.replace(/^journal-\d+-/, 'journal-4194305-')));
  }
}

test('a restart on a full disk: the start succeeds, the crashed journal is kept and logged, and is replayed once space is freed', async () => {
  const live = join(mountPoint, 'restart-live');
  const dir = join(mountPoint, 'restart');
  mkdirSync(dir);
  // Files wait for an hour of quiet: the journal holds the message when the "crash" comes.
  const store = new MessageStore(live, { quietMs: 3_600_000, maxWaitMs: 3_600_000 });
  const filler = join(mountPoint, 'filler-restart');
  let server: CaptureServer | undefined;
  try {
    await store.init();
    const { message, bytes } = await putDirect(store, 'journaled before the crash', 20_000);
    crashCopy(live, dir);
    await store.close();
    rmSync(live, { recursive: true });
    fillDisk(filler);
    const log: CaptureLogEntry[] = [];
    server = await startCaptureServer({ dir, tls: false, logger: (entry) => log.push(entry) });
    const warnings = log.filter((e) => /could not replay the journal/.test(e.message));
    assert.equal(warnings.length, 1, JSON.stringify(log));
    assert.match(warnings[0].message, /ENOSPC/);
    assert.doesNotMatch(warnings[0].message, /\n|\s+at\s/, 'one line, no stack trace');
    assert.equal(readdirSync(join(dir, '.smtpwb-journal')).length, 1, 'the journal is kept');
    assert.deepEqual(leftovers(dir), [], 'no temporary file is left behind by the failed writes');
    await server.stop();
    server = undefined;

    rmSync(filler);
    server = await startCaptureServer({ dir, tls: false });
    const listed = await server.list();
    assert.deepEqual(listed.map((m) => m.id), [message.id]);
    assert.deepEqual(readFileSync(listed[0].path), bytes);
    assert.deepEqual(readdirSync(join(dir, '.smtpwb-journal')), []);
    assert.deepEqual(leftovers(dir), []);
  } finally {
    rmSync(filler, { force: true });
    await server?.stop();
    await store.close();
  }
});

test('a torn append that cannot be cut back (an append-only journal) retires that journal, so later messages read back right', async () => {
  const dir = join(mountPoint, 'retire');
  const crashed = join(mountPoint, 'retire-crashed');
  const store = new MessageStore(dir, { quietMs: 3_600_000, maxWaitMs: 3_600_000 });
  const filler = join(mountPoint, 'filler-retire');
  let journal = '';
  try {
    await store.init();
    const first = await putDirect(store, 'first', 2000);
    [journal] = readdirSync(join(dir, '.smtpwb-journal')).map((n) => join(dir, '.smtpwb-journal', n));
    // Appends still work, but the journal cannot be cut back (ftruncate fails with EPERM).
    execFileSync('chattr', ['+a', journal], { stdio: 'pipe' });
    // A few pages of room: the next message is written only in part.
    fillDisk(filler);
    truncateSync(filler, statSync(filler).size - 16 * 1024);
    await assert.rejects(putDirect(store, 'torn', 200_000), (error: NodeJS.ErrnoException) => error.code === 'ENOSPC');
    rmSync(filler);
    const later = await putDirect(store, 'later', 3000);
    assert.deepEqual(await store.read(later.message.id), later.bytes, 'the message after the torn one reads back whole');
    assert.deepEqual(await store.read(first.message.id), first.bytes);
    assert.equal(readdirSync(join(dir, '.smtpwb-journal')).length, 2, 'a new journal was started');
    // A crash now: both journals are replayed (the torn record, never acknowledged, is dropped).
    crashCopy(dir, crashed);
    const restarted = new MessageStore(crashed);
    await restarted.init();
    assert.deepEqual((await restarted.list()).map((m) => m.subject).sort(), ['first', 'later']);
    await restarted.close();
    execFileSync('chattr', ['-a', journal], { stdio: 'pipe' });
    journal = '';
    await store.settled();
    assert.deepEqual((await store.list()).map((m) => m.subject).sort(), ['first', 'later']);
  } finally {
    if (journal !== '') execFileSync('chattr', ['-a', journal], { stdio: 'pipe' });
    rmSync(filler, { force: true });
    await store.close();
  }
});

/**
 * A crashed store's journal in `<name>` holding a small and a large message, on a disk left with
 * room for the small message's files (and a journal record) but not the large one's.
 */
async function cutShortReplay(name: string): Promise<{ dir: string; filler: string; small: { message: StoredMessage; bytes: Buffer }; large: { message: StoredMessage; bytes: Buffer } }> {
  const live = join(mountPoint, `${name}-live`);
  const dir = join(mountPoint, name);
  mkdirSync(dir);
  const store = new MessageStore(live, { quietMs: 3_600_000, maxWaitMs: 3_600_000 });
  const filler = join(mountPoint, `filler-${name}`);
  try {
    await store.init();
    const small = await putDirect(store, 'small', 500);
    const large = await putDirect(store, 'large', 300_000);
    crashCopy(live, dir);
    await store.close();
    rmSync(live, { recursive: true });
    fillDisk(filler);
    truncateSync(filler, statSync(filler).size - 24 * 1024);
    return { dir, filler, small, large };
  } catch (error) {
    rmSync(filler, { force: true });
    await store.close();
    throw error;
  }
}

test('a replay cut short by a full disk: what it wrote and was deleted meanwhile stays deleted when it is tried again', async () => {
  const { dir, filler, small, large } = await cutShortReplay('partial');
  let server: CaptureServer | undefined;
  try {
    const log: CaptureLogEntry[] = [];
    server = await startCaptureServer({ dir, tls: false, logger: (entry) => log.push(entry) });
    assert.equal(log.filter((e) => /could not replay the journal/.test(e.message)).length, 1, JSON.stringify(log));
    assert.deepEqual((await server.list()).map((m) => m.id), [small.message.id], 'the replay wrote what it could');
    assert.deepEqual(leftovers(dir), [], 'no sidecar without its message');
    assert.equal(await server.delete(small.message.id), true);
    // Stopped before the replay could finish: the deletion is kept journaled with the crashed journal.
    await server.stop();
    server = undefined;
    rmSync(filler);
    server = await startCaptureServer({ dir, tls: false });
    const listed = await server.list();
    assert.deepEqual(listed.map((m) => m.id), [large.message.id], 'the deleted message does not come back');
    assert.deepEqual(readFileSync(listed[0].path), large.bytes);
    assert.deepEqual(readdirSync(join(dir, '.smtpwb-journal')), []);
    assert.deepEqual(leftovers(dir), []);
  } finally {
    rmSync(filler, { force: true });
    await server?.stop();
  }
});

test('a replay cut short by a full disk is tried again while the server runs, without bringing back what was deleted', async () => {
  const { dir, filler, small, large } = await cutShortReplay('retry');
  let server: CaptureServer | undefined;
  try {
    server = await startCaptureServer({ dir, tls: false });
    assert.deepEqual((await server.list()).map((m) => m.id), [small.message.id]);
    assert.equal(await server.delete(small.message.id), true);
    rmSync(filler);
    // The next try comes within seconds; the deadline is generous for a busy machine.
    const deadline = Date.now() + 60_000;
    let ids: string[] = [];
    while (Date.now() < deadline) {
      ids = (await server.list()).map((m) => m.id);
      if (ids.length > 0) break;
      await new Promise((done) => setTimeout(done, 200));
    }
    assert.deepEqual(ids, [large.message.id], 'the large message is written, the deleted one stays deleted');
    assert.deepEqual(readdirSync(join(dir, '.smtpwb-journal')).filter((n) => !n.startsWith(`journal-${process.pid}-`)), [], 'the crashed journal is gone');
    await server.stop();
    server = await startCaptureServer({ dir, tls: false });
    assert.deepEqual((await server.list()).map((m) => m.id), [large.message.id]);
    assert.deepEqual(leftovers(dir), []);
  } finally {
    rmSync(filler, { force: true });
    await server?.stop();
  }
});
