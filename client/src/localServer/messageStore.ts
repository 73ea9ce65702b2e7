/**
 * The capture server's folder of received messages. Each message is kept as `<timestamp>-<id>.eml`
 * holding exactly the message content of the mail transaction (RFC 5321 §4.1.1.4: the DATA bytes
 * after the transparency dots of §4.5.2 are removed, ending with the CRLF before the final dot),
 * and a sidecar `<timestamp>-<id>.envelope.json` with the envelope and the connection's details.
 *
 * A message is written to a hidden temporary folder first and renamed into place once complete, so
 * the folder never shows half a message. Nothing here imports `vscode`.
 *
 * Speed (issue 16): creating a file costs far more than writing one (0.5 ms each on a busy ext4
 * disk, twice per message), so a message that fits in memory is first appended to a write-ahead
 * journal (`.smtpwb-journal/`, one write to an open file) and acknowledged; its two files are
 * created off the hot path, a few at a time, through a bounded queue (a full queue makes `commit`
 * wait, so the client is slowed down rather than memory growing). The journal is emptied whenever
 * the queue drains and replayed by `init` after a crash, so an acknowledged message is never lost
 * and nothing half-written ever shows in the folder. `settled()` waits for the writes pending when
 * it is called; the capture server's list, get and read call it, so they always see every
 * acknowledged message. Nothing is fsynced (a capture server for tests, not an MTA).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, promises as fs, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writevSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FiredRule } from './captureRuleEngine';
import { HEADER_SCAN_LIMIT, parseSummaryHeaders, type SummaryHeaders } from './messageHeaders';

/** What the server knew about a message when it accepted it. */
export interface CaptureEnvelope {
  /** The reverse-path of MAIL FROM (RFC 5321 §4.1.1.2); the empty string for the null sender `<>`. */
  mailFrom: string;
  /** The forward-paths of the accepted RCPT TO commands (§4.1.1.3), in order. */
  rcptTo: string[];
  /** MAIL FROM parameters (keys upper-case, e.g. `SIZE`, `BODY`, `SMTPUTF8`); a flag has the value `true`. */
  mailParameters: Record<string, string | true>;
  /** RCPT TO parameters, one object per recipient, in the order of `rcptTo`. */
  rcptParameters: Array<Record<string, string | true>>;
  remoteAddress: string;
  remotePort: number;
  /** The name the client gave in EHLO/HELO (§4.1.1.1), or null if it gave none. */
  helo: string | null;
  /** TLS that was in force (RFC 3207 STARTTLS), or null for a cleartext session. */
  tls: { protocol: string | null; cipher: string } | null;
  /** The AUTH that succeeded (RFC 4954), or null when the client did not authenticate. */
  auth: { method: string; username: string } | null;
  /** The BODY parameter (RFC 6152): `7bit` unless the client said `8BITMIME`. */
  bodyType: '7bit' | '8bitmime';
  /** True when MAIL FROM carried SMTPUTF8 (RFC 6531 §3.4). */
  smtpUtf8: boolean;
  /** The protocol name for a Received field (RFC 3848), e.g. `ESMTPSA`. */
  transmissionType: string;
  /** When the server accepted the message (after the final dot), ISO 8601 in UTC. */
  receivedAt: string;
  /** The size of the stored message in octets. */
  size: number;
  /** How the message came: DATA (RFC 5321 §4.1.1.4) or BDAT chunks (RFC 3030). Absent in older sidecars. */
  transfer?: 'DATA' | 'BDAT';
}

/** One stored message, as the inbox lists it. */
export interface StoredMessage extends SummaryHeaders {
  /** The message's id, the part of its file name after the timestamp. */
  id: string;
  /** The absolute path of the `.eml` file. */
  path: string;
  /** The path of the sidecar JSON. */
  envelopePath: string;
  receivedAt: Date;
  size: number;
  /** Undefined only when the sidecar is missing or unreadable. */
  envelope?: CaptureEnvelope;
  /** The behaviour rules that fired in the session up to this message, when any did. */
  rules?: FiredRule[];
  /** The authentication of the message as it arrived, once verified (see captureServer's `verify`). */
  authentication?: CapturedAuthentication;
}

