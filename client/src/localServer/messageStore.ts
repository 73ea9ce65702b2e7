/**
 * The capture server's folder of received messages. Each message ends up as `<timestamp>-<id>.eml`
 * holding exactly the message content of the mail transaction (RFC 5321 §4.1.1.4: the DATA bytes
 * after the transparency dots of §4.5.2 are removed, ending with the CRLF before the final dot),
 * and a sidecar `<timestamp>-<id>.envelope.json` with the envelope and the connection's details.
 *
 * Speed (issue 16): creating a file costs far more than appending to one (0.3 to 0.5 ms each on a
 * busy disk, twice per message), so the store of record is an append-only journal
 * (`.smtpwb-journal/`, one file that stays open): a message that fits in memory is stored by one
 * append of one record, and acknowledged. The store lists and reads it from the journal at once;
 * its two files are written once the SMTP side is quiet (or when a caller lists or gets it, or when
 * it has waited too long), each under a temporary name and renamed, so the folder never shows half
 * a message. Deletions and verification results of journaled messages are journaled too. The
 * journal is emptied once every message in it is in the folder, and replayed by `init` after a
 * crash (a torn last record was never acknowledged and is dropped). A full disk is reported as an
 * ENOSPC error from `commit` with the journal cut back to its last whole record. Nothing is fsynced:
 * an acknowledged message survives the process dying, not the machine losing power. Nothing here
 * imports `vscode`.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, promises as fs, readdirSync, readFileSync, readSync, renameSync, rmSync, writeFileSync, writevSync } from 'node:fs';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
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

/** A message being received: kept in memory (or, over 1 MiB, in a temporary file) until `commit` or `abort`. */
export interface IncomingMessage {
  /**
   * Reads the message stream, into memory while it is small and into a temporary file once it
   * grows past 1 MiB. Bytes after `shouldStop()` turns true are
   * dropped (the server refuses an oversized message anyway, RFC 1870 §6.3), but the stream is still
   * read to its end so the session can go on.
   */
  receive(stream: Readable, shouldStop?: () => boolean): Promise<void>;
  /**
   * Stores the message with its sidecar (and the rules that fired, if any). Once this resolves the
   * message is stored (journaled, or in the folder when it was large) and may be acknowledged;
   * listing and reading see it at once. Throws when the disk refuses it (see
   * `isStorageFull`), with nothing of the message left behind.
   */
  commit(envelope: EnvelopeInput, rules?: FiredRule[]): Promise<StoredMessage>;
  /** Drops the message and removes its temporary file, if it has one. */
  abort(): Promise<void>;
}

/** How long the SMTP side must be quiet before journaled messages are written out as files. */
const IDLE_MS = 25;
/** How many files are written at once while exporting (the thread pool has four threads). */
const EXPORT_CONCURRENCY = 4;
/** A journaled message that has waited this long gets its files even while messages keep coming. */
const STARVATION_MS = 1000;
/** Beyond this many journaled messages waiting, they are written out even while messages keep coming. */
const MAX_PENDING = 20000;
/** After a failed export (a full disk, say), the next try waits this long. */
const RETRY_MS = 1000;
/** The hidden folder of write-ahead journals. */
const JOURNAL_FOLDER = '.smtpwb-journal';
/** `journal-<pid>-<random>.log`: the pid tells a crashed server's journal from a running one's. */
const JOURNAL_FILE = /^journal-(\d+)-[a-z0-9]+\.log$/;
/**
 * Each journal record: `SMTPWB-J2 <head length> <content length>` and LF, the head (JSON), the
 * content, LF. The head is `{"m": sidecar}` for a message (the content is the message),
 * `{"d": id}` for a deletion and `{"a": id, "authentication": ...}` for verification results.
 * `SMTPWB-J1` records (head `{base, sidecarText}`) from earlier versions are still read.
 */
const JOURNAL_MAGIC = 'SMTPWB-J2';
const BASE_PATTERN = /^\d{8}T\d{9}Z-[a-z0-9]+$/;
/** Stores that keep a journal open, by folder: other stores of this process on that folder ask them. */
const liveStores = new Map<string, MessageStore>();

/** One complete record of a journal. */
export type JournalRecord =
  | { kind: 'message'; base: string; sidecar: Sidecar; content: Buffer }
  | { kind: 'delete'; id: string }
  | { kind: 'annotate'; id: string; authentication: CapturedAuthentication };

