// Processes sharing a capture folder (issue 16, "the journal is the store"). A message one process
// deletes or clears (the Local Inbox while `smtpwb serve` runs) stays deleted when its record is in
// the journal of a live server in another process that is killed right after: the deletion goes
// into a deletion file beside that journal, which the server honours while it runs (it retires the
// journal, and the file goes with it) and a replay reads once it is gone. Journals are owned by
// pid, pid space (boot and pid namespace) and start time: a journal with this process's own pid
// from another pid space (a container sharing the folder) is never replayed while its lease is
// fresh, and is once it has lapsed; a journal whose pid a later process has is replayed. The
// servers are real child processes (storeServer.main.ts), killed with SIGKILL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { MessageStore } from '../../client/src/localServer/messageStore';
import { makeTempDir, removeTempDir } from '../peers/process';

const JOURNAL = '.smtpwb-journal';
const INCOMING = '.smtpwb-incoming';

const envelope = { mailFrom: 'a@example.test', rcptTo: ['b@example.test'], mailParameters: {}, rcptParameters: [{}], remoteAddress: '127.0.0.1', remotePort: 1, helo: 'c.example.test', tls: null, auth: null, bodyType: '7bit' as const, smtpUtf8: false, transmissionType: 'ESMTP' };

/** A server's store in a child process (storeServer.main.ts) on `dir`, once it has stored its two messages. */
async function startServer(dir: string, mode?: 'all-written'): Promise<{ child: ChildProcess; written: string; waiting: string }> {
  const child = spawn(process.execPath, [join(__dirname, 'storeServer.main.js'), dir, ...(mode ? [mode] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [undefined])])) as [string | undefined];
  assert.ok(line !== undefined, `the child store did not start: ${stderr}`);
  const ids = JSON.parse(line) as { written: string; waiting: string };
  return { child, ...ids };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

function journalFiles(dir: string): string[] {
  return existsSync(join(dir, JOURNAL)) ? readdirSync(join(dir, JOURNAL)).sort() : [];
}

async function until(what: string, condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((done) => setTimeout(done, 100));
  }
}

for (const how of ['deleted', 'cleared'] as const) {
  test(`a message ${how} by another process while a live server journals it stays gone when that server is killed right after`, async () => {
    const dir = makeTempDir(`shared-${how}`);
    const server = await startServer(dir);
    try {
      // The Local Inbox, say: another process's store on the same folder.
      const inbox = new MessageStore(dir);
      await inbox.init();
      assert.deepEqual((await inbox.list()).map((m) => m.id), [server.written], 'the message with its files is listed');
      if (how === 'deleted') assert.equal(await inbox.delete(server.written), true);
      else assert.equal(await inbox.clear(), 1);
      await inbox.close();
      await kill(server.child);
      // The next start replays the killed server's journal.
      const restarted = new MessageStore(dir);
      await restarted.init();
      assert.deepEqual((await restarted.list()).map((m) => m.id), [server.waiting], `the ${how} message does not come back`);
      await restarted.close();
      assert.deepEqual(journalFiles(dir), [], 'the journal and the deletion file are gone after the replay');
    } finally {
      await kill(server.child);
      removeTempDir(dir);
    }
  });
}