/** One method's verdict, as stored with a captured message. */
export interface CapturedMethodResult {
  result: string;
  /** A one-line explanation (what was checked, why it failed). */
  info: string;
}

/**
 * DKIM (RFC 6376), SPF (RFC 7208) with the connecting IP, HELO and MAIL FROM, DMARC (RFC 9989) and
 * ARC (RFC 8617) of a captured message, as the capture server saw it arrive.
 */
export interface CapturedAuthentication {
  verifiedAt: string;
  dkim: Array<CapturedMethodResult & { domain?: string; selector?: string }>;
  spf: CapturedMethodResult;
  dmarc: CapturedMethodResult;
  arc: CapturedMethodResult;
  /** The Authentication-Results field value (RFC 8601) the verifier would add. */
  authenticationResults: string;
  /** True when a method failed. */
  failed: boolean;
  /** Set when the verification itself could not run. */
  error?: string;
}

/** The sidecar's content. */
interface Sidecar {
  version: 1;
  id: string;
  file: string;
  envelope: CaptureEnvelope;
  headers: SummaryHeaders;
  rules?: FiredRule[];
  authentication?: CapturedAuthentication;
}

/** `20261123T044200123Z-<id>.eml`: a sortable UTC timestamp with milliseconds, then the id. */
const MESSAGE_FILE = /^(\d{8}T\d{9}Z)-([a-z0-9]+)\.eml$/;
const SIDECAR_SUFFIX = '.envelope.json';
const ID_PATTERN = /^[a-z0-9]+$/;
/** The hidden folder where messages are written before they are complete. */
const TEMP_FOLDER = '.smtpwb-incoming';

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

function stampToDate(text: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(text);
  if (!m) return new Date(0);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7])));
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** The envelope fields the server supplies; the store adds the time and the size. */
export type EnvelopeInput = Omit<CaptureEnvelope, 'receivedAt' | 'size'>;

/** A message being received: written to a temporary file until `commit` or `abort`. */
export interface IncomingMessage {
  /**
   * Copies the message stream to the temporary file. Bytes after `shouldStop()` turns true are
   * dropped (the server refuses an oversized message anyway, RFC 1870 §6.3), but the stream is still
   * read to its end so the session can go on.
   */
  receive(stream: Readable, shouldStop?: () => boolean): Promise<void>;
  /**
   * Accepts the message with its sidecar (and the rules that fired, if any): once this resolves
   * the message is safe (journaled or in place) and may be acknowledged; `written` resolves when
   * both files are visible in the folder (and rejects if they could not be written, in which case
   * the journal keeps the message for the next start).
   */
  commit(envelope: EnvelopeInput, rules?: FiredRule[]): Promise<CommittedMessage>;
  /** Removes the temporary file. */
  abort(): Promise<void>;
}

/** What `commit` gives back. */
export interface CommittedMessage {
  message: StoredMessage;
  /** Resolves once the `.eml` and its sidecar are in the folder. */
  written: Promise<void>;
}

/** At most this many messages, or this many octets, wait to be written; more make `commit` wait. */
const MAX_QUEUED_MESSAGES = 2000;
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/** How many messages are written at once (the thread pool has four threads). */
const WRITE_CONCURRENCY = 4;
/** The hidden folder of write-ahead journals. */
const JOURNAL_FOLDER = '.smtpwb-journal';
/** `journal-<pid>-<random>.log`: the pid tells a crashed server's journal from a running one's. */
const JOURNAL_FILE = /^journal-(\d+)-[a-z0-9]+\.log$/;
/** Each journal record: this magic, the JSON length and the message length, then both, then LF. */
const JOURNAL_MAGIC = 'SMTPWB-J1';
/** Journals that a store in this process has open, so `init` never replays a live one. */
const liveJournals = new Set<string>();