/** A journaled message whose files are not in the folder yet. */
interface PendingMessage {
  base: string;
  message: StoredMessage;
  sidecar: Sidecar;
  /** When it was journaled (performance.now()). */
  queuedAt: number;
  /** Where its content starts in the journal, and how long it is. */
  offset: number;
  length: number;
  /** Set while its files are being written. */
  exporting?: Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isSidecar(value: unknown): value is Sidecar {
  const v = value as Partial<Sidecar> | null;
  return typeof v === 'object' && v !== null && v.version === 1 && typeof v.id === 'string' && typeof v.file === 'string' && typeof v.envelope === 'object' && v.envelope !== null;
}

/** The record a journal head describes, or undefined for a head this version does not know. */
function journalRecord(magic: string, head: unknown, content: Buffer): JournalRecord | undefined {
  if (typeof head !== 'object' || head === null) return undefined;
  const h = head as Record<string, unknown>;
  if (magic === 'SMTPWB-J1') {
    if (typeof h.base !== 'string' || typeof h.sidecarText !== 'string' || !BASE_PATTERN.test(h.base)) return undefined;
    const sidecar = JSON.parse(h.sidecarText) as unknown;
    return isSidecar(sidecar) ? { kind: 'message', base: h.base, sidecar, content } : undefined;
  }
  if (isSidecar(h.m)) {
    const base = h.m.file.slice(0, -'.eml'.length);
    return BASE_PATTERN.test(base) && h.m.file.endsWith('.eml') ? { kind: 'message', base, sidecar: h.m, content } : undefined;
  }
  if (typeof h.d === 'string' && ID_PATTERN.test(h.d)) return { kind: 'delete', id: h.d };
  if (typeof h.a === 'string' && ID_PATTERN.test(h.a) && typeof h.authentication === 'object' && h.authentication !== null) {
    return { kind: 'annotate', id: h.a, authentication: h.authentication as CapturedAuthentication };
  }
  return undefined;
}

/** The complete records of a journal; a torn last record (a crash while appending) was never acknowledged and is dropped. */
export function parseJournal(bytes: Buffer): JournalRecord[] {
  const records: JournalRecord[] = [];
  let at = 0;
  while (at < bytes.length) {
    const lineEnd = bytes.indexOf(0x0a, at);
    if (lineEnd < 0) break;
    const m = /^(SMTPWB-J[12]) (\d+) (\d+)$/.exec(bytes.subarray(at, lineEnd).toString('latin1'));
    if (!m) break;
    const headEnd = lineEnd + 1 + Number(m[2]);
    const end = headEnd + Number(m[3]);
    if (end + 1 > bytes.length || bytes[end] !== 0x0a) break;
    try {
      const record = journalRecord(m[1], JSON.parse(bytes.subarray(lineEnd + 1, headEnd).toString('utf8')), bytes.subarray(headEnd, end));
      if (record) records.push(record);
    } catch {
      break;
    }
    at = end + 1;
  }
  return records;
}

/** A full disk (or quota) rather than another failure: the reply is then 452 4.3.1 (RFC 5321 §4.2.2, RFC 3463 §3.4). */
export function isStorageFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Messages up to this size are kept in memory until they are complete; larger ones go to disk as they come. */
const IN_MEMORY_LIMIT = 1024 * 1024;

/**
 * Reads a message stream: keeps the message in memory while it is small, and spills it to the
 * temporary file (created only then) once it grows past IN_MEMORY_LIMIT. The stream is read with
 * plain listeners, not `pipeline()`, which costs an AbortSignal and an exception per message.
 */
class MessageReceiver {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private file: fs.FileHandle | undefined;
  private headBytes: Buffer | undefined;
  /** The octets kept (those before `shouldStop()` turned true). */
  size = 0;

  constructor(
    private readonly tempDir: string,
    private readonly tempPath: string,
  ) {}

  get inMemory(): boolean {
    return this.file === undefined;
  }