test('a deletion file for a live server\'s journal and a gone server\'s stays when the gone one is replayed, and applies when the live one is', async () => {
  const dir = makeTempDir('shared-both');
  const gone = makeTempDir('shared-gone');
  const server = await startServer(dir);
  try {
    // A gone server's journal with the files of its message written, as a crash leaves it.
    const crashed = new MessageStore(gone, { quietMs: 3_600_000, maxWaitMs: 3_600_000 });
    await crashed.init();
    const incoming = crashed.begin();
    await incoming.receive(Readable.from([Buffer.from('Subject: gone server\r\n\r\nbody\r\n', 'latin1')]));
    const old = await incoming.commit(envelope);
    const written = (await crashed.get(old.id))!;
    const keep = crashed.begin();
    await keep.receive(Readable.from([Buffer.from('Subject: keeps the journal\r\n\r\nbody\r\n', 'latin1')]));
    const kept = await keep.commit(envelope);
    const [name] = journalFiles(gone);
    copyFileSync(join(gone, JOURNAL, name), join(dir, JOURNAL, name.replace(/^journal-\d+-/, 'journal-4194305-')));
    for (const path of [written.path, written.envelopePath]) copyFileSync(path, join(dir, path.slice(gone.length + 1)));
    // The Local Inbox, which replays nothing, clears both servers' written messages.
    const inbox = new MessageStore(dir);
    assert.equal(await inbox.clear(), 2);
    const [deletions] = journalFiles(dir).filter((n) => n.startsWith('deletions-'));
    assert.ok(deletions, journalFiles(dir).join(', '));
    // A start replays the gone server's journal: its cleared message stays gone, and the deletion
    // file stays for the live server's journal.
    const first = new MessageStore(dir);
    await first.init();
    assert.deepEqual((await first.list({ write: false })).map((m) => m.id).sort(), [kept.id].sort());
    await first.close();
    assert.ok(journalFiles(dir).includes(deletions), 'the deletion file is still needed by the live server\'s journal');
    await kill(server.child);
    const second = new MessageStore(dir);
    await second.init();
    assert.deepEqual((await second.list()).map((m) => m.id).sort(), [kept.id, server.waiting].sort(), 'nothing cleared comes back');
    await second.close();
    assert.deepEqual(journalFiles(dir), []);
    await crashed.close();
  } finally {
    await kill(server.child);
    removeTempDir(dir);
    removeTempDir(gone);
  }
});

test('a live server honours a deletion file written for its journal: it retires the journal, and the file goes with it', async () => {
  const dir = makeTempDir('shared-honour');
  const server = await startServer(dir, 'all-written');
  try {
    const [journal] = journalFiles(dir);
    // Its lease lapsed long ago, as far as the file says: the server's heartbeat refreshes it.
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(join(dir, JOURNAL, journal), old, old);
    const inbox = new MessageStore(dir);
    assert.equal(await inbox.delete(server.written), true);
    const deletions = journalFiles(dir).filter((n) => n.startsWith('deletions-'));
    assert.equal(deletions.length, 1, journalFiles(dir).join(', '));
    assert.match(readFileSync(join(dir, JOURNAL, deletions[0]), 'latin1'), new RegExp(`"for":\\["${journal.replace(/\./g, '\\.')}"\\]`));
    await until('the server retires its journal and removes the deletion file within a few heartbeats', () => journalFiles(dir).length === 0);
    // Killed now, it leaves nothing to replay, and the deleted message stays gone.
    await kill(server.child);
    const restarted = new MessageStore(dir);
    await restarted.init();
    assert.deepEqual((await restarted.list()).map((m) => m.id), [server.waiting]);
    await restarted.close();
  } finally {
    await kill(server.child);
    removeTempDir(dir);
  }
});

test('a live server keeps the lease of its journal fresh', async () => {
  const dir = makeTempDir('shared-lease');
  const server = await startServer(dir);
  try {
    const [journal] = journalFiles(dir);
    const path = join(dir, JOURNAL, journal);
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(path, old, old);
    await until('the heartbeat refreshes the journal\'s modification time', () => Date.now() - statSync(path).mtimeMs < 30_000);
  } finally {
    await kill(server.child);
    removeTempDir(dir);
  }
});