/** A message waiting to be written into the folder. */
interface WriteJob {
  base: string;
  sidecarText: string;
  content: Buffer;
  done: () => void;
  failed: (error: Error) => void;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The complete records of a journal; a torn last record (a crash while appending) was never acknowledged and is dropped. */
export function parseJournal(bytes: Buffer): Array<{ base: string; sidecarText: string; content: Buffer }> {
  const records: Array<{ base: string; sidecarText: string; content: Buffer }> = [];
  let at = 0;
  while (at < bytes.length) {
    const lineEnd = bytes.indexOf(0x0a, at);
    if (lineEnd < 0) break;
    const m = /^SMTPWB-J1 (\d+) (\d+)$/.exec(bytes.subarray(at, lineEnd).toString('latin1'));
    if (!m) break;
    const jsonEnd = lineEnd + 1 + Number(m[1]);
    const end = jsonEnd + Number(m[2]);
    if (end + 1 > bytes.length || bytes[end] !== 0x0a) break;
    try {
      const head = JSON.parse(bytes.subarray(lineEnd + 1, jsonEnd).toString('utf8')) as { base?: unknown; sidecarText?: unknown };
      if (typeof head.base === 'string' && /^\d{8}T\d{9}Z-[a-z0-9]+$/.test(head.base) && typeof head.sidecarText === 'string') {
        records.push({ base: head.base, sidecarText: head.sidecarText, content: bytes.subarray(jsonEnd, end) });
      }
    } catch {
      break;
    }
    at = end + 1;
  }
  return records;
}

/** Messages up to this size are kept in memory until they are complete; larger ones go to disk as they come. */
const IN_MEMORY_LIMIT = 1024 * 1024;

/**
 * The end of the receiving pipeline: keeps the message in memory while it is small, and spills it
 * to the temporary file (created only then) once it grows past IN_MEMORY_LIMIT.
 */
class SpillWriter extends Writable {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private file: fs.FileHandle | undefined;
  private fileClosed = false;

  constructor(
    private readonly tempDir: string,
    private readonly tempPath: string,
  ) {
    super();
  }

  get inMemory(): boolean {
    return this.file === undefined;
  }

  content(): Buffer {
    return Buffer.concat(this.chunks, this.buffered);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeChunk(chunk).then(() => callback(), callback);
  }

  private async writeChunk(chunk: Buffer): Promise<void> {
    if (this.file) {
      await this.file.write(chunk);
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered <= IN_MEMORY_LIMIT) return;
    // The folder may have been removed while the server ran.
    await fs.mkdir(this.tempDir, { recursive: true });
    this.file = await fs.open(this.tempPath, 'wx');
    await this.file.write(this.content());
    this.chunks = [];
    this.buffered = 0;
  }

  override _final(callback: (error?: Error | null) => void): void {
    (this.file ? this.file.close() : Promise.resolve()).then(() => {
      this.fileClosed = true;
      callback();
    }, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const file = this.file;
    if (!file || this.fileClosed) {
      callback(error);
      return;
    }
    this.fileClosed = true;
    file.close().then(
      () => callback(error),
      () => callback(error),
    );
  }
}

/** Writes `data` to `temp` (created new) and renames it to `target`; makes the temporary folder if it is gone. */
function writeThroughTempSync(tempDir: string, temp: string, target: string, data: string | Buffer): void {
  try {
    writeFileSync(temp, data, { flag: 'wx' });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    mkdirSync(tempDir, { recursive: true });
    writeFileSync(temp, data, { flag: 'wx' });
  }
  renameSync(temp, target);
}

/** The asynchronous twin of writeThroughTempSync, for writes off the hot path. */
async function writeThroughTemp(tempDir: string, temp: string, target: string, data: string | Buffer): Promise<void> {
  try {
    await fs.writeFile(temp, data, { flag: 'wx' });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await fs.mkdir(tempDir, { recursive: true });
    await fs.writeFile(temp, data, { flag: 'wx' });
  }
  await fs.rename(temp, target);
}

export class MessageStore {
  readonly dir: string;
  readonly tempDir: string;
  readonly journalDir: string;
  private journalPath: string | undefined;
  private journalFd: number | undefined;
  /** The journal's length, so a torn append can be cut off again. */
  private journalSize = 0;
  /** Set when a write failed: the journal then stays for the next start to replay. */
  private keepJournal = false;
  private readonly queue: WriteJob[] = [];
  private queuedBytes = 0;
  private writing = 0;
  /** Each message not yet in the folder, by id. */
  private readonly unwritten = new Map<string, Promise<void>>();
  /** Settles after the last queued message is written (or failed). */
  private lastWritten: Promise<void> = Promise.resolve();
  /** Called whenever a write finishes, to wake `commit`s held back by a full queue. */
  private readonly roomWaiters: Array<() => void> = [];

