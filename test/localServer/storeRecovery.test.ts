// How the capture server's store comes back after a crash (issue 16, "the journal is the store"):
// a temporary file left by a run that died never stops a later start; a deleted message stays
// deleted; under steady load the journal is rotated and old journal files go, so it never grows
// without bound; a replay never drops an acknowledged record silently (a corrupt journal is kept as
// `.corrupt`, and the whole records after the damage are recovered, see
// storeJournalResync.test.ts); verification results survive a failed write-out, and a deletion
// racing a verification leaves no sidecar behind. A deletion or a clear sticks: made while the
// server is stopped, or by a store whose replay was cut short, it survives the replay of a crashed
// server's journal, and a write-out racing it puts no file back. A "crash" is a store abandoned
// without close(), whose journal files are copied, under the name of a process that is gone, into a
// fresh folder, as storePerformance.test.ts does. Everything runs on real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { startCaptureServer, type CaptureLogEntry } from '../../client/src/localServer';
import { MessageStore, readJournal, type CapturedAuthentication, type StoredMessage } from '../../client/src/localServer/messageStore';
import { makeTempDir, removeTempDir } from '../peers/process';

const JOURNAL = '.smtpwb-journal';
const INCOMING = '.smtpwb-incoming';
/** Above Linux's pid_max, so no live process has it: a journal under this pid is one a crashed server left. */
const GONE_PID = 4194305;

const envelope = { mailFrom: 'a@example.test', rcptTo: ['b@example.test'], mailParameters: {}, rcptParameters: [{}], remoteAddress: '127.0.0.1', remotePort: 1, helo: 'c.example.test', tls: null, auth: null, bodyType: '7bit' as const, smtpUtf8: false, transmissionType: 'ESMTP' };

function content(subject: string, octets = 0): string {
  return `Subject: ${subject}\r\n\r\n${'x'.repeat(octets)}body\r\n`;
}

/** Stores one message (journaled, its files written later) and returns it. */
async function put(store: MessageStore, subject: string, octets = 0): Promise<StoredMessage> {
  const incoming = store.begin();
  await incoming.receive(Readable.from([Buffer.from(content(subject, octets), 'latin1')]));
  return incoming.commit(envelope);
}

/** A store whose files wait for an hour of quiet: only the test decides when files are written. */
function patientStore(dir: string, options: { journalBytes?: number } = {}): MessageStore {
  return new MessageStore(dir, { quietMs: 3_600_000, maxWaitMs: 3_600_000, ...options });
}

/**
 * Runs `body` with a patient store in a folder of its own ("live", initialised) and an empty folder
 * for a crash copy ("crashed"); afterwards the store is closed and both folders are removed.
 */
async function withCrashFolders(
  body: (t: { live: string; crashed: string; store: MessageStore }) => Promise<void>,
  options: { journalBytes?: number } = {},
): Promise<void> {
  const live = makeTempDir('recovery-live');
  const crashed = makeTempDir('recovery-crashed');
  const store = patientStore(live, options);
  try {
    await store.init();
    await body({ live, crashed, store });
  } finally {
    await store.close();
    removeTempDir(live);
    removeTempDir(crashed);
  }
}

/** The journal files of `from` as a crash leaves them, copied into `to` under the name of a process that is gone. */
function crashCopy(from: string, to: string): string[] {
  mkdirSync(join(to, JOURNAL), { recursive: true });
  const names = readdirSync(join(from, JOURNAL)).filter((n) => n.endsWith('.log'));
  for (const name of names) copyFileSync(join(from, JOURNAL, name), join(to, JOURNAL, name.replace(/^journal-\d+-/, `journal-${GONE_PID}-`)));
  return names;
}

function journalBytes(dir: string): number {
  return readdirSync(join(dir, JOURNAL)).reduce((n, name) => n + statSync(join(dir, JOURNAL, name)).size, 0);
}

const none = { result: 'none', info: 'no signature' };
function verified(text: string): CapturedAuthentication {
  return { verifiedAt: '2026-11-23T10:00:00.000Z', dkim: [], spf: none, dmarc: none, arc: none, authenticationResults: text, failed: false };
}