test('a journal with this process\'s own pid from another pid space is not replayed while its lease is fresh, and is once it lapses', async () => {
  const source = makeTempDir('shared-source');
  const dir = makeTempDir('shared-namespace');
  try {
    // A journal as a server in another container (its own pid namespace) writes it, there with the
    // same pid as this process: made by a store here, then renamed into that other pid space.
    const writer = new MessageStore(source, { quietMs: 3_600_000, maxWaitMs: 3_600_000 });
    await writer.init();
    const incoming = writer.begin();
    await incoming.receive(Readable.from([Buffer.from('Subject: other container\r\n\r\nbody\r\n', 'latin1')]));
    const message = await incoming.commit(envelope);
    const [name] = journalFiles(source);
    const m = /^journal-(\d+)-([0-9a-f]{8})(?:n([0-9a-f]{16})(?:s\d+)?)?\.log$/.exec(name);
    assert.ok(m, name);
    const otherSpace = m[3] === '0123456789abcdef' ? 'fedcba9876543210' : '0123456789abcdef';
    const foreign = `journal-${process.pid}-${m[2]}n${otherSpace}.log`;
    mkdirSync(join(dir, JOURNAL), { recursive: true });
    copyFileSync(join(source, JOURNAL, name), join(dir, JOURNAL, foreign));
    // Its temporary file there, with this process's pid: not this process's, so left alone.
    mkdirSync(join(dir, INCOMING), { recursive: true });
    writeFileSync(join(dir, INCOMING, `${message.id}.p${process.pid}n${otherSpace}.part`), 'half');
    // The writer "crashed": its store is abandoned, never closed (its journal is in another folder).

    const here = new MessageStore(dir);
    await here.init();
    assert.deepEqual(await here.list(), [], 'a journal that may be live is not replayed');
    assert.deepEqual(journalFiles(dir), [foreign], 'nor taken as this process\'s own and removed');
    assert.deepEqual(readdirSync(join(dir, INCOMING)), [`${message.id}.p${process.pid}n${otherSpace}.part`], 'its temporary file is left to it');
    await here.close();

    // The other server is gone: its lease lapses.
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(join(dir, JOURNAL, foreign), old, old);
    const later = new MessageStore(dir);
    await later.init();
    assert.deepEqual((await later.list()).map((x) => x.id), [message.id], 'replayed once its lease has lapsed');
    assert.equal(readFileSync((await later.get(message.id))!.path, 'latin1'), 'Subject: other container\r\n\r\nbody\r\n');
    await later.close();
    assert.deepEqual(journalFiles(dir), []);
    await writer.close();
  } finally {
    removeTempDir(source);
    removeTempDir(dir);
  }
});

test('a journal whose pid now belongs to a later process (its start time differs) is replayed; one of the process that runs is not', async () => {
  const source = makeTempDir('shared-reused-source');
  const dir = makeTempDir('shared-reused');
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const writer = new MessageStore(source, { quietMs: 3_600_000, maxWaitMs: 3_600_000 });
    await writer.init();
    const stored: Array<{ id: string; name: string }> = [];
    for (const subject of ['pid used again', 'server still runs']) {
      const incoming = writer.begin();
      await incoming.receive(Readable.from([Buffer.from(`Subject: ${subject}\r\n\r\nbody\r\n`, 'latin1')]));
      const message = await incoming.commit(envelope);
      // Each message in a journal of its own: the first is copied before the second is stored.
      const [name] = journalFiles(source);
      stored.push({ id: message.id, name });
      mkdirSync(join(dir, JOURNAL), { recursive: true });
      writeFileSync(join(dir, JOURNAL, `copy-${stored.length}`), readFileSync(join(source, JOURNAL, name)));
      await writer.settled();
    }
    // The sleeper's start time, as Linux gives it (field 22 of /proc/PID/stat).
    const stat = readFileSync(`/proc/${sleeper.pid}/stat`, 'latin1');
    const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    // This process's pid space, as its journal names give it (a name without one is of an earlier version).
    const space = /n([0-9a-f]{16})(?:s\d+)?\.log$/.exec(stored[0].name)?.[1] ?? 'ffffffffffffffff';
    assert.ok(/^\d+$/.test(started), `${stored[0].name} ${started}`);
    const token = (name: string): string => /^journal-\d+-([0-9a-f]{8})/.exec(name)![1];
    // The first journal's server started at another time than the process that has its pid now.
    const reused = `journal-${sleeper.pid}-${token(stored[0].name)}n${space}s${Number(started) + 1}.log`;
    const running = `journal-${sleeper.pid}-${token(stored[1].name)}n${space}s${started}.log`;
    renameSync(join(dir, JOURNAL, 'copy-1'), join(dir, JOURNAL, reused));
    renameSync(join(dir, JOURNAL, 'copy-2'), join(dir, JOURNAL, running));
    const here = new MessageStore(dir);
    await here.init();
    assert.deepEqual((await here.list()).map((m) => m.id), [stored[0].id], 'only the journal whose server is gone is replayed');
    assert.deepEqual(journalFiles(dir), [running]);
    await here.close();
    await writer.close();
  } finally {
    sleeper.kill('SIGKILL');
    removeTempDir(source);
    removeTempDir(dir);
  }
});
