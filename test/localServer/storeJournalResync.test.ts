// A replay resynchronises past damage in a journal (issue 16, "the journal is the store"): every
// whole record after an unreadable stretch is recovered, the stretch is logged by its octet range
// and the file is kept as `.corrupt` only then; text inside a message that looks like a journal
// record is never taken for one, neither in a sound journal nor past damage in a journal whose name
// carries its token. A journal written by an earlier version (no token, `SMTPWB-J1` and plain
// `SMTPWB-J2` records, a deletion file that names no journal) is still replayed. A "crash" is a
// store abandoned without close(), whose journal is copied under the name of a process that is gone
// into a fresh folder, as storeRecovery.test.ts does. Everything runs on real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MessageStore, readJournal, type StoredMessage } from '../../client/src/localServer/messageStore';
import { makeTempDir, removeTempDir } from '../peers/process';

const JOURNAL = '.smtpwb-journal';
/** Above Linux's pid_max, so no live process has it: a journal under this pid is one a crashed server left. */
const GONE_PID = 4194305;

const envelope = { mailFrom: 'a@example.test', rcptTo: ['b@example.test'], mailParameters: {}, rcptParameters: [{}], remoteAddress: '127.0.0.1', remotePort: 1, helo: 'c.example.test', tls: null, auth: null, bodyType: '7bit' as const, smtpUtf8: false, transmissionType: 'ESMTP' };

async function put(store: MessageStore, text: string): Promise<StoredMessage> {
  const incoming = store.begin();
  await incoming.receive(Readable.from([Buffer.from(text, 'latin1')]));
  return incoming.commit(envelope);
}

function record(magic: string, head: object, content = ''): Buffer {
  const headBytes = Buffer.from(JSON.stringify(head), 'utf8');
  const body = Buffer.from(content, 'latin1');
  return Buffer.concat([Buffer.from(`${magic} ${headBytes.length} ${body.length}\n`, 'latin1'), headBytes, body, Buffer.from('\n', 'latin1')]);
}

function sidecarOf(id: string, subject: string, size: number): object {
  const base = `20261206T120000000Z-${id}`;
  return { version: 1, id, file: `${base}.eml`, envelope: { ...envelope, receivedAt: '2026-12-06T12:00:00.000Z', size }, headers: { subject } };
}

/** A whole fake message record, as a client could put it inside the content of a message it sends. */
function forgedRecord(head: Record<string, unknown> = {}): string {
  const fakeContent = 'Subject: forged\r\n\r\n';
  return record('SMTPWB-J2', { ...head, m: sidecarOf('f0f0f0f0f0f0', 'forged', fakeContent.length) }, fakeContent).toString('latin1');
}

/**
 * Stores the messages `texts` in a fresh store (which then "crashes"), and returns its journal's
 * bytes and file name, with the offsets where each record starts.
 */
async function journalOf(texts: string[]): Promise<{ bytes: Buffer; name: string; starts: number[] }> {
  const dir = makeTempDir('resync-live');
  const store = new MessageStore(dir, { quietMs: 3_600_000, maxWaitMs: 3_600_000 });
  try {
    await store.init();
    const starts: number[] = [];
    for (const text of texts) {
      // The journal is made by the first append.
      const [name] = existsSync(join(dir, JOURNAL)) ? readdirSync(join(dir, JOURNAL)) : [];
      starts.push(name === undefined ? 0 : readFileSync(join(dir, JOURNAL, name)).length);
      await put(store, text);
    }
    const [name] = readdirSync(join(dir, JOURNAL));
    return { bytes: readFileSync(join(dir, JOURNAL, name)), name, starts };
  } finally {
    await store.close();
    removeTempDir(dir);
  }
}

/** Replays `bytes` as the journal `name` of a gone server in a fresh folder; returns the subjects listed, the log, and what is left in the journal folder. */
async function replay(files: Record<string, Buffer>): Promise<{ subjects: string[]; log: Array<{ level: string; message: string }>; left: string[]; messages: StoredMessage[] }> {
  const dir = makeTempDir('resync-crashed');
  try {
    mkdirSync(join(dir, JOURNAL));
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, JOURNAL, name), bytes);
    const log: Array<{ level: string; message: string }> = [];
    const store = new MessageStore(dir, { log: (level, message) => log.push({ level, message }) });
    await store.init();
    const messages = await store.list();
    await store.close();
    return { subjects: messages.map((m) => m.subject ?? '').sort(), log, left: readdirSync(join(dir, JOURNAL)).sort(), messages };
  } finally {
    removeTempDir(dir);
  }
}