test('a temporary file left by a server killed between writing and renaming it does not stop the next start', async () => {
  await withCrashFolders(async ({ live, crashed, store }) => {
    let server: Awaited<ReturnType<typeof startCaptureServer>> | undefined;
    try {
      const message = await put(store, 'survivor');
      crashCopy(live, crashed);
      // The earlier replay was killed after writing the sidecar's temporary file, before renaming it;
      // a temporary file carries the pid of its writer.
      mkdirSync(join(crashed, INCOMING), { recursive: true });
      writeFileSync(join(crashed, INCOMING, `${message.id}.envelope.p${GONE_PID}.part`), '{"half":');
      writeFileSync(join(crashed, INCOMING, `${message.id}.p${GONE_PID}.part`), '');
      const log: CaptureLogEntry[] = [];
      server = await startCaptureServer({ dir: crashed, tls: false, logger: (entry) => log.push(entry) });
      const listed = await server.list();
      assert.deepEqual(listed.map((m) => m.id), [message.id]);
      assert.equal(readFileSync(listed[0].path, 'latin1'), content('survivor'));
      assert.equal(listed[0].envelope?.mailFrom, 'a@example.test', 'the sidecar is the whole one, not the half one left behind');
      assert.deepEqual(readdirSync(join(crashed, INCOMING)), [], 'the leftover temporary files are gone');
      assert.deepEqual(readdirSync(join(crashed, JOURNAL)), [], 'the journal is replayed and removed');
      assert.deepEqual(log.filter((e) => e.level !== 'info'), []);
    } finally {
      await server?.stop();
    }
  });
});

test('a message deleted after its files were written stays deleted after a crash, while its record is still journaled', async () => {
  await withCrashFolders(async ({ live, crashed, store }) => {
    // One message keeps waiting for its files, so the journal cannot be emptied.
    const kept = await put(store, 'kept');
    const gone = await put(store, 'gone');
    // get() writes the files of this one; its record stays in the journal.
    assert.equal((await store.get(gone.id))?.id, gone.id);
    assert.equal(await store.delete(gone.id), true);
    crashCopy(live, crashed);
    const restarted = new MessageStore(crashed);
    await restarted.init();
    assert.deepEqual((await restarted.list()).map((m) => m.id), [kept.id], 'the deleted message does not come back');
    await restarted.close();
  });
});

test('under steady load (never a moment with nothing waiting) the journal is rotated and old journal files go', async () => {
  // 16 KiB journals; each record is about 1.5 KiB.
  const limit = 16 * 1024;
  await withCrashFolders(async ({ live, crashed, store }) => {
    let previous = await put(store, 'm0', 1000);
    let largest = 0;
    for (let i = 1; i < 300; i++) {
      const next = await put(store, `m${i}`, 1000);
      // The message before gets its files; this one still waits: something is always journaled.
      await store.get(previous.id);
      previous = next;
      largest = Math.max(largest, journalBytes(live));
    }
    // 300 records of 1.5 KiB are about 450 KiB; the journals hold only what is recent.
    assert.ok(largest <= 3 * limit, `the journals held ${largest} octets at most`);
    assert.ok(readdirSync(join(live, JOURNAL)).length <= 3, readdirSync(join(live, JOURNAL)).join(', '));
    // A crash now loses nothing: the last message is replayed from the journals left.
    crashCopy(live, crashed);
    const restarted = new MessageStore(crashed);
    await restarted.init();
    assert.ok((await restarted.list()).some((m) => m.id === previous.id));
    await restarted.close();
    await store.settled();
    assert.equal(journalBytes(live), 0, 'with every message written out, the journals are empty');
    assert.equal((await store.list()).length, 300);
  }, { journalBytes: limit });
});