  constructor(dir: string) {
    this.dir = dir;
    this.tempDir = join(dir, TEMP_FOLDER);
    this.journalDir = join(dir, JOURNAL_FOLDER);
  }

  /**
   * Creates the folder, writes the messages of journals that a crashed server left behind, and
   * removes temporary files an earlier run left behind over an hour ago.
   */
  async init(): Promise<void> {
    await fs.mkdir(this.tempDir, { recursive: true });
    this.replayJournals();
    const hourAgo = Date.now() - 60 * 60 * 1000;
    for (const name of await fs.readdir(this.tempDir).catch(() => [] as string[])) {
      const path = join(this.tempDir, name);
      const stat = await fs.stat(path).catch(() => undefined);
      if (stat && stat.mtimeMs < hourAgo) await fs.rm(path, { force: true }).catch(() => undefined);
    }
  }

  /** Waits until every message accepted before this call is in the folder (written or failed). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.unwritten.values()]);
  }

  /** Waits for the pending writes, then closes the journal (and removes it unless a write failed). */
  async close(): Promise<void> {
    while (this.unwritten.size > 0) await this.settled();
    this.closeJournal();
  }

  private closeJournal(): void {
    if (this.journalFd === undefined || this.journalPath === undefined) return;
    closeSync(this.journalFd);
    liveJournals.delete(this.journalPath);
    if (!this.keepJournal) rmSync(this.journalPath, { force: true });
    this.journalFd = undefined;
    this.journalPath = undefined;
    this.journalSize = 0;
  }

  /** Writes the messages of journals whose server is gone (crashed before writing them). */
  private replayJournals(): void {
    let names: string[];
    try {
      names = readdirSync(this.journalDir);
    } catch {
      return;
    }
    for (const name of names) {
      const m = JOURNAL_FILE.exec(name);
      const path = join(this.journalDir, name);
      if (!m || liveJournals.has(path)) continue;
      const pid = Number(m[1]);
      if (pid !== process.pid && processAlive(pid)) continue;
      const present = new Set(readdirSync(this.dir));
      for (const record of parseJournal(readFileSync(path))) {
        if (present.has(`${record.base}.eml`)) continue;
        const id = record.base.slice(record.base.indexOf('-') + 1);
        writeThroughTempSync(this.tempDir, join(this.tempDir, `${id}.envelope.part`), join(this.dir, `${record.base}${SIDECAR_SUFFIX}`), record.sidecarText);
        writeThroughTempSync(this.tempDir, join(this.tempDir, `${id}.part`), join(this.dir, `${record.base}.eml`), record.content);
      }
      rmSync(path, { force: true });
    }
  }

  /** Appends a record to this store's journal (opened on first use); throws when the disk refuses it. */
  private appendJournal(base: string, sidecarText: string, content: Buffer): void {
    if (this.journalFd === undefined) {
      mkdirSync(this.journalDir, { recursive: true });
      const path = join(this.journalDir, `journal-${process.pid}-${randomBytes(4).toString('hex')}.log`);
      this.journalFd = openSync(path, 'a');
      this.journalPath = path;
      this.journalSize = 0;
      liveJournals.add(path);
    }
    const head = Buffer.from(JSON.stringify({ base, sidecarText }), 'utf8');
    const parts = [Buffer.from(`${JOURNAL_MAGIC} ${head.length} ${content.length}\n`, 'latin1'), head, content, Buffer.from('\n', 'latin1')];
    const total = parts.reduce((n, p) => n + p.length, 0);
    try {
      const written = writevSync(this.journalFd, parts);
      if (written !== total) throw new Error(`the journal took ${written} of ${total} octets`);
    } catch (error) {
      // Cut a torn record off, so the next append starts on a record boundary.
      try {
        ftruncateSync(this.journalFd, this.journalSize);
      } catch {
        this.keepJournal = true;
      }
      throw error;
    }
    this.journalSize += total;
  }