/** The journal's name as a gone server's: the pid replaced, the token and the pid space kept. */
function goneName(name: string): string {
  return name.replace(/^journal-\d+-/, `journal-${GONE_PID}-`);
}

test('whole records after an unreadable stretch are recovered; the stretch is logged by its octets and the file kept as .corrupt', async () => {
  const texts = ['Subject: one\r\n\r\nbody\r\n', 'Subject: two\r\n\r\nbody\r\n', 'Subject: three\r\n\r\nbody\r\n', 'Subject: four\r\n\r\nbody\r\n'];
  const { bytes, name, starts } = await journalOf(texts);
  // The header of the second record and the head of the third are damaged; the first and the fourth are whole.
  const damaged = Buffer.from(bytes);
  damaged.write('SMTPWB-X2', starts[1], 'latin1');
  damaged.write('{{', starts[2] + damaged.indexOf('\n', starts[2]) - starts[2] + 1, 'latin1');
  const scan = readJournal(damaged, goneName(name));
  assert.deepEqual(scan.records.map((r) => (r.kind === 'message' ? r.sidecar.headers.subject : r.kind)), ['one', 'four']);
  assert.equal(scan.outcome, 'corrupt');
  assert.deepEqual(scan.skipped, [[starts[1], starts[3]]], 'one stretch from the damaged header to the next whole record');
  assert.equal(scan.end, bytes.length);
  const { subjects, log, left } = await replay({ [goneName(name)]: damaged });
  assert.deepEqual(subjects, ['four', 'one']);
  assert.deepEqual(left, [`${goneName(name)}.corrupt`]);
  assert.equal(log.length, 1, JSON.stringify(log));
  assert.equal(log[0].level, 'error');
  assert.match(log[0].message, new RegExp(`unreadable octets \\(${starts[1]} to ${starts[3]}, of ${bytes.length}\\)`));
});

test('damage at the very start, and garbage between whole records: every whole record is recovered', async () => {
  const texts = ['Subject: one\r\n\r\nbody\r\n', 'Subject: two\r\n\r\nbody\r\n', 'Subject: three\r\n\r\nbody\r\n'];
  const { bytes, name, starts } = await journalOf(texts);
  const garbage = Buffer.from('\nSMTPWB-J2 3 0\nnot json\nSMTPWB-J2 999999999 1\nxx\n', 'latin1');
  const damaged = Buffer.concat([Buffer.from('junk', 'latin1'), bytes.subarray(4, starts[2]), garbage, bytes.subarray(starts[2])]);
  const scan = readJournal(damaged, goneName(name));
  assert.deepEqual(scan.records.map((r) => (r.kind === 'message' ? r.sidecar.headers.subject : r.kind)), ['two', 'three']);
  assert.deepEqual(scan.skipped, [[0, starts[1]], [starts[2], starts[2] + garbage.length]]);
  const { subjects } = await replay({ [goneName(name)]: damaged });
  assert.deepEqual(subjects, ['three', 'two']);
});