test('rotated journals: a crash replays them together, with deletions and verification results from later journals', async () => {
  // About three records per journal.
  await withCrashFolders(async ({ live, crashed, store }) => {
    const messages: StoredMessage[] = [];
    for (let i = 0; i < 6; i++) messages.push(await put(store, `m${i}`, 300));
    for (let i = 0; i < 6; i++) messages.push(await put(store, `n${i}`, 300));
    const [pendingDeleted, annotated, writtenDeleted] = messages;
    // A deletion of a message still waiting, the results of a verification, and the deletion of a
    // message whose files were written: each is journaled in a later journal than the message.
    assert.equal(await store.delete(pendingDeleted.id), true);
    assert.equal(await store.annotate(annotated.id, verified('localhost; dkim=none')), true);
    await store.get(writtenDeleted.id);
    assert.equal(await store.delete(writtenDeleted.id), true);
    assert.ok(readdirSync(join(live, JOURNAL)).length >= 3, 'the journal was rotated');
    crashCopy(live, crashed);
    const restarted = new MessageStore(crashed);
    await restarted.init();
    const listed = await restarted.list();
    assert.deepEqual(listed.map((m) => m.subject).sort(), ['m1', 'm3', 'm4', 'm5', 'n0', 'n1', 'n2', 'n3', 'n4', 'n5']);
    assert.equal(listed.find((m) => m.id === annotated.id)?.authentication?.authenticationResults, 'localhost; dkim=none');
    for (const m of listed) assert.equal(readFileSync(m.path, 'latin1'), content(m.subject ?? '', 300));
    assert.deepEqual(readdirSync(join(crashed, JOURNAL)), [], 'every replayed journal is removed');
    await restarted.close();
    // The live store: once everything is written, no journal holds anything.
    await store.settled();
    assert.equal(journalBytes(live), 0);
    assert.equal((await store.get(annotated.id))?.authentication?.authenticationResults, 'localhost; dkim=none');
  }, { journalBytes: 2000 });
});

test('a replay reads a journal record by record: messages across its read windows come back whole', async () => {
  await withCrashFolders(async ({ live, crashed, store }) => {
    // 700 KiB each (kept in memory, so journaled): the journal is read a MiB at a time.
    const subjects = ['w0', 'w1', 'w2', 'w3'];
    for (const subject of subjects) await put(store, subject, 700 * 1024);
    crashCopy(live, crashed);
    const restarted = new MessageStore(crashed);
    await restarted.init();
    const listed = await restarted.list();
    assert.deepEqual(listed.map((m) => m.subject).sort(), subjects);
    for (const m of listed) assert.equal(readFileSync(m.path, 'latin1'), content(m.subject ?? '', 700 * 1024));
    await restarted.close();
  });
});

test('a journal with an unreadable record: the whole records around it are written, the journal is kept as .corrupt and logged', async () => {
  await withCrashFolders(async ({ live, crashed, store }) => {
    await put(store, 'before');
    const [name] = readdirSync(join(live, JOURNAL));
    const good = readFileSync(join(live, JOURNAL, name));
    // A whole record follows the damaged one: it was acknowledged, so the journal must not go.
    await put(store, 'after');
    const both = readFileSync(join(live, JOURNAL, name));
    const second = both.subarray(good.length);
    const bad = Buffer.from('SMTPWB-J2 5 0\n{"m":\n', 'latin1');
    const damaged = Buffer.concat([good, bad, second]);
    const scan = readJournal(damaged);
    // The record after the unreadable one is found again and read.
    assert.deepEqual([scan.records.length, scan.end, scan.outcome, scan.skipped], [2, damaged.length, 'corrupt', [[good.length, good.length + bad.length]]]);
    // A torn last record (a crash in the middle of its append) is not corruption.
    assert.equal(readJournal(both.subarray(0, both.length - 3)).outcome, 'torn');
    assert.equal(readJournal(Buffer.concat([good, Buffer.from('SMTPWB-J2 12', 'latin1')])).outcome, 'torn');
    assert.equal(readJournal(both).outcome, 'complete');
    // A record whose lengths run past the end while a later record follows was damaged, not torn:
    // what follows was acknowledged, so the journal is corrupt (kept), never cut short in silence,
    // and what follows is read.
    const long = readJournal(Buffer.concat([good, Buffer.from('SMTPWB-J2 999999 0\n{"m":\n', 'latin1'), second]));
    assert.deepEqual([long.outcome, long.records.length], ['corrupt', 2]);
    // A message record whose id is not the plain id its file name ends with is unreadable (the id
    // names files during a replay).
    const head = Buffer.from(JSON.stringify({ m: { version: 1, id: '../../x', file: '20261206T120000000Z-abc.eml', envelope: {} } }), 'utf8');
    const pathId = Buffer.concat([Buffer.from(`SMTPWB-J2 ${head.length} 0\n`, 'latin1'), head, Buffer.from('\n', 'latin1')]);
    assert.deepEqual(readJournal(Buffer.concat([good, pathId])).skipped, [[good.length, good.length + pathId.length]]);

    mkdirSync(join(crashed, JOURNAL));
    const corruptName = `journal-${GONE_PID}-bad.log`;
    writeFileSync(join(crashed, JOURNAL, corruptName), damaged);
    const log: Array<{ level: string; message: string }> = [];
    const restarted = new MessageStore(crashed, { log: (level, message) => log.push({ level, message }) });
    await restarted.init();
    assert.deepEqual((await restarted.list()).map((m) => m.subject).sort(), ['after', 'before']);
    assert.deepEqual(readdirSync(join(crashed, JOURNAL)), [`${corruptName}.corrupt`], 'kept for a person to look at, and not replayed again');
    assert.equal(log.length, 1, JSON.stringify(log));
    assert.equal(log[0].level, 'error');
    assert.match(log[0].message, new RegExp(`unreadable octets \\(${good.length} to ${good.length + bad.length}, of ${damaged.length}\\).*\\.corrupt`));
    await restarted.close();
  });
});