  /** Queues a journaled message for writing; resolves when both its files are in the folder. */
  private enqueue(id: string, base: string, sidecarText: string, content: Buffer): Promise<void> {
    const own = new Promise<void>((done, failed) => {
      this.queue.push({ base, sidecarText, content, done, failed });
    });
    // Messages become visible (and their events fire) in the order they were accepted.
    const previous = this.lastWritten;
    const written = Promise.all([own, previous]).then(() => undefined);
    this.lastWritten = written.catch(() => undefined);
    this.queuedBytes += content.length;
    this.unwritten.set(id, written);
    const forget = (): void => {
      this.unwritten.delete(id);
    };
    written.then(forget, forget);
    this.pump();
    return written;
  }

  private pump(): void {
    while (this.writing < WRITE_CONCURRENCY && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.writing++;
      void this.writeJob(job).then(
        () => this.finished(job, undefined),
        (error: unknown) => this.finished(job, error instanceof Error ? error : new Error(String(error))),
      );
    }
  }

  private async writeJob(job: WriteJob): Promise<void> {
    const id = job.base.slice(job.base.indexOf('-') + 1);
    const sidecarTemp = join(this.tempDir, `${id}.envelope.part`);
    const emlTemp = join(this.tempDir, `${id}.part`);
    const envelopePath = join(this.dir, `${job.base}${SIDECAR_SUFFIX}`);
    try {
      // The sidecar first, so a listed message always has its envelope.
      await writeThroughTemp(this.tempDir, sidecarTemp, envelopePath, job.sidecarText);
      await writeThroughTemp(this.tempDir, emlTemp, join(this.dir, `${job.base}.eml`), job.content);
    } catch (error) {
      // A full disk, say: nothing of this message shows; the journal keeps it for the next start.
      await fs.rm(sidecarTemp, { force: true }).catch(() => undefined);
      await fs.rm(envelopePath, { force: true }).catch(() => undefined);
      await fs.rm(emlTemp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  private finished(job: WriteJob, error: Error | undefined): void {
    this.writing--;
    this.queuedBytes -= job.content.length;
    if (error) {
      this.keepJournal = true;
      job.failed(error);
    } else job.done();
    // Everything journaled is in the folder now: the journal can start afresh.
    if (this.writing === 0 && this.queue.length === 0 && !this.keepJournal && this.journalFd !== undefined && this.journalSize > 0) {
      try {
        ftruncateSync(this.journalFd, 0);
        this.journalSize = 0;
      } catch {
        this.keepJournal = true;
      }
    }
    for (const wake of this.roomWaiters.splice(0)) wake();
    this.pump();
  }

  /** Waits while the queue is full. */
  private async room(size: number): Promise<void> {
    while (this.queue.length + this.writing >= MAX_QUEUED_MESSAGES || (this.queuedBytes > 0 && this.queuedBytes + size > MAX_QUEUED_BYTES)) {
      await new Promise<void>((wake) => this.roomWaiters.push(wake));
    }
  }

  /** Starts receiving a message. */
  begin(): IncomingMessage {
    const id = randomBytes(6).toString('hex');
    const tempPath = join(this.tempDir, `${id}.part`);
    let size = 0;
    let head = Buffer.alloc(0);
    let finished = false;
    let spill: SpillWriter | undefined;
    const store = this;
    return {
      async receive(stream: Readable, shouldStop: () => boolean = () => false): Promise<void> {
        const sink = new Transform({
          transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
            if (shouldStop()) {
              callback();
              return;
            }
            if (head.length < HEADER_SCAN_LIMIT) head = Buffer.concat([head, chunk.subarray(0, HEADER_SCAN_LIMIT - head.length)]);
            size += chunk.length;
            callback(null, chunk);
          },
        });
        spill = new SpillWriter(store.tempDir, tempPath);
        await pipeline(stream, sink, spill);
      },
      async commit(input: EnvelopeInput, rules?: FiredRule[]): Promise<CommittedMessage> {
        if (finished) throw new Error('message already committed or aborted');
        finished = true;
        if (spill?.inMemory) await store.room(size);
        const receivedAt = new Date();
        const base = `${stamp(receivedAt)}-${id}`;
        const path = join(store.dir, `${base}.eml`);
        const envelopePath = join(store.dir, `${base}${SIDECAR_SUFFIX}`);
        const envelope: CaptureEnvelope = { ...input, receivedAt: receivedAt.toISOString(), size };
        const headers = parseSummaryHeaders(head);
        const sidecar: Sidecar = { version: 1, id, file: `${base}.eml`, envelope, headers, ...(rules ? { rules } : {}) };
        const sidecarText = `${JSON.stringify(sidecar, null, 2)}\n`;
        const message: StoredMessage = { id, path, envelopePath, receivedAt, size, envelope, ...(rules ? { rules } : {}), ...headers };
        if (spill?.inMemory) {
          // One append to the open journal makes the message safe; its files come off the hot path.
          const content = spill.content();
          store.appendJournal(base, sidecarText, content);
          return { message, written: store.enqueue(id, base, sidecarText, content) };
        }
        // A large message is on disk already: its sidecar is written and both are renamed into place.
        const sidecarTemp = join(store.tempDir, `${id}.envelope.part`);
        try {
          await fs.writeFile(sidecarTemp, sidecarText);
          await fs.rename(sidecarTemp, envelopePath);
          await fs.rename(tempPath, path);
        } catch (error) {
          // A full disk, say: nothing of this message stays, in the folder or beside it.
          await fs.rm(sidecarTemp, { force: true }).catch(() => undefined);
          await fs.rm(envelopePath, { force: true }).catch(() => undefined);
          await fs.rm(tempPath, { force: true }).catch(() => undefined);
          throw error;
        }
        return { message, written: Promise.resolve() };
      },
      async abort(): Promise<void> {
        finished = true;
        await fs.rm(tempPath, { force: true });
      },
    };
  }

  /** All stored messages, newest first. */
  async list(): Promise<StoredMessage[]> {
    await this.settled();
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const messages = await Promise.all(names.filter((n) => MESSAGE_FILE.test(n)).map((n) => this.load(n)));
    return messages
      .filter((m): m is StoredMessage => m !== undefined)
      .sort((a, b) => b.receivedAt.getTime() - a.receivedAt.getTime() || (basename(b.path) < basename(a.path) ? -1 : 1));
  }

  /** The message with this id, or undefined. */
  async get(id: string): Promise<StoredMessage | undefined> {
    const name = await this.fileOf(id);
    return name === undefined ? undefined : this.load(name);
  }

  /** The stored bytes of a message. */
  async read(id: string): Promise<Buffer> {
    const name = await this.fileOf(id);
    if (name === undefined) throw new Error(`no message with id "${id}"`);
    return fs.readFile(join(this.dir, name));
  }

  /**
   * Adds the authentication results to a stored message's sidecar (written whole under a temporary
   * name, then renamed). Reports false when the message is gone meanwhile.
   */
  async annotate(id: string, authentication: CapturedAuthentication): Promise<boolean> {
    const name = await this.fileOf(id);
    if (name === undefined) return false;
    const envelopePath = join(this.dir, `${name.slice(0, -'.eml'.length)}${SIDECAR_SUFFIX}`);
    const sidecar = await readSidecar(envelopePath);
    if (sidecar === undefined) return false;
    const temp = join(this.tempDir, `${id}.annotate.part`);
    await fs.mkdir(this.tempDir, { recursive: true });
    await fs.writeFile(temp, `${JSON.stringify({ ...sidecar, authentication }, null, 2)}\n`);
    await fs.rename(temp, envelopePath);
    return true;
  }

  /** Deletes a message and its sidecar; reports whether it existed. */
  async delete(id: string): Promise<boolean> {
    const name = await this.fileOf(id);
    if (name === undefined) return false;
    await this.remove(name);
    return true;
  }

  /** Deletes every stored message; returns how many there were. */
  async clear(): Promise<number> {
    await this.settled();
    const names = (await fs.readdir(this.dir).catch(() => [] as string[])).filter((n) => MESSAGE_FILE.test(n));
    await Promise.all(names.map((n) => this.remove(n)));
    // Sidecars whose message is gone already.
    for (const name of await fs.readdir(this.dir).catch(() => [] as string[])) {
      if (name.endsWith(SIDECAR_SUFFIX) && MESSAGE_FILE.test(`${name.slice(0, -SIDECAR_SUFFIX.length)}.eml`)) {
        await fs.rm(join(this.dir, name), { force: true });
      }
    }
    return names.length;
  }

  private async remove(name: string): Promise<void> {
    const base = name.slice(0, -'.eml'.length);
    await fs.rm(join(this.dir, name), { force: true });
    await fs.rm(join(this.dir, `${base}${SIDECAR_SUFFIX}`), { force: true });
  }

  /** Finds the file name of an id; ids are checked, so no path can escape the folder. */
  private async fileOf(id: string): Promise<string | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    // An acknowledged message still on its way into the folder is waited for.
    await this.unwritten.get(id)?.catch(() => undefined);
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    return names.find((n) => MESSAGE_FILE.exec(n)?.[2] === id);
  }

  private async load(name: string): Promise<StoredMessage | undefined> {
    const m = MESSAGE_FILE.exec(name);
    if (!m) return undefined;
    const base = name.slice(0, -'.eml'.length);
    const path = join(this.dir, name);
    const envelopePath = join(this.dir, `${base}${SIDECAR_SUFFIX}`);
    const sidecar = await readSidecar(envelopePath);
    if (sidecar !== undefined) {
      return {
        id: m[2],
        path,
        envelopePath,
        receivedAt: new Date(sidecar.envelope.receivedAt),
        size: sidecar.envelope.size,
        envelope: sidecar.envelope,
        ...(sidecar.rules ? { rules: sidecar.rules } : {}),
        ...(sidecar.authentication ? { authentication: sidecar.authentication } : {}),
        ...sidecar.headers,
      };
    }
    // No sidecar (removed by hand, say): show what the file itself says.
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(path, 'r');
      const stat = await handle.stat();
      const buffer = Buffer.alloc(Math.min(stat.size, HEADER_SCAN_LIMIT));
      await handle.read(buffer, 0, buffer.length, 0);
      return { id: m[2], path, envelopePath, receivedAt: stampToDate(m[1]), size: stat.size, ...parseSummaryHeaders(buffer) };
    } catch (error) {
      // Deleted while we looked.
      if (isNotFound(error)) return undefined;
      throw error;
    } finally {
      await handle?.close();
    }
  }
}

async function readSidecar(path: string): Promise<Sidecar | undefined> {
  try {
    const value = JSON.parse(await fs.readFile(path, 'utf8')) as Partial<Sidecar> | null;
    if (value === null || typeof value !== 'object' || value.version !== 1 || typeof value.envelope !== 'object' || value.envelope === null) {
      return undefined;
    }
    return {
      version: 1,
      id: String(value.id),
      file: String(value.file),
      envelope: value.envelope,
      headers: value.headers ?? {},
      ...(Array.isArray(value.rules) ? { rules: value.rules } : {}),
      ...(value.authentication && typeof value.authentication === 'object' ? { authentication: value.authentication } : {}),
    };
  } catch {
    return undefined;
  }
}