  content(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** The start of the message, where its header section is (HEADER_SCAN_LIMIT octets at most). */
  head(): Buffer {
    return this.headBytes ?? this.content().subarray(0, HEADER_SCAN_LIMIT);
  }

  /**
   * Reads the stream to its end. Bytes after `shouldStop()` turns true are read and dropped (the
   * server refuses an oversized message anyway, RFC 1870 §6.3). Rejects when the stream fails or
   * closes before its end (the client went away), or when the disk refuses a spilled message.
   */
  receive(stream: Readable, shouldStop: () => boolean): Promise<void> {
    return new Promise<void>((resolveReceive, rejectReceive) => {
      let settled = false;
      let ended = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        stream.removeListener('data', onData);
        // The rest of the stream is still read, so the session can answer and go on.
        stream.resume();
        void this.closeFile().then(() => rejectReceive(error));
      };
      const onData = (chunk: Buffer): void => {
        if (settled || shouldStop()) return;
        this.size += chunk.length;
        if (this.file === undefined && this.buffered + chunk.length <= IN_MEMORY_LIMIT) {
          this.chunks.push(chunk);
          this.buffered += chunk.length;
          return;
        }
        stream.pause();
        this.spill(chunk).then(
          () => stream.resume(),
          (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))),
        );
      };
      stream.on('data', onData);
      stream.once('error', fail);
      stream.once('end', () => {
        ended = true;
        if (settled) return;
        this.closeFile().then(
          () => {
            settled = true;
            resolveReceive();
          },
          (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))),
        );
      });
      stream.once('close', () => {
        if (!ended) fail(Object.assign(new Error('the connection closed in the middle of the message'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      });
    });
  }