test('verification results that come while a write-out fails are kept with the message, which is still journaled', async () => {
  const dir = makeTempDir('recovery-annotate');
  const store = patientStore(dir);
  try {
    await store.init();
    const message = await put(store, 'annotated');
    // The temporary folder is a file now: every write-out fails (not with ENOENT, so it is not remade).
    rmSync(join(dir, INCOMING), { recursive: true });
    writeFileSync(join(dir, INCOMING), 'not a folder');
    // get() starts writing the files; the verification results come while that write fails.
    const getting = store.get(message.id);
    assert.equal(await store.annotate(message.id, verified('localhost; dkim=pass')), true, 'the results are stored');
    await getting;
    const [listed] = await store.list({ write: false });
    assert.equal(listed.authentication?.authenticationResults, 'localhost; dkim=pass');
    // Once the folder is usable again, the files carry the results.
    rmSync(join(dir, INCOMING));
    const written = await store.get(message.id);
    const sidecar = JSON.parse(readFileSync(written!.envelopePath, 'utf8')) as { authentication?: CapturedAuthentication };
    assert.equal(sidecar.authentication?.authenticationResults, 'localhost; dkim=pass');
  } finally {
    await store.close();
    removeTempDir(dir);
  }
});

test('a deletion racing a verification leaves no sidecar behind', async () => {
  const dir = makeTempDir('recovery-race');
  const store = patientStore(dir);
  try {
    await store.init();
    const messages: StoredMessage[] = [];
    for (let i = 0; i < 20; i++) messages.push(await put(store, `race${i}`));
    await store.settled();
    await Promise.all(messages.map((m) => Promise.all([store.annotate(m.id, verified('localhost; dkim=none')), store.delete(m.id)])));
    assert.deepEqual(readdirSync(dir).filter((n) => !n.startsWith('.')), [], 'no message file and no sidecar is left');
    assert.deepEqual(await store.list(), []);
  } finally {
    await store.close();
    removeTempDir(dir);
  }
});

/** Copies a message's two files, as a crashed server wrote them, into `to`. */
function copyFiles(message: StoredMessage, to: string): void {
  copyFileSync(message.path, join(to, basename(message.path)));
  copyFileSync(message.envelopePath, join(to, basename(message.envelopePath)));
}