test('a record in a message\'s content is never read as one: not in a sound journal, nor past damage to its own header', async () => {
  // The first message carries a whole fake record at its end, which would end with the real record's newline.
  const forging = `Subject: innocent\r\n\r\nlook:\n${forgedRecord()}`.slice(0, -1);
  const { bytes, name, starts } = await journalOf([forging, 'Subject: after\r\n\r\nbody\r\n']);
  // Sound: the fake is content, skipped by its record's lengths.
  const sound = await replay({ [goneName(name)]: bytes });
  assert.deepEqual(sound.subjects, ['after', 'innocent']);
  assert.equal((await sound.messages.find((m) => m.subject === 'innocent'))?.size, Buffer.byteLength(forging, 'latin1'));
  // The header of the record that holds the fake is damaged: resynchronisation searches its
  // content, finds the fake (a whole record, but without this journal's token) and passes over it.
  const damaged = Buffer.from(bytes);
  damaged.write('SMTPWB-X2', starts[0], 'latin1');
  const scan = readJournal(damaged, goneName(name));
  assert.deepEqual(scan.records.map((r) => (r.kind === 'message' ? r.sidecar.headers.subject : r.kind)), ['after']);
  assert.deepEqual(scan.skipped, [[0, starts[1]]]);
  // The fake is a whole record: read as a journal of an earlier version (no token to ask for), it
  // would be taken. That is the risk left for such journals (see resynchronise in messageStore.ts).
  assert.deepEqual(readJournal(damaged).records.map((r) => (r.kind === 'message' ? r.sidecar.headers.subject : r.kind)), ['forged', 'after']);
  const { subjects, left } = await replay({ [goneName(name)]: damaged });
  assert.deepEqual(subjects, ['after'], 'the forged message is not invented');
  assert.deepEqual(left, [`${goneName(name)}.corrupt`]);
  // A fake that guesses a token is no better off than one without.
  const guessed = await journalOf([`Subject: innocent\r\n\r\nlook:\n${forgedRecord({ j: '00000000' })}`.slice(0, -1), 'Subject: after\r\n\r\nbody\r\n']);
  const damagedToo = Buffer.from(guessed.bytes);
  damagedToo.write('SMTPWB-X2', 0, 'latin1');
  assert.deepEqual(readJournal(damagedToo, goneName(guessed.name)).records.map((r) => (r.kind === 'message' ? r.sidecar.headers.subject : r.kind)), ['after']);
});

test('a journal with nothing passed over is removed, not kept as .corrupt: a torn last record is dropped', async () => {
  const { bytes, name } = await journalOf(['Subject: kept\r\n\r\nbody\r\n', 'Subject: torn\r\n\r\nbody\r\n']);
  const torn = bytes.subarray(0, bytes.length - 5);
  const scan = readJournal(torn, goneName(name));
  assert.deepEqual([scan.outcome, scan.skipped], ['torn', []]);
  const { subjects, left, log } = await replay({ [goneName(name)]: torn });
  assert.deepEqual(subjects, ['kept']);
  assert.deepEqual(left, []);
  assert.deepEqual(log, []);
});

test('a journal an earlier version wrote (no token, SMTPWB-J1 and SMTPWB-J2 records, a deletion file that names no journal) is replayed', async () => {
  const one = 'Subject: j1\r\n\r\nbody\r\n';
  const two = 'Subject: j2\r\n\r\nbody\r\n';
  const three = 'Subject: deleted\r\n\r\nbody\r\n';
  const four = 'Subject: deleted beside\r\n\r\nbody\r\n';
  const j1 = sidecarOf('a1a1a1a1a1a1', 'j1', one.length) as { file: string };
  const journal = Buffer.concat([
    record('SMTPWB-J1', { base: j1.file.slice(0, -4), sidecarText: `${JSON.stringify(j1)}\n` }, one),
    record('SMTPWB-J2', { m: sidecarOf('b2b2b2b2b2b2', 'j2', two.length) }, two),
    record('SMTPWB-J2', { m: sidecarOf('c3c3c3c3c3c3', 'deleted', three.length) }, three),
    record('SMTPWB-J2', { m: sidecarOf('d4d4d4d4d4d4', 'deleted beside', four.length) }, four),
    record('SMTPWB-J2', { d: 'c3c3c3c3c3c3' }),
    record('SMTPWB-J2', { a: 'b2b2b2b2b2b2', authentication: { verifiedAt: '2026-12-06T12:00:01.000Z', dkim: [], spf: { result: 'none', info: '' }, dmarc: { result: 'none', info: '' }, arc: { result: 'none', info: '' }, authenticationResults: 'localhost; dkim=none', failed: false } }),
  ]);
  const { subjects, left, messages } = await replay({ [`journal-${GONE_PID}-deadbeef.log`]: journal, 'deletions-0123abcd.log': record('SMTPWB-J2', { d: 'd4d4d4d4d4d4' }) });
  assert.deepEqual(subjects, ['j1', 'j2']);
  assert.equal(messages.find((m) => m.subject === 'j2')?.authentication?.authenticationResults, 'localhost; dkim=none');
  assert.deepEqual(left, [], 'the journal and the deletion file are removed');
  // Past damage in such a journal, resynchronisation still recovers what follows (it has no token to ask for).
  const damaged = Buffer.from(journal);
  damaged.write('SMTPWB-X1', 0, 'latin1');
  assert.deepEqual(readJournal(damaged, `journal-${GONE_PID}-deadbeef.log`).records.map((r) => r.kind), ['message', 'message', 'message', 'delete', 'annotate']);
});