  private async spill(chunk: Buffer): Promise<void> {
    if (this.file) {
      await this.file.write(chunk);
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    // The folder may have been removed while the server ran.
    await fs.mkdir(this.tempDir, { recursive: true });
    this.file = await fs.open(this.tempPath, 'wx');
    const content = this.content();
    this.headBytes = Buffer.from(content.subarray(0, HEADER_SCAN_LIMIT));
    this.chunks = [];
    this.buffered = 0;
    await this.file.write(content);
  }

  private async closeFile(): Promise<void> {
    const file = this.file;
    if (!file) return;
    await file.close().catch(() => undefined);
  }
}

/** Random octets for ids, drawn from the system a batch at a time (one call per message costs more). */
let idPool = Buffer.alloc(0);
let idAt = 0;

/** A new message id: 12 hex digits (48 random bits). */
function newId(): string {
  if (idAt + 6 > idPool.length) {
    idPool = randomBytes(6 * 256);
    idAt = 0;
  }
  idAt += 6;
  return idPool.toString('hex', idAt - 6, idAt);
}

const NEWLINE = Buffer.from('\n', 'latin1');

/** A sidecar as it is written to its file: indented JSON, for people to read. */
function sidecarText(sidecar: Sidecar): string {
  return `${JSON.stringify(sidecar, null, 2)}\n`;
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
  /** Journaled messages whose files are not in the folder yet, in the order they came. */
  private readonly pending = new Map<string, PendingMessage>();
  /** When the last message was journaled (performance.now()), to tell when the SMTP side is quiet. */
  private lastCommit = 0;
  private exportTimer: NodeJS.Timeout | undefined;
  /** The export running now, if any. */
  private exportRun: Promise<void> | undefined;
  /** While mail keeps coming, no background export batch before this time (performance.now()). */
  private nextBusyExport = 0;
  /** No export before this time (performance.now()), after one failed. */
  private retryAfter = 0;
  private closed = false;

  private readonly quietMs: number;
  private readonly maxWaitMs: number;

  /**
   * `quietMs` (default 25) is how long no message must come before journaled messages get their
   * files; `maxWaitMs` (default 1000) how long one waits at most while messages keep coming.
   */
  constructor(dir: string, options: { quietMs?: number; maxWaitMs?: number } = {}) {
    this.quietMs = options.quietMs ?? IDLE_MS;
    this.maxWaitMs = options.maxWaitMs ?? STARVATION_MS;
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

  /** The store of this process that keeps the folder's journal, when it is another one. */
  private get writer(): MessageStore | undefined {
    const live = liveStores.get(this.dir);
    return live !== undefined && live !== this ? live : undefined;
  }

  /**
   * Writes every journaled message out as files now (the store does it by itself once the SMTP
   * side is quiet) and waits for it; a message that cannot be written (a full disk) stays journaled.
   */
  async settled(): Promise<void> {
    const writer = this.writer;
    if (writer) return writer.settled();
    while (this.exportRun) await this.exportRun;
    if (this.pending.size > 0) await this.exportAll();
  }

  /** Writes the journaled messages out, then closes the journal (removed unless a message could not be written). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.exportTimer !== undefined) clearTimeout(this.exportTimer);
    this.exportTimer = undefined;
    await this.settled();
    if (this.journalFd === undefined || this.journalPath === undefined) return;
    closeSync(this.journalFd);
    if (liveStores.get(this.dir) === this) liveStores.delete(this.dir);
    // What could not be written stays in the journal, for the next start to write.
    if (this.pending.size === 0) rmSync(this.journalPath, { force: true });
    this.pending.clear();
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
      if (!m || path === this.journalPath) continue;
      const pid = Number(m[1]);
      if (pid !== process.pid && processAlive(pid)) continue;
      if (pid === process.pid && liveStores.get(this.dir)?.journalPath === path) continue;
      const records = parseJournal(readFileSync(path));
      const deleted = new Set(records.flatMap((r) => (r.kind === 'delete' ? [r.id] : [])));
      const authentication = new Map(records.flatMap((r) => (r.kind === 'annotate' ? [[r.id, r.authentication] as const] : [])));
      const present = new Set(readdirSync(this.dir));
      for (const record of records) {
        if (record.kind !== 'message' || deleted.has(record.sidecar.id) || present.has(`${record.base}.eml`)) continue;
        const id = record.sidecar.id;
        const auth = authentication.get(id);
        const sidecar: Sidecar = auth ? { ...record.sidecar, authentication: auth } : record.sidecar;
        writeThroughTempSync(this.tempDir, join(this.tempDir, `${id}.envelope.part`), join(this.dir, `${record.base}${SIDECAR_SUFFIX}`), sidecarText(sidecar));
        writeThroughTempSync(this.tempDir, join(this.tempDir, `${id}.part`), join(this.dir, `${record.base}.eml`), record.content);
      }
      rmSync(path, { force: true });
    }
  }

  /**
   * Appends one record to this store's journal (opened on first use) with one write, and returns
   * where its content starts. Throws when the disk refuses it, with the journal cut back to where
   * it was, so nothing half-written stays.
   */
  private appendJournal(head: object, content?: Buffer): number {
    if (this.journalFd === undefined) {
      mkdirSync(this.journalDir, { recursive: true });
      const path = join(this.journalDir, `journal-${process.pid}-${randomBytes(4).toString('hex')}.log`);
      // Read and append: the contents of messages not written out yet are read back from it.
      this.journalFd = openSync(path, 'a+');
      this.journalPath = path;
      this.journalSize = 0;
      liveStores.set(this.dir, this);
    }
    const headBytes = Buffer.from(JSON.stringify(head), 'utf8');
    const body = content ?? Buffer.alloc(0);
    const line = Buffer.from(`${JOURNAL_MAGIC} ${headBytes.length} ${body.length}\n`, 'latin1');
    const parts = [line, headBytes, body, NEWLINE];
    const total = line.length + headBytes.length + body.length + 1;
    try {
      const written = writevSync(this.journalFd, parts);
      if (written !== total) throw Object.assign(new Error(`the journal took ${written} of ${total} octets`), { code: 'ENOSPC' });
    } catch (error) {
      // Cut a torn record off, so the journal ends on a record boundary (shrinking needs no space).
      try {
        ftruncateSync(this.journalFd, this.journalSize);
      } catch {
        // Replay drops a torn last record anyway.
      }
      throw error;
    }
    const offset = this.journalSize + line.length + headBytes.length;
    this.journalSize += total;
    return offset;
  }

  /** The content of a journaled message, read back from the journal. */
  private pendingContent(entry: PendingMessage): Buffer {
    const buffer = Buffer.allocUnsafe(entry.length);
    let at = 0;
    while (at < entry.length) {
      const n = readSync(this.journalFd!, buffer, at, entry.length - at, entry.offset + at);
      if (n === 0) throw new Error('the journal is shorter than its records');
      at += n;
    }
    return buffer;
  }

  /**
   * When the background export may run: the SMTP side has been quiet for `quietMs`, or a message has
   * waited `maxWaitMs` (then one batch at a time, so a steady stream of mail still gets its files
   * without being slowed much), or too many wait. Never before `retryAfter`, after a failure.
   */
  private exportDueAt(): number {
    if (this.pending.size > MAX_PENDING) return 0;
    const oldest = this.pending.values().next().value as PendingMessage | undefined;
    const quietAt = this.lastCommit + this.quietMs;
    const starvedAt = oldest === undefined ? quietAt : Math.max(oldest.queuedAt + this.maxWaitMs, this.nextBusyExport);
    return Math.max(Math.min(quietAt, starvedAt), this.retryAfter);
  }

  /** Arms the timer of the background export. */
  private scheduleExport(): void {
    if (this.exportTimer !== undefined || this.exportRun !== undefined || this.closed || this.pending.size === 0) return;
    this.exportTimer = setTimeout(() => {
      this.exportTimer = undefined;
      if (performance.now() < this.exportDueAt()) this.scheduleExport();
      else void this.exportAll(true);
      // setTimeout takes at most 2^31 - 1 ms (a larger delay fires at once).
    }, Math.min(0x7fffffff, Math.max(0, this.exportDueAt() - performance.now())));
    // The timer alone does not keep a process alive; close() writes what is left.
    this.exportTimer.unref();
  }

  /**
   * Writes journaled messages out as files, a few at a time. In the background (`yieldToSmtp`) it
   * writes one batch only while messages keep coming, and goes on once it is quiet again.
   */
  private exportAll(yieldToSmtp = false): Promise<void> {
    if (this.exportRun) return this.exportRun;
    const run = (async (): Promise<void> => {
      let failed = false;
      while (this.pending.size > 0 && !failed) {
        const batch = [...this.pending.values()].filter((e) => !e.exporting).slice(0, EXPORT_CONCURRENCY);
        if (batch.length === 0) break;
        const results = await Promise.allSettled(batch.map((e) => this.exportOne(e)));
        failed = results.some((r) => r.status === 'rejected');
        if (yieldToSmtp && this.pending.size <= MAX_PENDING && performance.now() - this.lastCommit < this.quietMs) {
          // Mail keeps coming: the next batch waits a little, so files trickle out without slowing it much.
          this.nextBusyExport = performance.now() + IDLE_MS;
          break;
        }
      }
      if (failed) this.retryAfter = performance.now() + RETRY_MS;
      this.truncateJournalIfDone();
    })();
    this.exportRun = run;
    void run.finally(() => {
      if (this.exportRun === run) this.exportRun = undefined;
      this.scheduleExport();
    });
    return run;
  }

  /** Writes one journaled message's sidecar, then its `.eml`, each under a temporary name first. */
  private exportOne(entry: PendingMessage): Promise<void> {
    entry.exporting ??= (async (): Promise<void> => {
      const id = entry.message.id;
      const sidecarTemp = join(this.tempDir, `${id}.envelope.part`);
      const emlTemp = join(this.tempDir, `${id}.part`);
      try {
        const content = this.pendingContent(entry);
        // The sidecar first, so a listed message always has its envelope.
        await writeThroughTemp(this.tempDir, sidecarTemp, entry.message.envelopePath, sidecarText(entry.sidecar));
        await writeThroughTemp(this.tempDir, emlTemp, entry.message.path, content);
      } catch (error) {
        // A full disk, say: nothing of this message shows in the folder; the journal keeps it.
        await fs.rm(sidecarTemp, { force: true }).catch(() => undefined);
        await fs.rm(entry.message.envelopePath, { force: true }).catch(() => undefined);
        await fs.rm(emlTemp, { force: true }).catch(() => undefined);
        entry.exporting = undefined;
        throw error;
      }
      if (this.pending.get(id) === entry) this.pending.delete(id);
    })();
    return entry.exporting;
  }

  /** Once every journaled message is in the folder, the journal starts afresh. */
  private truncateJournalIfDone(): void {
    if (this.pending.size > 0 || this.journalFd === undefined || this.journalSize === 0) return;
    try {
      ftruncateSync(this.journalFd, 0);
      this.journalSize = 0;
    } catch {
      // It stays as it is; replaying it would find every message in the folder already.
    }
  }

  /** Starts receiving a message. */
  begin(): IncomingMessage {
    const id = newId();
    const tempPath = join(this.tempDir, `${id}.part`);
    let finished = false;
    let spill: MessageReceiver | undefined;
    const store = this;
    return {
      async receive(stream: Readable, shouldStop: () => boolean = () => false): Promise<void> {
        spill = new MessageReceiver(store.tempDir, tempPath);
        await spill.receive(stream, shouldStop);
      },
      async commit(input: EnvelopeInput, rules?: FiredRule[]): Promise<StoredMessage> {
        if (finished) throw new Error('message already committed or aborted');
        finished = true;
        const size = spill?.size ?? 0;
        const receivedAt = new Date();
        const base = `${stamp(receivedAt)}-${id}`;
        const path = join(store.dir, `${base}.eml`);
        const envelopePath = join(store.dir, `${base}${SIDECAR_SUFFIX}`);
        const envelope: CaptureEnvelope = { ...input, receivedAt: receivedAt.toISOString(), size };
        const headers = parseSummaryHeaders(spill?.head() ?? Buffer.alloc(0));
        const sidecar: Sidecar = { version: 1, id, file: `${base}.eml`, envelope, headers, ...(rules ? { rules } : {}) };
        const message: StoredMessage = { id, path, envelopePath, receivedAt, size, envelope, ...(rules ? { rules } : {}), ...headers };
        if (spill === undefined || spill.inMemory) {
          // One append to the open journal stores the message; its files follow once the SMTP side is quiet.
          const content = spill?.content() ?? Buffer.alloc(0);
          const offset = store.appendJournal({ m: sidecar }, content);
          store.lastCommit = performance.now();
          store.pending.set(id, { base, message, sidecar, queuedAt: store.lastCommit, offset, length: content.length });
          store.scheduleExport();
          return message;
        }
        // A large message is on disk already: its sidecar is written and both are renamed into place.
        const sidecarTemp = join(store.tempDir, `${id}.envelope.part`);
        try {
          await fs.writeFile(sidecarTemp, sidecarText(sidecar));
          await fs.rename(sidecarTemp, envelopePath);
          await fs.rename(tempPath, path);
        } catch (error) {
          // A full disk, say: nothing of this message stays, in the folder or beside it.
          await fs.rm(sidecarTemp, { force: true }).catch(() => undefined);
          await fs.rm(envelopePath, { force: true }).catch(() => undefined);
          await fs.rm(tempPath, { force: true }).catch(() => undefined);
          throw error;
        }
        return message;
      },
      async abort(): Promise<void> {
        finished = true;
        await fs.rm(tempPath, { force: true });
      },
    };
  }

  /**
   * All stored messages, newest first, each with its files in the folder (unless the disk is full).
   * With `write: false` the journaled messages are listed without writing their files first
   * (their `path` may not exist yet): for callers that only look at envelopes and headers.
   */
  async list(options: { write?: boolean } = {}): Promise<StoredMessage[]> {
    const writer = this.writer;
    if (writer) return writer.list(options);
    if (options.write !== false) await this.settled();
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const loaded = await Promise.all(names.filter((n) => MESSAGE_FILE.test(n)).map((n) => this.load(n)));
    const messages = loaded.filter((m): m is StoredMessage => m !== undefined && !this.pending.has(m.id));
    // Messages the disk had no room for yet are still stored, in the journal.
    messages.push(...[...this.pending.values()].map((e) => e.message));
    return messages.sort((a, b) => b.receivedAt.getTime() - a.receivedAt.getTime() || (basename(b.path) < basename(a.path) ? -1 : 1));
  }

  /** The message with this id (its files written out first), or undefined. */
  async get(id: string): Promise<StoredMessage | undefined> {
    const writer = this.writer;
    if (writer) return writer.get(id);
    const entry = this.pending.get(id);
    if (entry) {
      await this.exportOne(entry).catch(() => undefined);
      return entry.message;
    }
    const name = await this.fileOf(id);
    return name === undefined ? undefined : this.load(name);
  }

  /** The stored bytes of a message. */
  async read(id: string): Promise<Buffer> {
    const writer = this.writer;
    if (writer) return writer.read(id);
    const entry = this.pending.get(id);
    if (entry) return this.pendingContent(entry);
    const name = await this.fileOf(id);
    if (name === undefined) throw new Error(`no message with id "${id}"`);
    return fs.readFile(join(this.dir, name));
  }

  /**
   * Adds the authentication results to a stored message: journaled while its files are not written
   * yet, else its sidecar is written whole under a temporary name and renamed. Reports false when
   * the message is gone meanwhile.
   */
  async annotate(id: string, authentication: CapturedAuthentication): Promise<boolean> {
    const writer = this.writer;
    if (writer) return writer.annotate(id, authentication);
    const entry = this.pending.get(id);
    if (entry && !entry.exporting) {
      entry.sidecar = { ...entry.sidecar, authentication };
      entry.message = { ...entry.message, authentication };
      // Journaled too, so a crash before the files are written keeps the results (a full disk
      // loses them only if the server also dies before it writes the files).
      this.appendJournalQuietly({ a: id, authentication });
      return true;
    }
    if (entry) await entry.exporting?.catch(() => undefined);
    const name = await this.fileOf(id);
    if (name === undefined) return false;
    const envelopePath = join(this.dir, `${name.slice(0, -'.eml'.length)}${SIDECAR_SUFFIX}`);
    const sidecar = await readSidecar(envelopePath);
    if (sidecar === undefined) return false;
    const temp = join(this.tempDir, `${id}.annotate.part`);
    try {
      await writeThroughTemp(this.tempDir, temp, envelopePath, sidecarText({ ...sidecar, authentication }));
    } catch (error) {
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
    return true;
  }

  /** Deletes a message and its sidecar; reports whether it existed. */
  async delete(id: string): Promise<boolean> {
    const writer = this.writer;
    if (writer) return writer.delete(id);
    if (!ID_PATTERN.test(id)) return false;
    const entry = this.pending.get(id);
    if (entry) {
      await entry.exporting?.catch(() => undefined);
      this.pending.delete(id);
      // Journaled, so a crash before the journal is emptied does not bring the message back.
      if (this.journalSize > 0) this.appendJournalQuietly({ d: id });
      await fs.rm(entry.message.path, { force: true });
      await fs.rm(entry.message.envelopePath, { force: true });
      this.truncateJournalIfDone();
      return true;
    }
    const name = await this.fileOf(id);
    if (name === undefined) return false;
    await this.remove(name);
    return true;
  }

  /** Deletes every stored message; returns how many there were. */
  async clear(): Promise<number> {
    const writer = this.writer;
    if (writer) return writer.clear();
    // Exports under way finish first, so none puts a file back after the folder is emptied.
    while (this.exportRun) await this.exportRun;
    await Promise.allSettled([...this.pending.values()].map((e) => e.exporting));
    const journaled = [...this.pending.keys()];
    this.pending.clear();
    if (this.journalFd !== undefined && this.journalSize > 0) {
      try {
        ftruncateSync(this.journalFd, 0);
        this.journalSize = 0;
      } catch {
        for (const id of journaled) this.appendJournalQuietly({ d: id });
      }
    }
    const names = (await fs.readdir(this.dir).catch(() => [] as string[])).filter((n) => MESSAGE_FILE.test(n));
    await Promise.all(names.map((n) => this.remove(n)));
    // Sidecars whose message is gone already.
    for (const name of await fs.readdir(this.dir).catch(() => [] as string[])) {
      if (name.endsWith(SIDECAR_SUFFIX) && MESSAGE_FILE.test(`${name.slice(0, -SIDECAR_SUFFIX.length)}.eml`)) {
        await fs.rm(join(this.dir, name), { force: true });
      }
    }
    return names.length + journaled.length;
  }

  /** Appends a record whose loss only matters if the server dies before the journal is emptied (a deletion, verification results). */
  private appendJournalQuietly(head: object): void {
    try {
      this.appendJournal(head);
    } catch {
      // A full disk: the message is gone from this run; a crash now could bring it back on replay.
    }
  }

  private async remove(name: string): Promise<void> {
    const base = name.slice(0, -'.eml'.length);
    await fs.rm(join(this.dir, name), { force: true });
    await fs.rm(join(this.dir, `${base}${SIDECAR_SUFFIX}`), { force: true });
  }

  /** Finds the file name of an id; ids are checked, so no path can escape the folder. */
  private async fileOf(id: string): Promise<string | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
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