test('messages deleted and cleared while the server is stopped stay gone when the journal a crashed server left is replayed', async () => {
  await withCrashFolders(async ({ live, crashed, store }) => {
    // The crashed server had written the files of two messages, whose records were still in its
    // journal (a third message, still waiting for its files, kept the journal from being emptied).
    const deleted = await put(store, 'deleted');
    const cleared = await put(store, 'cleared');
    const waiting = await put(store, 'waiting');
    const written = [(await store.get(deleted.id))!, (await store.get(cleared.id))!];
    crashCopy(live, crashed);
    for (const message of written) copyFiles(message, crashed);
    // The Local Inbox while the server is stopped: a store that keeps no journal and replays nothing.
    const inbox = new MessageStore(crashed);
    assert.deepEqual((await inbox.list()).map((m) => m.subject).sort(), ['cleared', 'deleted']);
    assert.equal(await inbox.delete(deleted.id), true);
    assert.equal(await inbox.clear(), 1);
    assert.deepEqual(await inbox.list(), []);
    let server: Awaited<ReturnType<typeof startCaptureServer>> | undefined;
    try {
      server = await startCaptureServer({ dir: crashed, tls: false });
      assert.deepEqual((await server.list()).map((m) => m.id), [waiting.id], 'only the message never listed (it had no files yet) is written');
    } finally {
      await server?.stop();
    }
    assert.deepEqual(readdirSync(join(crashed, JOURNAL)), [], 'the replayed journal and the deletions are removed');
  });
});

test('a store whose replay was cut short: what it deletes or clears stays gone after a restart', async () => {
  await withCrashFolders(async ({ live, crashed, store }) => {
    const written = await put(store, 'written');
    const deleted = await put(store, 'deleted');
    const cleared = await put(store, 'cleared');
    const blocked = await put(store, 'blocked');
    // The crashed server had written the files of the first message; its record stays journaled.
    const [journal] = crashCopy(live, crashed);
    copyFiles((await store.get(written.id))!, crashed);
    // A folder in the way of the last message's temporary sidecar (`<id>.envelope.p<pid>n<space>.part`,
    // the space as in this process's journal names): the replay writes two messages, then fails.
    const space = /n([0-9a-f]{16})(?:s\d+)?\.log$/.exec(journal)?.[1];
    assert.ok(space, journal);
    const blocker = join(crashed, INCOMING, `${blocked.id}.envelope.p${process.pid}n${space}.part`);
    mkdirSync(join(blocker, 'x'), { recursive: true });
    const log: string[] = [];
    const restarted = new MessageStore(crashed, { log: (_level, message) => log.push(message) });
    try {
      await restarted.init();
      assert.match(log.join('\n'), /could not replay the journal/);
      assert.deepEqual((await restarted.list()).map((m) => m.subject).sort(), ['cleared', 'deleted', 'written']);
      // A message the replay wrote, and one whose files were there before it.
      assert.equal(await restarted.delete(deleted.id), true);
      assert.equal(await restarted.delete(written.id), true);
      assert.equal(await restarted.clear(), 1);
      assert.deepEqual(await restarted.list(), []);
    } finally {
      await restarted.close();
    }
    rmSync(blocker, { recursive: true });
    const again = new MessageStore(crashed);
    await again.init();
    assert.deepEqual((await again.list()).map((m) => m.subject), ['blocked'], 'nothing deleted or cleared comes back');
    await again.close();
    assert.deepEqual(readdirSync(join(crashed, JOURNAL)), []);
  });
});

test('a write-out started while a message is deleted does not put its files back', async () => {
  const dir = makeTempDir('recovery-delete-export');
  const store = patientStore(dir);
  try {
    await store.init();
    const message = await put(store, 'deleted');
    // get() starts writing the message's files just after the deletion began.
    const deleting = store.delete(message.id);
    const getting = store.get(message.id);
    assert.equal(await deleting, true);
    await getting;
    assert.deepEqual(readdirSync(dir).filter((n) => !n.startsWith('.')), [], 'no message file and no sidecar is left');
    assert.deepEqual(await store.list(), []);
  } finally {
    await store.close();
    removeTempDir(dir);
  }
});

test('write-outs started while the store is cleared do not put files back', async () => {
  const dir = makeTempDir('recovery-clear-export');
  const store = patientStore(dir);
  try {
    await store.init();
    const messages: StoredMessage[] = [];
    for (let i = 0; i < 8; i++) messages.push(await put(store, `cleared${i}`, 20_000));
    // get() starts writing every message's files just after the clear began.
    const clearing = store.clear();
    const getting = Promise.all(messages.map((m) => store.get(m.id)));
    assert.equal(await clearing, messages.length);
    await getting;
    assert.deepEqual(readdirSync(dir).filter((n) => !n.startsWith('.')), [], 'no message file and no sidecar is left');
    assert.deepEqual(await store.list(), []);
    assert.equal(journalBytes(dir), 0);
  } finally {
    await store.close();
    removeTempDir(dir);
  }
});

/** Runs `sh` so that a child of it exits unreaped (a zombie) while `sh`, replaced by `sleep`, lives on. Resolves with the zombie's pid. */
function zombie(): Promise<{ pid: number; stop(): void }> {
  return new Promise((resolveZombie, rejectZombie) => {
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    parent.once('error', rejectZombie);
    parent.stdout.once('data', (chunk: Buffer) => {
      const pid = Number(chunk.toString('latin1').trim());
      // Wait until the child has exited (its state is Z), so the test sees the zombie, not the child.
      const started = Date.now();
      const poll = (): void => {
        let state = '';
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
          state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        } catch {
          state = 'gone';
        }
        if (state === 'Z') resolveZombie({ pid, stop: () => parent.kill('SIGKILL') });
        else if (Date.now() - started > 5000) rejectZombie(new Error(`pid ${pid} never became a zombie (state ${state})`));
        else setTimeout(poll, 10);
      };
      poll();
    });
  });
}

test('a journal whose server is dead but not yet reaped (a zombie) is replayed at the next start, and one whose server lives is replayed once it goes', async () => {
  await withCrashFolders(async ({ live, crashed, store }) => {
    const dead = await put(store, 'server killed a moment ago');
    const [name] = crashCopy(live, crashed);
    const z = await zombie();
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      // The crashed server's journal under the zombie's pid.
      renameSync(join(crashed, JOURNAL, name.replace(/^journal-\d+-/, `journal-${GONE_PID}-`)), join(crashed, JOURNAL, `journal-${z.pid}-zombie.log`));
      const restarted = new MessageStore(crashed);
      await restarted.init();
      assert.deepEqual((await restarted.list()).map((m) => m.id), [dead.id], 'a zombie is a server that is gone');
      // A second journal, of a server that still runs: kept while it runs, replayed in this run once it is gone.
      const later = await put(store, 'server still running');
      const again = makeTempDir('recovery-alive');
      try {
        const names = crashCopy(live, again);
        const latest = names.find((n) => readFileSync(join(live, JOURNAL, n), 'latin1').includes(later.id));
        assert.ok(latest, 'the live journal holds the second message');
        copyFileSync(join(live, JOURNAL, latest), join(crashed, JOURNAL, `journal-${sleeper.pid}-alive.log`));
      } finally {
        removeTempDir(again);
      }
      const watching = new MessageStore(crashed);
      await watching.init();
      assert.equal((await watching.list()).some((m) => m.id === later.id), false, 'not replayed while its server lives');
      sleeper.kill('SIGKILL');
      await once(sleeper, 'exit');
      const deadline = Date.now() + 15_000;
      while (!(await watching.list()).some((m) => m.id === later.id)) {
        assert.ok(Date.now() < deadline, 'replayed within a few seconds of its server going');
        await new Promise((done) => setTimeout(done, 200));
      }
      await watching.close();
      await restarted.close();
    } finally {
      z.stop();
      sleeper.kill('SIGKILL');
    }
  });
});

/** A sidecar in `dir` whose `.eml` is not there, as a crash between the two renames leaves it; returns its id and base. */
function halfMessage(dir: string, id: string, text: string): { base: string; path: string } {
  const base = `20261123T100000000Z-${id}`;
  const sidecar = { version: 1, id, file: `${base}.eml`, envelope: { ...envelope, receivedAt: '2026-11-23T10:00:00.000Z', size: Buffer.byteLength(text, 'latin1') }, headers: { subject: id } };
  writeFileSync(join(dir, `${base}.envelope.json`), JSON.stringify(sidecar));
  return { base, path: join(dir, `${base}.eml`) };
}

test('a crash between the renames of a large message: the next start completes it from its whole temporary file, or removes its sidecar', async () => {
  const dir = makeTempDir('recovery-half');
  let server: Awaited<ReturnType<typeof startCaptureServer>> | undefined;
  try {
    mkdirSync(join(dir, INCOMING), { recursive: true });
    const big = content('whole', 1_500_000);
    // Whole: the message went to its temporary file in full before its sidecar was renamed.
    const whole = halfMessage(dir, 'a1b2c3d4e5f6', big);
    writeFileSync(join(dir, INCOMING, `a1b2c3d4e5f6.p${GONE_PID}.part`), big, 'latin1');
    // Cut short (its file is not as long as its sidecar says): removed.
    const cut = halfMessage(dir, 'b1b2c3d4e5f6', big);
    writeFileSync(join(dir, INCOMING, `b1b2c3d4e5f6.p${GONE_PID}.part`), big.slice(0, 1000), 'latin1');
    // No temporary file at all (a deletion cut short, say): removed.
    const bare = halfMessage(dir, 'c1b2c3d4e5f6', big);
    // A live server (here, this test's parent process) is between its two renames: left to it.
    const live = halfMessage(dir, 'd1b2c3d4e5f6', big);
    writeFileSync(join(dir, INCOMING, `d1b2c3d4e5f6.p${process.ppid}.part`), big, 'latin1');
    // The temporary file of a message a gone server was receiving, a moment ago.
    writeFileSync(join(dir, INCOMING, `e1b2c3d4e5f6.p${GONE_PID}.part`), big.slice(0, 5000), 'latin1');
    const log: CaptureLogEntry[] = [];
    server = await startCaptureServer({ dir, tls: false, logger: (entry) => log.push(entry) });
    assert.equal(readFileSync(whole.path, 'latin1'), big, 'the whole message is completed');
    const listed = await server.list();
    assert.deepEqual(listed.map((m) => m.id), ['a1b2c3d4e5f6']);
    assert.equal(listed[0].envelope?.mailFrom, 'a@example.test');
    assert.equal((await server.read('a1b2c3d4e5f6')).length, big.length);
    for (const gone of [cut, bare]) assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith(gone.base)), [], `${gone.base} leaves nothing`);
    assert.equal(await server.get('b1b2c3d4e5f6'), undefined);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith(live.base)), [`${live.base}.envelope.json`], 'a live server\'s half message is left to it');
    assert.deepEqual(readdirSync(join(dir, INCOMING)), [`d1b2c3d4e5f6.p${process.ppid}.part`], 'the temporary files of gone servers are removed at once');
    assert.equal(log.filter((e) => e.level === 'warn').length, 3, 'one line for each half message finished');
  } finally {
    await server?.stop();
    removeTempDir(dir);
  }
});

test('a large message is put into the folder whole: its temporary file carries the server\'s pid and is gone once it is stored', async () => {
  const dir = makeTempDir('recovery-large');
  try {
    const store = new MessageStore(dir);
    await store.init();
    const incoming = store.begin();
    const big = content('large', 1_500_000);
    let seen: string[] = [];
    // Read while it is being received: the temporary file names its writer.
    const stream = new Readable({ read() {} });
    const receiving = incoming.receive(stream);
    stream.push(Buffer.from(big, 'latin1'));
    await new Promise((done) => setTimeout(done, 50));
    seen = readdirSync(join(dir, INCOMING));
    stream.push(null);
    await receiving;
    const stored = await incoming.commit(envelope);
    assert.equal(seen.length, 1);
    assert.match(seen[0], new RegExp(`^${stored.id}\\.p${process.pid}n[0-9a-f]{16}\\.part$`));
    assert.equal(readFileSync(stored.path, 'latin1'), big);
    assert.deepEqual(readdirSync(join(dir, INCOMING)), []);
    assert.deepEqual((await store.list()).map((m) => m.id), [stored.id]);
    await store.close();
  } finally {
    removeTempDir(dir);
  }
});
