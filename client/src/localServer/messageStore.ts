/**
 * The capture server's folder of received messages. Each message ends up as `<timestamp>-<id>.eml`
 * holding exactly the message content of the mail transaction (RFC 5321 §4.1.1.4: the DATA bytes
 * after the transparency dots of §4.5.2 are removed, ending with the CRLF before the final dot),
 * and a sidecar `<timestamp>-<id>.envelope.json` with the envelope and the connection's details.
 *
 * Speed (issue 16): creating a file costs far more than appending to one (0.3 to 0.5 ms each on a
 * busy disk, twice per message), so the store of record is an append-only journal
 * (`.smtpwb-journal/`, a file that stays open, and a new one past `journalBytes`): a message that
 * fits in memory is stored by one append of one record, and acknowledged. The store lists and reads
 * it from the journal at once; its two files are written once the SMTP side is quiet (or when a
 * caller lists or gets it, or when it has waited too long), each under a temporary name and renamed,
 * so the folder never shows half a message. Deletions and verification results of messages whose
 * record is still journaled are journaled too; a deletion of a message whose record may be in a
 * journal another process keeps (a live server's, or one a gone server left, not replayed yet) goes
 * into a deletion file beside that journal, which names it, which a replay reads, and which the live
 * server honours by retiring that journal once nothing waits in it. A journal file goes once
 * nothing in it is needed any more, and the journals of a crashed server are replayed by `init`,
 * record by record (a torn last record was never acknowledged and is dropped; past an unreadable
 * stretch the replay resynchronises on the next whole record, and keeps the file as `.corrupt`).
 * A journal is owned by its server's pid, start time and pid space (boot and pid namespace), and,
 * for servers of other spaces (containers sharing the folder), by a lease its server refreshes (see
 * `journalServerMayLive`). A full disk is reported as an ENOSPC error from `commit` with the
 * journal cut back to its last whole record. Nothing is fsynced: an acknowledged message survives the process dying, not the machine losing
 * power. Listings answer from an index of the folder's messages kept in memory (see `index`),
 * checked against the folder's names, so a sidecar is read once, not at each listing. Temporary
 * files carry their writer's pid and its space, and a start finishes or removes a message a crash caught between
 * the renames of its sidecar and its `.eml` (`finishHalfMessages`). Nothing here imports `vscode`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, ftruncateSync, futimesSync, mkdirSync, openSync, promises as fs, readdirSync, readFileSync, readlinkSync, readSync, renameSync, rmSync, statSync, writeFileSync, writevSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { FiredRule } from './captureRuleEngine';
import { HEADER_SCAN_LIMIT, parseSummaryHeaders, type SummaryHeaders } from './messageHeaders';
import { ID_PATTERN } from './messageId';

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
/** The hidden folder where messages are written before they are complete. */
const TEMP_FOLDER = '.smtpwb-incoming';
/**
 * A temporary file carries the pid of the process writing it and that pid's space (see `pidSpace`):
 * `<id>.p<pid>n<space>.part`, `<id>.envelope.p<pid>n<space>.part`, ... (`.p<pid>.part` from
 * earlier versions), so a start can remove at once those of a server that is gone while it leaves
 * alone those another live server is writing into the same folder. The pid of a file from another
 * pid space tells nothing here: such a file goes only once it is an hour old, as one without a pid.
 */
const OWNED_TEMP = /\.p(\d+)(?:n([0-9a-f]{16}))?\.part$/;

/** The temporary name of a file this process writes: `<stem>.p<pid>n<space>.part` in the temporary folder. */
function tempFile(tempDir: string, stem: string): string {
  return join(tempDir, `${stem}.p${process.pid}n${pidSpace()}.part`);
}

let pidSpaceOfThisProcess: string | undefined;

/**
 * Where this process's pid means something: 16 hex digits hashed from the boot (Linux's
 * `/proc/sys/kernel/random/boot_id`) and the pid namespace (`/proc/self/ns/pid`), or, where these
 * cannot be read (another system), from the host name. Two processes in the same space have
 * different pids while both run, and `process.kill(pid, 0)` answers for the other; containers
 * with pid namespaces of their own that share a folder, or hosts sharing it over a network, are in
 * different spaces, where the same pid may name two live processes and a pid says nothing about
 * liveness (see `journalServerMayLive`).
 */
function pidSpace(): string {
  if (pidSpaceOfThisProcess !== undefined) return pidSpaceOfThisProcess;
  let where: string;
  try {
    where = `${readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim()} ${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    where = `host ${hostname()}`;
  }
  pidSpaceOfThisProcess = createHash('sha256').update(where).digest('hex').slice(0, 16);
  return pidSpaceOfThisProcess;
}

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
/** Past this size, the next record starts a new journal file, so an old one can go once its messages have their files. */
const JOURNAL_BYTES = 8 * 1024 * 1024;
/** A journal left by a crashed server that could not be replayed (a full disk, say) is tried again this often. */
const REPLAY_RETRY_MS = 5000;
/** The hidden folder of write-ahead journals. */
const JOURNAL_FOLDER = '.smtpwb-journal';
/**
 * `journal-<pid>-<token>n<space>s<start>.log` (`s<start>` only where the process's start time can
 * be read, see `processStartTime`): the pid, its space (see `pidSpace`) and the start time tell a
 * crashed server's journal from a running one's (`journalServerMayLive`), and the token, 8 random hex
 * digits, is in the head of each record too (`"j"`), so a resynchronising replay knows the records
 * of this journal from text that only looks like them (see `resynchronise`). Journals of earlier
 * versions are `journal-<pid>-<random>.log`, with no space and no token in their records.
 */
const JOURNAL_FILE = /^journal-(\d+)-(?:([0-9a-f]{8})n([0-9a-f]{16})(?:s(\d{1,20}))?|[a-z0-9]+)\.log$/;
/**
 * `deletions-<random>.log`: deletion records only, written whole beside journals other processes
 * keep (live or gone), by a store that cannot append to them. Its first record names those
 * journals (`{"for": [names]}`); it is read by every replay and removed once none of them is left.
 * One of an earlier version names none, and is removed by the next replay that completes, or once
 * no journal at all is left.
 */
const DELETIONS_FILE = /^deletions-[a-z0-9]+\.log$/;
/** A live server refreshes the modification time of its journals this often (its lease, see `journalServerMayLive`). */
const HEARTBEAT_MS = 5000;
/** A journal of another pid space not touched for this long belongs to a server that is gone. */
const LEASE_MS = 60_000;
/** The names of the journals the stores of this process keep open, whatever folder path they were opened by. */
const openJournalNames = new Set<string>();

/**
 * Whether the server that keeps the journal `name` (at `path`), which no store of this process
 * keeps, may still be running. In this process's pid space (or for a journal of an earlier version,
 * which names no space) its pid answers, with its start time when the name has one (a later process
 * with the same pid is not its server): a journal with this process's own pid is one a closed
 * store of this process left. In another pid space a pid answers nothing (it may even be this
 * process's own), so the journal's modification time does: a live server refreshes it every
 * HEARTBEAT_MS, and one untouched for LEASE_MS is taken as gone. What is left: a server of another
 * pid space that is frozen (SIGSTOP, a paused container) for longer than the lease, or whose clock
 * is far from this one's (a network folder), may have its journal replayed while it lives; the
 * replay writes its messages (harmless: they are its own, written again) and removes the journal,
 * so the messages it journals after that are safe while it runs but lost if it then crashes.
 */
function journalServerMayLive(name: string, path: string): boolean {
  const m = JOURNAL_FILE.exec(name);
  if (!m) return false;
  const pid = Number(m[1]);
  if (m[3] === undefined || m[3] === pidSpace()) return pid !== process.pid && processAlive(pid, m[4]);
  try {
    return Date.now() - statSync(path).mtimeMs < LEASE_MS;
  } catch {
    // Gone meanwhile: nothing is left to replay.
    return false;
  }
}

/**
 * Each journal record: `SMTPWB-J2 <head length> <content length>` and LF, the head (JSON), the
 * content, LF. The head is `{"j": token, "m": sidecar}` for a message (the content is the message),
 * `{"j": token, "d": id}` for a deletion and `{"j": token, "a": id, "authentication": ...}` for
 * verification results, the token being the journal's (see JOURNAL_FILE); a deletion file's records
 * carry none, and its first is `{"for": [journal names]}`. Heads of earlier versions carry no token
 * and are read the same; `SMTPWB-J1` records (head `{base, sidecarText}`) are still read too. A
 * version that does not know a head (`"for"`, say) passes over its record.
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
  /** The journal its record is in, where its content starts there, and how long it is. */
  journal: JournalFile;
  offset: number;
  length: number;
  /** Other journals that hold its verification results. */
  annotations?: JournalFile[];
  /** Set while its files are being written. */
  exporting?: Promise<void>;
}

/**
 * Whether the process `pid` of this pid space runs; with `startedAt` (see `processStartTime`), whether
 * the process that runs under that pid is the one that started then, not a later one that got the
 * same pid once the first was gone.
 */
function processAlive(pid: number, startedAt?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A server killed a moment ago can still be a zombie (dead, not yet reaped by its parent), to which
  // kill() answers as if it lived: on Linux its state in /proc/PID/stat (after the name in
  // parentheses) tells, and so does its start time. Elsewhere, or when /proc cannot be read, the
  // answer of kill() stands.
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const after = fields.slice(fields.lastIndexOf(')') + 2).split(' ');
    if (after[0] === 'Z' || after[0] === 'X') return false;
    return startedAt === undefined || after[19] === startedAt;
  } catch {
    return true;
  }
}

let startOfThisProcess: string | null | undefined;

/**
 * When this process started, as Linux's `/proc/self/stat` says it (field 22, `starttime`, in clock
 * ticks since boot), or null where that cannot be read. With the pid and its space it names this
 * process for good, so a journal it leaves is not taken for a live one when its pid is used again.
 */
function processStartTime(): string | null {
  if (startOfThisProcess !== undefined) return startOfThisProcess;
  try {
    const fields = readFileSync('/proc/self/stat', 'latin1');
    const start = fields.slice(fields.lastIndexOf(')') + 2).split(' ')[19];
    startOfThisProcess = start !== undefined && /^\d{1,20}$/.test(start) ? start : null;
  } catch {
    startOfThisProcess = null;
  }
  return startOfThisProcess;
}

function isSidecar(value: unknown): value is Sidecar {
  const v = value as Partial<Sidecar> | null;
  return typeof v === 'object' && v !== null && v.version === 1 && typeof v.id === 'string' && typeof v.file === 'string' && typeof v.envelope === 'object' && v.envelope !== null;
}

/** A record of a journal as it is read, with where its content is rather than the content itself. */
type JournalRecordAt =
  | { kind: 'message'; base: string; sidecar: Sidecar; contentOffset: number; contentLength: number }
  | { kind: 'delete'; id: string }
  | { kind: 'annotate'; id: string; authentication: CapturedAuthentication }
  /** The first record of a deletion file: the journals its deletions are for. */
  | { kind: 'for'; journals: string[] };

/** How far the reading of a journal got. */
export interface JournalScan {
  /** Where the last whole record ends. */
  end: number;
  /**
   * `complete`: the whole records make up the file. `torn`: only a record cut short follows them
   * (a crash in the middle of its append, so it was never acknowledged). `corrupt`: octets that are
   * no whole record were passed over (`skipped`) between or after the whole records, which were read.
   */
  outcome: 'complete' | 'torn' | 'corrupt';
  /** The octet ranges passed over, `[from, to)`, in order; empty unless `corrupt`. */
  skipped: Array<[number, number]>;
}

/** The longest header line a record can have (`SMTPWB-J2 <digits> <digits>` and LF). */
const HEADER_MAX = 64;
/** A record's header line. */
const HEADER_LINE = /^(SMTPWB-J[12]) (\d{1,15}) (\d{1,15})$/;
/** What the start of a header line cut short by the end of the file looks like. */
const TORN_HEADER = /^(?:S(?:M(?:T(?:P(?:W(?:B(?:-(?:J(?:[12](?: \d*(?: \d*)?)?)?)?)?)?)?)?)?)?)?$/;
/** How much of a journal file is read at once while it is replayed. */
const READ_WINDOW = 1024 * 1024;
/** What precedes every record header but the first: the newline that ends the record before it. */
const RECORD_START = '\nSMTPWB-J';

/** Reads `length` octets of a journal at `position` (fewer at the end of the file). */
type JournalRead = (position: number, length: number) => Buffer;

/**
 * Where the next record header after `from` may start (just after a newline), or undefined when
 * none does before the end of the journal.
 */
function nextRecordStart(read: JournalRead, from: number, size: number): number | undefined {
  for (let at = from; at < size; ) {
    const window = read(at, Math.min(READ_WINDOW, size - at));
    const found = window.indexOf(RECORD_START, 0, 'latin1');
    if (found >= 0) return at + found + 1;
    if (at + window.length >= size || window.length === 0) return undefined;
    // The windows overlap by a marker's length less one, so a marker across two is found.
    at += Math.max(1, window.length - RECORD_START.length + 1);
  }
  return undefined;
}

/**
 * The record at `at`: whole (with the record, undefined for a head this version does not know, and
 * where it ends, after its newline), `torn` (its header or its lengths run past the end of the
 * file) or `bad`. With `token`, a record whose head does not carry it (`"j"`) is bad too.
 */
function recordAt(read: JournalRead, size: number, at: number, token?: string): { kind: 'whole'; record: JournalRecordAt | undefined; end: number } | { kind: 'torn' | 'bad' } {
  const start = read(at, Math.min(HEADER_MAX, size - at));
  const lineEnd = start.indexOf(0x0a);
  if (lineEnd < 0) return { kind: at + start.length >= size && TORN_HEADER.test(start.toString('latin1')) ? 'torn' : 'bad' };
  const m = HEADER_LINE.exec(start.subarray(0, lineEnd).toString('latin1'));
  if (!m) return { kind: 'bad' };
  const headStart = at + lineEnd + 1;
  const headEnd = headStart + Number(m[2]);
  const end = headEnd + Number(m[3]);
  if (end + 1 > size) return { kind: 'torn' };
  if (read(end, 1)[0] !== 0x0a) return { kind: 'bad' };
  let head: unknown;
  try {
    head = JSON.parse(read(headStart, headEnd - headStart).toString('utf8'));
  } catch {
    return { kind: 'bad' };
  }
  if (token !== undefined && (typeof head !== 'object' || head === null || (head as { j?: unknown }).j !== token)) return { kind: 'bad' };
  const record = journalRecordAt(m[1], head, headEnd, end - headEnd);
  return record === 'unreadable' ? { kind: 'bad' } : { kind: 'whole', record, end: end + 1 };
}

/**
 * Past an unreadable stretch that starts at `from`: where the next whole record starts, or
 * undefined when none does. A candidate is a header at the start of a line after `from`; it is
 * taken only when its whole record checks out (header, lengths within the file, the newline at its
 * end, its head as JSON and as a record, and, in a journal whose name carries a token, that token in
 * its head).
 *
 * Why this cannot be made to invent records: resynchronisation starts only where the journal is
 * already unreadable, which nothing a client sends can cause (a record is written by one append of
 * lengths the store computed). Within a readable journal, content is only ever skipped by the
 * lengths of its own header, so text in a message that looks like a record is never read as one.
 * Past a damaged header, though, the damaged record's content is searched like any other octets:
 * a client who put a whole fake record into a message (a forged sidecar, a deletion, verification
 * results) would have it taken if that very record's header were later damaged. The token closes
 * this for journals written by this version: it is random, per journal, and in no message, sidecar
 * or API answer, so a client cannot write a head that carries it. In a journal of an earlier
 * version (no token) that risk is left, and so is the chance that damage hits a record exactly so
 * that a fake inside it checks out.
 */
function resynchronise(read: JournalRead, size: number, from: number, token?: string): number | undefined {
  let candidate = nextRecordStart(read, from, size);
  while (candidate !== undefined) {
    if (recordAt(read, size, candidate, token).kind === 'whole') return candidate;
    candidate = nextRecordStart(read, candidate, size);
  }
  return undefined;
}

/**
 * Reads a journal record by record through `read`, handing each whole record to `visit` with where
 * its content is; never reads the contents themselves. A record cut short at the end of the file
 * (a crash during its append) ends the reading. A record that is unreadable, or that runs past the
 * end of the file while a whole record follows it (its lengths are damaged: what follows was
 * written, and acknowledged, after it), starts a resynchronisation: the octets up to the next whole
 * record (see `resynchronise`) are passed over and noted in `skipped`, and reading goes on from
 * there. `token` is the journal's own (from its name), when it has one.
 */
function scanJournal(read: JournalRead, size: number, visit: (record: JournalRecordAt) => void, token?: string): JournalScan {
  const skipped: Array<[number, number]> = [];
  let at = 0;
  let end = 0;
  let torn = false;
  while (at < size) {
    const found = recordAt(read, size, at);
    if (found.kind === 'whole') {
      // A head this version does not know is passed over.
      if (found.record) visit(found.record);
      at = end = found.end;
      continue;
    }
    const next = resynchronise(read, size, at, token);
    // Cut short, with no whole record after it: the record the crash interrupted (text in its
    // content that looks like a header is no whole record), never acknowledged.
    if (found.kind === 'torn' && next === undefined) {
      torn = true;
      break;
    }
    skipped.push([at, next ?? size]);
    if (next === undefined) break;
    at = next;
  }
  return { end, outcome: skipped.length > 0 ? 'corrupt' : torn ? 'torn' : 'complete', skipped };
}

/**
 * Whether a message record's id is a plain id and the one its file name ends with: the id names
 * temporary files during a replay, so a record with any other is unreadable (its journal is kept
 * as `.corrupt`), never a path.
 */
function ownId(base: string, id: string): boolean {
  return ID_PATTERN.test(id) && base.endsWith(`-${id}`);
}

/** The record a journal head describes, undefined for a head this version does not know. */
function journalRecordAt(magic: string, head: unknown, contentOffset: number, contentLength: number): JournalRecordAt | 'unreadable' | undefined {
  if (typeof head !== 'object' || head === null) return 'unreadable';
  const h = head as Record<string, unknown>;
  if (magic === 'SMTPWB-J1') {
    if (typeof h.base !== 'string' || typeof h.sidecarText !== 'string' || !BASE_PATTERN.test(h.base)) return 'unreadable';
    let sidecar: unknown;
    try {
      sidecar = JSON.parse(h.sidecarText);
    } catch {
      return 'unreadable';
    }
    return isSidecar(sidecar) && ownId(h.base, sidecar.id) ? { kind: 'message', base: h.base, sidecar, contentOffset, contentLength } : 'unreadable';
  }
  if (isSidecar(h.m)) {
    const base = h.m.file.slice(0, -'.eml'.length);
    return BASE_PATTERN.test(base) && h.m.file.endsWith('.eml') && ownId(base, h.m.id) ? { kind: 'message', base, sidecar: h.m, contentOffset, contentLength } : 'unreadable';
  }
  if (typeof h.d === 'string' && ID_PATTERN.test(h.d)) return { kind: 'delete', id: h.d };
  if (Array.isArray(h.for)) {
    const journals = h.for.filter((name): name is string => typeof name === 'string' && JOURNAL_FILE.test(name));
    return journals.length === h.for.length ? { kind: 'for', journals } : 'unreadable';
  }
  if (typeof h.a === 'string' && ID_PATTERN.test(h.a) && typeof h.authentication === 'object' && h.authentication !== null) {
    return { kind: 'annotate', id: h.a, authentication: h.authentication as CapturedAuthentication };
  }
  return undefined;
}

/**
 * The records of a journal held in memory, and how far its reading got (see JournalScan). `name`
 * is the journal's file name, whose token (if it has one) a resynchronisation asks of the records
 * past damage (see `resynchronise`).
 */
export function readJournal(bytes: Buffer, name?: string): JournalScan & { records: JournalRecord[] } {
  const records: JournalRecord[] = [];
  const scan = scanJournal(
    (position, length) => bytes.subarray(position, position + length),
    bytes.length,
    (r) => {
      if (r.kind === 'message') records.push({ kind: 'message', base: r.base, sidecar: r.sidecar, content: bytes.subarray(r.contentOffset, r.contentOffset + r.contentLength) });
      else if (r.kind !== 'for') records.push(r);
    },
    name === undefined ? undefined : journalToken(name),
  );
  return { ...scan, records };
}

/** The journals a deletion file's deletions are for (its `{"for": [...]}` record), or undefined for one of an earlier version, which names none. */
function deletionFileJournals(bytes: Buffer): string[] | undefined {
  let journals: string[] | undefined;
  scanJournal((position, length) => bytes.subarray(position, position + length), bytes.length, (r) => {
    if (r.kind === 'for') journals = [...(journals ?? []), ...r.journals];
  });
  return journals;
}

/** The token of a journal this version wrote (see JOURNAL_FILE), from its file name (`.corrupt` or not); undefined for others. */
function journalToken(name: string): string | undefined {
  return JOURNAL_FILE.exec(name.endsWith('.corrupt') ? name.slice(0, -'.corrupt'.length) : name)?.[2];
}

/** The complete records of a journal; a torn last record (a crash while appending) was never acknowledged and is dropped. */
export function parseJournal(bytes: Buffer): JournalRecord[] {
  return readJournal(bytes).records;
}

/** Reads a journal file a window at a time, so a journal of any size is replayed in little memory. */
class JournalReader {
  private window = Buffer.alloc(0);
  private start = 0;

  constructor(private readonly fd: number) {}

  read(position: number, length: number): Buffer {
    if (position >= this.start && position + length <= this.start + this.window.length) {
      return this.window.subarray(position - this.start, position - this.start + length);
    }
    // A new buffer each time: a slice handed out earlier stays valid.
    const buffer = Buffer.allocUnsafe(Math.max(length, READ_WINDOW));
    let got = 0;
    while (got < buffer.length) {
      const n = readSync(this.fd, buffer, got, buffer.length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    this.window = buffer.subarray(0, got);
    this.start = position;
    return this.window.subarray(0, Math.min(length, got));
  }
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
  /** The spill under way (creating or writing the temporary file), which closing waits for. */
  private spilling: Promise<void> | undefined;
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
        const spilling = this.spill(chunk);
        this.spilling = spilling.catch(() => undefined);
        spilling.then(
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
    // A client that went away while the temporary file was being created: the file is closed (and
    // then removed by `abort`) only once it exists, never left open or behind.
    if (this.spilling) await this.spilling;
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

/**
 * Writes `data` to the temporary file `temp`; makes the temporary folder if it is gone. Temporary
 * names are private to one message and one process, so one left by a run that died is removed
 * first; when the write fails (a full disk, say), the temporary file is removed again.
 */
function writeTempSync(tempDir: string, temp: string, data: string | Buffer): void {
  try {
    try {
      writeFileSync(temp, data, { flag: 'wx' });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') rmSync(temp, { force: true });
      else if (code === 'ENOENT') mkdirSync(tempDir, { recursive: true });
      else throw error;
      writeFileSync(temp, data, { flag: 'wx' });
    }
  } catch (error) {
    try {
      rmSync(temp, { force: true });
    } catch {
      // The folder itself is unusable; the caller reports the first error.
    }
    throw error;
  }
}

/** The asynchronous twin of writeTempSync, for writes off the hot path. */
async function writeTemp(tempDir: string, temp: string, data: string | Buffer): Promise<void> {
  try {
    try {
      await fs.writeFile(temp, data, { flag: 'wx' });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') await fs.rm(temp, { force: true });
      else if (code === 'ENOENT') await fs.mkdir(tempDir, { recursive: true });
      else throw error;
      await fs.writeFile(temp, data, { flag: 'wx' });
    }
  } catch (error) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** Writes `data` to `temp` and renames it to `target` (see writeTempSync). */
function writeThroughTempSync(tempDir: string, temp: string, target: string, data: string | Buffer): void {
  writeTempSync(tempDir, temp, data);
  try {
    renameSync(temp, target);
  } catch (error) {
    try {
      rmSync(temp, { force: true });
    } catch {
      // The folder itself is unusable; the caller reports the first error.
    }
    throw error;
  }
}

/** The asynchronous twin of writeThroughTempSync, for writes off the hot path. */
async function writeThroughTemp(tempDir: string, temp: string, target: string, data: string | Buffer): Promise<void> {
  await writeTemp(tempDir, temp, data);
  try {
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/**
 * Puts a message into the folder whose content is whole in the temporary file `emlTemp`: its
 * sidecar is written under a temporary name, renamed into place, and then the message is renamed
 * into place. Listings go by the `.eml` files, so a listed message always has its envelope; a
 * crash between the two renames leaves a sidecar without its message but with its whole temporary
 * file, which the next start completes (`init`). Nothing of the message stays when this throws.
 */
async function placeFiles(tempDir: string, id: string, emlTemp: string, path: string, envelopePath: string, sidecar: string): Promise<void> {
  const sidecarTemp = tempFile(tempDir, `${id}.envelope`);
  try {
    await writeTemp(tempDir, sidecarTemp, sidecar);
    await fs.rename(sidecarTemp, envelopePath);
    await fs.rename(emlTemp, path);
  } catch (error) {
    await fs.rm(sidecarTemp, { force: true }).catch(() => undefined);
    await fs.rm(envelopePath, { force: true }).catch(() => undefined);
    await fs.rm(emlTemp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** A stored message as its sidecar describes it. */
function messageOf(path: string, envelopePath: string, id: string, sidecar: Sidecar): StoredMessage {
  return {
    id,
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

/** Newest first; messages of one millisecond by file name, the later first. */
function newestFirst(a: StoredMessage, b: StoredMessage): number {
  return b.receivedAt.getTime() - a.receivedAt.getTime() || (basename(b.path) < basename(a.path) ? -1 : 1);
}

/** Runs `work` over `items`, at most `limit` at once, and returns the results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const at = next++;
      results[at] = await work(items[at]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The message of an error, for one line of a log. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One journal file of this store. */
interface JournalFile {
  path: string;
  /** Its file name (see JOURNAL_FILE). */
  name: string;
  /** The token in its name and in the head of each of its records. */
  token: string;
  fd: number;
  /** Its length, so a torn append can be cut off again. */
  size: number;
  /** How many journaled messages not written out yet have records here (the message, or its verification results). */
  refs: number;
  /** The ids of the message records here. */
  ids: Set<string>;
  /** Ids deleted by records here whose message record is in an older journal, which must not outlive them. */
  deletions: Set<string>;
}

/** A message of the folder, as the store's index knows it. */
interface IndexEntry {
  /** The name of its `.eml` file. */
  name: string;
  message: StoredMessage;
  /** Whether its sidecar was there when the entry was made (without it, the `.eml`'s own header fields tell). */
  withSidecar: boolean;
  /** When the entry was made or changed (the index's counter), so a look at the folder begun earlier leaves it alone. */
  seq: number;
  /**
   * For an entry read from the folder: the sidecar's modification time then. Another server writing
   * into the folder may still add its verification results, so while it runs, a recent sidecar of a
   * message not verified yet is looked at again when it changes.
   */
  sidecarMtimeMs?: number;
}

/** A sidecar read this long after it was written is no longer expected to get verification results. */
const ANNOTATION_WINDOW_MS = 60 * 60 * 1000;
/** How many sidecars are read at once while the index is built. */
const INDEX_READ_CONCURRENCY = 16;

export class MessageStore {
  readonly dir: string;
  readonly tempDir: string;
  readonly journalDir: string;
  /** This store's journal files, oldest first; the last one appended to is `current`. */
  private journals: JournalFile[] = [];
  /** The journal appended to, until it grows past `journalBytes` (or an append fails and cannot be undone). */
  private current: JournalFile | undefined;
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
  /** Set while journals left by a crashed server wait to be replayed again, after a failure. */
  private replayTimer: NodeJS.Timeout | undefined;
  /** Refreshes the lease of this store's journals and honours deletion files written for them (see `heartbeat`). */
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Set by `leftJournals` when it passed over a journal whose server seemed alive. */
  private liveJournalsSeen = false;
  /** Why the last replay failed, so a failure that stays the same is logged once, not every few seconds. */
  private replayFailure: string | undefined;
  /**
   * Messages an unfinished replay has written already, whose journals are kept for the next try: a
   * try skips them (their deletions go into deletion files beside those journals, see `journalDeletion`).
   */
  private readonly replayed = new Set<string>();
  private closed = false;
  /**
   * The messages whose files are in the folder, by id, as far as this store knows: built from the
   * sidecars once (the first listing reads each of them), kept up to date by this store's own
   * write-outs, deletions, clears, replays and verification results, and checked against the
   * folder's names at each listing, which reads only the sidecars of messages it does not know yet
   * (files another process wrote, or put back). Journaled messages are in `pending` instead.
   */
  private readonly index = new Map<string, IndexEntry>();
  /** Counts the changes of the index (see IndexEntry.seq). */
  private indexSeq = 0;
  /** Counts this store's clears, so a look at the folder that raced one looks again. */
  private removals = 0;
  /** While a look at the folder is under way: the ids this store deleted meanwhile, which it must not put back. */
  private removedWhileLooking: Set<string> | undefined;
  /** The look at the folder under way. */
  private refreshing: Promise<void> | undefined;
  /** The look that follows the one under way, shared by the listings that come meanwhile. */
  private nextRefresh: Promise<void> | undefined;
  /** The listing of index and pending messages, newest first, until either changes. */
  private sorted: StoredMessage[] | undefined;
  /** How many sidecar files this store has read to learn of messages (for tests of the index). */
  sidecarReads = 0;

  private readonly quietMs: number;
  private readonly maxWaitMs: number;
  private readonly journalBytes: number;
  private readonly log: (level: 'warn' | 'error', message: string) => void;

  /**
   * `quietMs` (default 25) is how long no message must come before journaled messages get their
   * files; `maxWaitMs` (default 1000) how long one waits at most while messages keep coming;
   * `journalBytes` (default 8 MiB) the size past which the next record starts a new journal file;
   * `log` hears of journals that cannot be replayed.
   */
  constructor(dir: string, options: { quietMs?: number; maxWaitMs?: number; journalBytes?: number; log?: (level: 'warn' | 'error', message: string) => void } = {}) {
    this.quietMs = options.quietMs ?? IDLE_MS;
    this.maxWaitMs = options.maxWaitMs ?? STARVATION_MS;
    this.journalBytes = options.journalBytes ?? JOURNAL_BYTES;
    this.log = options.log ?? ((): void => undefined);
    this.dir = dir;
    this.tempDir = join(dir, TEMP_FOLDER);
    this.journalDir = join(dir, JOURNAL_FOLDER);
  }

  /**
   * Creates the folder, finishes or removes half messages a crashed server left (see
   * `finishHalfMessages`), removes the temporary files of servers that are gone (and those without
   * a writer's pid, from earlier versions, once over an hour old), and writes the messages of
   * journals that a crashed server left behind. A journal that cannot be replayed now (a full disk,
   * say) is kept, logged and tried again later: it never stops a start.
   */
  async init(): Promise<void> {
    await fs.mkdir(this.tempDir, { recursive: true });
    await this.finishHalfMessages();
    const hourAgo = Date.now() - 60 * 60 * 1000;
    for (const name of await fs.readdir(this.tempDir).catch(() => [] as string[])) {
      const path = join(this.tempDir, name);
      if (!this.tempWriterGone(name)) {
        if (MessageStore.tempWriterHere(name)) continue;
        const stat = await fs.stat(path).catch(() => undefined);
        if (stat === undefined || stat.mtimeMs >= hourAgo) continue;
      }
      await fs.rm(path, { force: true }).catch(() => undefined);
    }
    this.replayJournals();
  }

  /**
   * Whether the temporary file `name` carries the pid of a process that is gone (see OWNED_TEMP).
   * One of another pid space is not known to be gone (its age decides, as for one without a pid).
   */
  private tempWriterGone(name: string): boolean {
    const m = OWNED_TEMP.exec(name);
    if (!m || (m[2] !== undefined && m[2] !== pidSpace())) return false;
    const pid = Number(m[1]);
    // Another store of this process may be writing it.
    return pid !== process.pid && !processAlive(pid);
  }

  /** Whether the temporary file `name` names its writer in this process's pid space (or names no space, from an earlier version). */
  private static tempWriterHere(name: string): boolean {
    const m = OWNED_TEMP.exec(name);
    return m !== null && (m[2] === undefined || m[2] === pidSpace());
  }

  /**
   * A server puts a message into the folder by renaming its sidecar into place, then its `.eml`,
   * whose content is whole in a temporary file before the first rename (`placeFiles`). A crash
   * between the two renames leaves a sidecar without its message: it is completed from that
   * temporary file when the file is whole (as long as the sidecar says) and its writer is gone, and
   * removed when there is no such file. One whose temporary file a live server holds is left to
   * that server, which is between its two renames. The folder is listed before the temporary
   * folder, so a live server's file is seen either there or, renamed, in the folder.
   */
  private async finishHalfMessages(): Promise<void> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    const present = new Set(names);
    const halves = names.filter((n) => {
      if (!n.endsWith(SIDECAR_SUFFIX)) return false;
      const base = n.slice(0, -SIDECAR_SUFFIX.length);
      return BASE_PATTERN.test(base) && !present.has(`${base}.eml`);
    });
    if (halves.length === 0) return;
    const temps = await fs.readdir(this.tempDir).catch(() => [] as string[]);
    const hourAgo = Date.now() - 60 * 60 * 1000;
    for (const name of halves) {
      const base = name.slice(0, -SIDECAR_SUFFIX.length);
      const id = base.slice(base.lastIndexOf('-') + 1);
      const path = join(this.dir, `${base}.eml`);
      const envelopePath = join(this.dir, name);
      // Its message's temporary files: `<id>.p<pid>n<space>.part` (or `<id>.p<pid>.part` and `<id>.part`, from earlier versions).
      const parts = temps.filter((t) => t === `${id}.part` || (t.startsWith(`${id}.p`) && OWNED_TEMP.exec(t)?.index === id.length));
      let writerLive = false;
      let whole: string | undefined;
      const sidecar = (await readSidecar(envelopePath))?.sidecar;
      for (const part of parts) {
        const partPath = join(this.tempDir, part);
        const stat = await fs.stat(partPath).catch(() => undefined);
        if (stat === undefined) continue;
        const gone = MessageStore.tempWriterHere(part) ? this.tempWriterGone(part) : stat.mtimeMs < hourAgo;
        if (!gone) writerLive = true;
        else if (sidecar !== undefined && sidecar.id === id && stat.size === sidecar.envelope.size) whole = partPath;
      }
      if (writerLive) continue;
      try {
        if (whole !== undefined) {
          await fs.rename(whole, path);
          this.log('warn', `completed the message ${id}, which a server that stopped was putting into the folder`);
          continue;
        }
        // Its message may have been put into place meanwhile by a server that is not gone after all.
        if (await fs.access(path).then(() => true, () => false)) continue;
        await fs.rm(envelopePath, { force: true });
        this.log('warn', `removed the sidecar of the message ${id}, whose content a server that stopped never put into the folder`);
      } catch (error) {
        this.log('warn', `could not finish the message ${id} a server that stopped left half written: ${errorText(error)}`);
      }
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

  /** Writes the journaled messages out, then closes the journals (removed unless a message could not be written). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.exportTimer !== undefined) clearTimeout(this.exportTimer);
    this.exportTimer = undefined;
    if (this.replayTimer !== undefined) clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    await this.settled();
    // Before the journals are looked at: a store whose journal was retired (see `heartbeat`) keeps none.
    if (liveStores.get(this.dir) === this) liveStores.delete(this.dir);
    if (this.journals.length === 0) return;
    // What could not be written stays in its journal, for the next start to write.
    this.current = undefined;
    this.collectJournals();
    for (const journal of [...this.journals]) this.dropJournal(journal);
    this.pending.clear();
    this.sorted = undefined;
    // Deletion files other processes wrote for the journals removed just now are not needed any more.
    this.dropSpentDeletionFiles();
  }

  /**
   * The journal files of the folder that wait to be replayed: no store of this process keeps them
   * and their server is gone (it crashed, or stopped with messages it could not write; see
   * `journalServerMayLive`). With `withDeletions`, the deletion files beside them too.
   */
  private leftJournals(withDeletions: boolean): string[] {
    let names: string[];
    try {
      names = readdirSync(this.journalDir);
    } catch {
      return [];
    }
    return names.flatMap((name) => {
      const path = join(this.journalDir, name);
      if (withDeletions && DELETIONS_FILE.test(name)) return [path];
      if (!JOURNAL_FILE.test(name) || openJournalNames.has(name)) return [];
      if (journalServerMayLive(name, path)) {
        // Another server's, or a server's that is still going away: looked at again later.
        this.liveJournalsSeen = true;
        return [];
      }
      return [path];
    });
  }

  /**
   * The names of the journal files of the folder that this store does not keep: other servers'
   * (live or gone), which may hold the record of any message of the folder. A store of this process
   * that opened the folder by another path (so it is not this store's `writer`) counts as another
   * server: it honours deletion files as they do.
   */
  private foreignJournals(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.journalDir);
    } catch {
      return [];
    }
    return names.filter((name) => JOURNAL_FILE.test(name) && !this.journals.some((j) => j.name === name));
  }

  /**
   * Writes the messages of journals whose server is gone (crashed before writing them), with their
   * deletions (and those of the deletion files beside them) and verification results applied, then
   * removes the journals and the deletion files no journal left needs (see DELETIONS_FILE). Each is
   * read record by record. A journal with unreadable octets has every whole record around them
   * written (see `scanJournal`), and is kept as `<name>.corrupt`, with the octet ranges passed over
   * in the log; when a write fails (a full disk, say), every journal is kept as it is, the failure
   * is logged, and the replay is tried again later (writing a message twice is harmless: one already
   * in the folder is skipped). Never throws.
   */
  private replayJournals(): void {
    this.replayTimer = undefined;
    this.liveJournalsSeen = false;
    const waiting = this.leftJournals(false).length > 0;
    // A journal whose server still seemed alive is looked at again, so that once that server is
    // gone its messages are written in this run, not at some later start.
    if (this.liveJournalsSeen && !this.closed) {
      this.replayTimer = setTimeout(() => this.replayJournals(), REPLAY_RETRY_MS);
      this.replayTimer.unref();
    }
    if (!waiting) {
      this.dropSpentDeletionFiles();
      return;
    }
    // The folder is read before the journal folder is looked at again: another process that deletes
    // a message writes its deletion file before it removes the files, so either the files are seen
    // here (and not written again) or the deletion file is among the paths read below.
    let present: Set<string>;
    try {
      present = new Set(readdirSync(this.dir));
    } catch {
      present = new Set();
    }
    const paths = this.leftJournals(true);
    const files: Array<{ path: string; fd: number; size: number; reader: JournalReader; token?: string; scan?: JournalScan; for?: string[] }> = [];
    try {
      for (const path of paths) {
        const fd = openSync(path, 'r');
        const token = journalToken(basename(path));
        files.push({ path, fd, size: fstatSync(fd).size, reader: new JournalReader(fd), ...(token !== undefined ? { token } : {}) });
      }
      // First the deletions and verification results of all of them: one may be in a later journal than its message.
      const deleted = new Set<string>();
      const authentication = new Map<string, CapturedAuthentication>();
      for (const file of files) {
        file.scan = scanJournal((p, n) => file.reader.read(p, n), file.size, (r) => {
          if (r.kind === 'delete') deleted.add(r.id);
          else if (r.kind === 'annotate') authentication.set(r.id, r.authentication);
          else if (r.kind === 'for') file.for = [...(file.for ?? []), ...r.journals];
        }, file.token);
      }
      for (const file of files) {
        scanJournal((p, n) => file.reader.read(p, n), file.size, (record) => {
          if (record.kind !== 'message') return;
          const id = record.sidecar.id;
          const path = join(this.dir, `${record.base}.eml`);
          const envelopePath = join(this.dir, `${record.base}${SIDECAR_SUFFIX}`);
          if (deleted.has(id)) {
            // Deleted, though a crash may have come before its files were removed.
            if (present.has(`${record.base}.eml`) || present.has(`${record.base}${SIDECAR_SUFFIX}`)) {
              rmSync(path, { force: true });
              rmSync(envelopePath, { force: true });
              this.indexDrop(id);
            }
            return;
          }
          if (present.has(`${record.base}.eml`) || this.replayed.has(id)) return;
          const auth = authentication.get(id);
          const sidecar: Sidecar = auth ? { ...record.sidecar, authentication: auth } : record.sidecar;
          const emlTemp = tempFile(this.tempDir, id);
          const sidecarTemp = tempFile(this.tempDir, `${id}.envelope`);
          try {
            // The message's temporary file is whole before its sidecar is in place (see placeFiles).
            writeTempSync(this.tempDir, emlTemp, file.reader.read(record.contentOffset, record.contentLength));
            writeTempSync(this.tempDir, sidecarTemp, sidecarText(sidecar));
            renameSync(sidecarTemp, envelopePath);
            renameSync(emlTemp, path);
          } catch (error) {
            // No sidecar without its message, and no temporary file left behind.
            rmSync(envelopePath, { force: true });
            rmSync(sidecarTemp, { force: true });
            rmSync(emlTemp, { force: true });
            throw error;
          }
          this.replayed.add(id);
          this.indexPut(`${record.base}.eml`, messageOf(path, envelopePath, id, sidecar), true);
        }, file.token);
      }
    } catch (error) {
      const failure = `could not replay the journal a stopped server left behind (${errorText(error)}); it is kept and tried again`;
      if (failure !== this.replayFailure) this.log('warn', failure);
      this.replayFailure = failure;
      if (!this.closed && this.replayTimer === undefined) {
        this.replayTimer = setTimeout(() => this.replayJournals(), REPLAY_RETRY_MS);
        this.replayTimer.unref();
      }
      return;
    } finally {
      for (const file of files) closeSync(file.fd);
    }
    this.replayFailure = undefined;
    let kept = false;
    // Journals first, then the deletion files, which stay while a journal they name is left.
    const deletionFilesLast = [...files].sort((a, b) => Number(DELETIONS_FILE.test(basename(a.path))) - Number(DELETIONS_FILE.test(basename(b.path))));
    for (const file of deletionFilesLast) {
      try {
        if (file.scan?.outcome === 'corrupt') {
          renameSync(file.path, `${file.path}.corrupt`);
          // The first few ranges (a file damaged all over would make a line too long to read).
          const shown = file.scan.skipped.slice(0, 8).map(([from, to]) => `${from} to ${to}`);
          if (file.scan.skipped.length > shown.length) shown.push(`${file.scan.skipped.length - shown.length} more`);
          const ranges = shown.join(', ');
          this.log('error', `the journal ${basename(file.path)} has unreadable octets (${ranges}, of ${file.size}) that were passed over: the whole records around them are written, the file is kept as ${basename(file.path)}.corrupt`);
        } else if (file.for === undefined || !file.for.some((name) => existsSync(join(this.journalDir, name)))) {
          rmSync(file.path, { force: true });
        }
      } catch (error) {
        kept = true;
        this.log('warn', `could not remove the replayed journal ${basename(file.path)}: ${errorText(error)}`);
      }
    }
    if (kept) return;
    // The replayed journals are gone, and with them the need for the deletions journaled meanwhile.
    this.replayed.clear();
    this.collectJournals();
  }

  /** Opens a new journal file and appends to it from now on. */
  private openJournal(): JournalFile {
    mkdirSync(this.journalDir, { recursive: true });
    const token = randomBytes(4).toString('hex');
    const started = processStartTime();
    const name = `journal-${process.pid}-${token}n${pidSpace()}${started === null ? '' : `s${started}`}.log`;
    const path = join(this.journalDir, name);
    // Read and append: the contents of messages not written out yet are read back from it.
    const journal: JournalFile = { path, name, token, fd: openSync(path, 'a+'), size: 0, refs: 0, ids: new Set(), deletions: new Set() };
    openJournalNames.add(name);
    this.journals.push(journal);
    this.current = journal;
    liveStores.set(this.dir, this);
    this.startHeartbeat();
    return journal;
  }

  /** Forgets a journal file this store has removed (or could not remove, and leaves): closes it. */
  private dropJournal(journal: JournalFile): void {
    try {
      closeSync(journal.fd);
    } catch {
      // Closed already.
    }
    openJournalNames.delete(journal.name);
    const at = this.journals.indexOf(journal);
    if (at >= 0) this.journals.splice(at, 1);
    if (this.current === journal) this.current = undefined;
  }

  /**
   * Every HEARTBEAT_MS while this store keeps journals: refreshes their modification time (the lease
   * other pid spaces go by, see `journalServerMayLive`), and honours the deletion files other
   * processes wrote for them (see `heartbeat`).
   */
  private startHeartbeat(): void {
    if (this.heartbeatTimer !== undefined || this.closed) return;
    this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.heartbeatTimer.unref();
  }

  /**
   * Refreshes the lease of this store's journals. A deletion file that names one of them was written
   * by another process for a message whose record may be there: it must stay while that journal
   * does, so a crash of this server replays the deletion with the journal. This store honours it by
   * retiring its current journal as soon as no message waits in it (a new one is opened by the next
   * append), and then removes the deletion files whose journals are all gone. Never throws.
   */
  private heartbeat(): void {
    if (this.journals.length === 0) return;
    const now = new Date();
    for (const journal of this.journals) {
      try {
        futimesSync(journal.fd, now, now);
      } catch {
        // Tried again at the next beat.
      }
    }
    const targets = this.deletionFileTargets();
    if (targets.size === 0) return;
    const current = this.current;
    if (current !== undefined && targets.has(current.name) && current.refs === 0 && !this.deletionsNeeded(current)) {
      try {
        rmSync(current.path, { force: true });
        this.dropJournal(current);
      } catch {
        // Tried again at the next beat.
      }
    }
    this.dropSpentDeletionFiles();
  }

  /** The journal names the deletion files of the folder are for (see DELETIONS_FILE). Never throws. */
  private deletionFileTargets(): Set<string> {
    const targets = new Set<string>();
    for (const { journals } of this.deletionFiles()) for (const name of journals ?? []) targets.add(name);
    return targets;
  }

  /** The deletion files of the folder, each with the journals its first record names (undefined: an earlier version's, which names none). Never throws. */
  private deletionFiles(): Array<{ path: string; journals: string[] | undefined }> {
    let names: string[];
    try {
      names = readdirSync(this.journalDir).filter((n) => DELETIONS_FILE.test(n));
    } catch {
      return [];
    }
    return names.map((name) => {
      const path = join(this.journalDir, name);
      let journals: string[] | undefined;
      try {
        journals = deletionFileJournals(readFileSync(path));
      } catch {
        // Unreadable: it stays until a replay reads what it can of it.
        journals = [];
      }
      return { path, journals };
    });
  }

  /**
   * Removes the deletion files every journal of which is gone (replayed, or removed by its server
   * once it held nothing needed): their deletions concern no record any more. One of an earlier
   * version (which names no journal) goes once no journal at all is left. Never throws.
   */
  private dropSpentDeletionFiles(): void {
    let present: string[];
    try {
      present = readdirSync(this.journalDir);
    } catch {
      return;
    }
    const journalsLeft = present.some((name) => JOURNAL_FILE.test(name));
    const names = new Set(present);
    for (const { path, journals } of this.deletionFiles()) {
      const spent = journals === undefined ? !journalsLeft : journals.length > 0 && !journals.some((name) => names.has(name));
      if (!spent) continue;
      try {
        rmSync(path, { force: true });
      } catch {
        // Tried again later.
      }
    }
  }

  /**
   * Appends one record to the current journal (opened on first use, and a new one once it has grown
   * past `journalBytes`) with one write, and returns where its content starts; the journal it went
   * to is `current` then. Throws when the disk refuses it, with the journal cut back to where it was,
   * so nothing half-written stays; if even that fails, nothing more is appended to that journal (its
   * torn record stays its last, which a replay drops) and the next record starts a new one.
   */
  private appendJournal(head: object, content?: Buffer): number {
    let journal = this.current;
    if (journal === undefined || journal.size >= this.journalBytes) {
      journal = this.openJournal();
      // The journal before may hold nothing needed any more.
      this.collectJournals();
    }
    // The journal's token first (see JOURNAL_FILE): `{"j":"<token>",` and the rest of the head.
    const headBytes = Buffer.from(`{"j":"${journal.token}",${JSON.stringify(head).slice(1)}`, 'utf8');
    const body = content ?? Buffer.alloc(0);
    const line = Buffer.from(`${JOURNAL_MAGIC} ${headBytes.length} ${body.length}\n`, 'latin1');
    const parts = [line, headBytes, body, NEWLINE];
    const total = line.length + headBytes.length + body.length + 1;
    try {
      const written = writevSync(journal.fd, parts);
      if (written !== total) throw Object.assign(new Error(`the journal took ${written} of ${total} octets`), { code: 'ENOSPC' });
    } catch (error) {
      // Cut a torn record off, so the journal ends on a record boundary (shrinking needs no space).
      try {
        ftruncateSync(journal.fd, journal.size);
      } catch {
        // Its length is unknown now, so the offsets of later records would be wrong: retire it.
        if (this.current === journal) this.current = undefined;
      }
      throw error;
    }
    const offset = journal.size + line.length + headBytes.length;
    journal.size += total;
    return offset;
  }

  /** The content of a journaled message, read back from the journal. */
  private pendingContent(entry: PendingMessage): Buffer {
    const buffer = Buffer.allocUnsafe(entry.length);
    let at = 0;
    while (at < entry.length) {
      const n = readSync(entry.journal.fd, buffer, at, entry.length - at, entry.offset + at);
      if (n === 0) throw new Error('the journal is shorter than its records');
      at += n;
    }
    return buffer;
  }

  /** A journaled message has its files now (or is deleted): its journals may go. */
  private release(entry: PendingMessage): void {
    entry.journal.refs--;
    for (const journal of entry.annotations ?? []) journal.refs--;
  }

  /** Whether a deletion journaled in `journal` still has its message record in another journal file. */
  private deletionsNeeded(journal: JournalFile): boolean {
    for (const id of journal.deletions) {
      if (this.journals.some((j) => j !== journal && j.ids.has(id))) return true;
      journal.deletions.delete(id);
    }
    return false;
  }

  /**
   * Removes the journal files nothing needs any more: no message of theirs waits for its files, and
   * none of their deletions concerns a message whose record is still in an older journal. The
   * current journal is emptied instead, and appended to again.
   */
  private collectJournals(): void {
    for (const journal of [...this.journals]) {
      if (journal.refs > 0 || this.deletionsNeeded(journal)) continue;
      if (journal === this.current) {
        if (journal.size === 0) continue;
        try {
          ftruncateSync(journal.fd, 0);
          journal.size = 0;
          journal.ids.clear();
        } catch {
          // It stays as it is; replaying it would find every message in the folder already.
        }
        continue;
      }
      try {
        rmSync(journal.path, { force: true });
      } catch {
        // Tried again next time.
        continue;
      }
      this.dropJournal(journal);
    }
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
      this.collectJournals();
    })();
    this.exportRun = run;
    void run.finally(() => {
      if (this.exportRun === run) this.exportRun = undefined;
      this.scheduleExport();
    });
    return run;
  }

  /** Writes one journaled message's files: both under temporary names, then into place (see placeFiles). */
  private exportOne(entry: PendingMessage): Promise<void> {
    entry.exporting ??= (async (): Promise<void> => {
      const id = entry.message.id;
      const emlTemp = tempFile(this.tempDir, id);
      try {
        await writeTemp(this.tempDir, emlTemp, this.pendingContent(entry));
        await placeFiles(this.tempDir, id, emlTemp, entry.message.path, entry.message.envelopePath, sidecarText(entry.sidecar));
      } catch (error) {
        // A full disk, say: nothing of this message shows in the folder; the journal keeps it.
        entry.exporting = undefined;
        throw error;
      }
      if (this.pending.get(id) === entry) {
        this.pending.delete(id);
        this.release(entry);
        this.indexPut(basename(entry.message.path), entry.message, true);
        this.collectJournals();
      }
    })();
    return entry.exporting;
  }

  /** Starts receiving a message. */
  begin(): IncomingMessage {
    const id = newId();
    const tempPath = tempFile(this.tempDir, id);
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
          const journal = store.current!;
          journal.refs++;
          journal.ids.add(id);
          store.lastCommit = performance.now();
          store.pending.set(id, { base, message, sidecar, queuedAt: store.lastCommit, journal, offset, length: content.length });
          store.sorted = undefined;
          store.scheduleExport();
          return message;
        }
        // A large message is on disk already, whole: its sidecar is written and both go into place.
        await placeFiles(store.tempDir, id, tempPath, path, envelopePath, sidecarText(sidecar));
        store.indexPut(`${base}.eml`, message, true);
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
    if (writer) {
      // The writer keeps the folder meanwhile: what this store knew may be out of date once it stops.
      this.forgetIndex();
      return writer.list(options);
    }
    if (options.write !== false) await this.settled();
    await this.refreshIndex();
    // Messages the disk had no room for yet are still stored, in the journal.
    this.sorted ??= [...[...this.index.values()].map((e) => e.message), ...[...this.pending.values()].map((e) => e.message)].sort(newestFirst);
    return this.sorted.slice();
  }

  /** The message with this id (its files written out first), or undefined. */
  async get(id: string, options: { write?: boolean } = {}): Promise<StoredMessage | undefined> {
    const writer = this.writer;
    if (writer) return writer.get(id, options);
    const entry = this.pending.get(id);
    if (entry) {
      // With `write: false` a journaled message is answered as it is (its `path` may not exist yet).
      if (options.write !== false) await this.exportOne(entry).catch(() => undefined);
      return entry.message;
    }
    const name = await this.fileOf(id);
    if (name === undefined) return undefined;
    // One sidecar is read afresh (another server may have added its verification results).
    const loaded = await this.load(name);
    if (loaded !== undefined && !this.pending.has(id)) this.indexPut(name, loaded.message, loaded.withSidecar, loaded.sidecarMtimeMs);
    return loaded?.message;
  }

  /** Adds or replaces the index entry of a message whose files are in the folder. */
  private indexPut(name: string, message: StoredMessage, withSidecar: boolean, sidecarMtimeMs?: number): void {
    this.index.set(message.id, { name, message, withSidecar, seq: ++this.indexSeq, ...(sidecarMtimeMs !== undefined ? { sidecarMtimeMs } : {}) });
    this.sorted = undefined;
  }

  /** Removes a message this store deleted from the index. */
  private indexDrop(id: string): void {
    this.index.delete(id);
    this.removedWhileLooking?.add(id);
    this.sorted = undefined;
  }

  /**
   * Forgets the index, which the next listing builds again from the folder. The cached listing goes
   * too, even when the index was empty: it may hold journaled messages that a clear just dropped.
   */
  private forgetIndex(): void {
    this.sorted = undefined;
    this.index.clear();
    this.removals++;
  }

  /**
   * Checks the index against the folder (see `index`). A listing never takes the result of a look
   * that began before it was asked for (a file put in place meanwhile would be missed): while one
   * is under way, one more follows it, shared by every listing that comes meanwhile.
   */
  private refreshIndex(): Promise<void> {
    if (this.refreshing === undefined) {
      this.refreshing = this.revalidate().finally(() => {
        this.refreshing = undefined;
      });
      return this.refreshing;
    }
    this.nextRefresh ??= this.refreshing
      .catch(() => undefined)
      .then(() => {
        this.nextRefresh = undefined;
        return this.refreshIndex();
      });
    return this.nextRefresh;
  }

  private async revalidate(): Promise<void> {
    try {
      await this.lookAtFolder();
    } finally {
      this.removedWhileLooking = undefined;
    }
  }

  private async lookAtFolder(): Promise<void> {
    for (;;) {
      const removals = this.removals;
      const seq = this.indexSeq;
      // Deletions during this look are noted, so what it read of them is not put back; only a clear
      // (which forgets the whole index) makes it look again.
      this.removedWhileLooking = new Set();
      let names: string[];
      try {
        names = await fs.readdir(this.dir);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        names = [];
      }
      const present = new Set(names);
      const gone: string[] = [];
      const toRead: string[] = [];
      const recheck: IndexEntry[] = [];
      const recent = Date.now() - ANNOTATION_WINDOW_MS;
      let othersWrite: boolean | undefined;
      for (const [id, entry] of this.index) {
        if (entry.seq > seq) continue;
        const base = entry.name.slice(0, -'.eml'.length);
        if (!present.has(entry.name)) gone.push(id);
        // A sidecar that came or went (removed by hand, say) since the entry was made.
        else if (present.has(`${base}${SIDECAR_SUFFIX}`) !== entry.withSidecar) toRead.push(entry.name);
        else if (entry.sidecarMtimeMs !== undefined && entry.sidecarMtimeMs > recent && entry.message.authentication === undefined && (othersWrite ??= this.otherServerWrites())) {
          recheck.push(entry);
        }
      }
      for (const name of names) {
        const m = MESSAGE_FILE.exec(name);
        if (m && !this.pending.has(m[2]) && this.index.get(m[2])?.name !== name) toRead.push(name);
      }
      // Sidecars another server rewrote with its verification results (renamed over, so newer).
      const changed = await mapLimited(recheck, INDEX_READ_CONCURRENCY, async (entry) => {
        const stat = await fs.stat(join(this.dir, `${entry.name.slice(0, -'.eml'.length)}${SIDECAR_SUFFIX}`)).catch(() => undefined);
        return stat !== undefined && stat.mtimeMs !== entry.sidecarMtimeMs ? entry.name : undefined;
      });
      for (const name of changed) if (name !== undefined) toRead.push(name);
      const loaded = await mapLimited(toRead, INDEX_READ_CONCURRENCY, async (name) => ({ name, loaded: await this.load(name) }));
      // A clear came meanwhile: what was read may be gone, so look again.
      if (this.removals !== removals) continue;
      const removed = this.removedWhileLooking;
      for (const id of gone) {
        if ((this.index.get(id)?.seq ?? Infinity) <= seq) this.index.delete(id);
      }
      for (const { name, loaded: l } of loaded) {
        const id = MESSAGE_FILE.exec(name)?.[2];
        if (id === undefined || removed.has(id) || this.pending.has(id) || (this.index.get(id)?.seq ?? 0) > seq) continue;
        if (l === undefined) this.index.delete(id);
        else this.index.set(id, { name, message: l.message, withSidecar: l.withSidecar, seq: ++this.indexSeq, ...(l.sidecarMtimeMs !== undefined ? { sidecarMtimeMs: l.sidecarMtimeMs } : {}) });
      }
      if (gone.length > 0 || loaded.length > 0) this.sorted = undefined;
      return;
    }
  }

  /** Whether a server in another process, alive, keeps a journal in this folder (so it may be writing into it). */
  private otherServerWrites(): boolean {
    let names: string[];
    try {
      names = readdirSync(this.journalDir);
    } catch {
      return false;
    }
    return names.some((name) => JOURNAL_FILE.test(name) && !openJournalNames.has(name) && journalServerMayLive(name, join(this.journalDir, name)));
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
    let entry = this.pending.get(id);
    // An export under way may fail (a full disk, say): the message is then still journaled.
    while (entry?.exporting) {
      await entry.exporting.catch(() => undefined);
      entry = this.pending.get(id);
    }
    if (entry) {
      entry.sidecar = { ...entry.sidecar, authentication };
      entry.message = { ...entry.message, authentication };
      this.sorted = undefined;
      // Journaled too, so a crash before the files are written keeps the results (a full disk
      // loses them only if the server also dies before it writes the files).
      if (this.appendJournalQuietly({ a: id, authentication })) {
        const journal = this.current!;
        if (journal !== entry.journal && !entry.annotations?.includes(journal)) {
          journal.refs++;
          (entry.annotations ??= []).push(journal);
        }
      }
      return true;
    }
    const name = await this.fileOf(id);
    if (name === undefined) return false;
    const envelopePath = join(this.dir, `${name.slice(0, -'.eml'.length)}${SIDECAR_SUFFIX}`);
    const sidecar = (await readSidecar(envelopePath))?.sidecar;
    if (sidecar === undefined) return false;
    const temp = tempFile(this.tempDir, `${id}.annotate`);
    await writeThroughTemp(this.tempDir, temp, envelopePath, sidecarText({ ...sidecar, authentication }));
    // A deletion (delete() removes the .eml first) while the sidecar was written: it must not stay alone.
    if (!(await fs.access(join(this.dir, name)).then(() => true, () => false))) {
      await fs.rm(envelopePath, { force: true });
      return false;
    }
    if (!this.pending.has(id)) this.indexPut(name, messageOf(join(this.dir, name), envelopePath, id, { ...sidecar, authentication }), true);
    return true;
  }

  /** Deletes a message and its sidecar; reports whether it existed. */
  async delete(id: string): Promise<boolean> {
    const writer = this.writer;
    if (writer) return writer.delete(id);
    if (!ID_PATTERN.test(id)) return false;
    const entry = this.pending.get(id);
    if (entry) {
      // A write-out under way, or one started while this waits (by get(), say), ends first: once the
      // message is no longer pending none can start, so none puts its files back after they go.
      while (entry.exporting) await entry.exporting.catch(() => undefined);
      if (this.pending.get(id) === entry) {
        this.pending.delete(id);
        this.release(entry);
      }
      this.journalDeletion(id);
      this.indexDrop(id);
      await fs.rm(entry.message.path, { force: true });
      await fs.rm(entry.message.envelopePath, { force: true });
      this.collectJournals();
      return true;
    }
    const name = await this.fileOf(id);
    if (name === undefined) return false;
    // Before the files go: a crash in between leaves a journaled deletion, which a replay carries out.
    // When it cannot be recorded where a replay would need it, this throws and nothing is removed.
    this.journalDeletion(id);
    this.indexDrop(id);
    await this.remove(name);
    this.collectJournals();
    return true;
  }

  /**
   * Journals the deletion of a message whose record may still be in a journal, so a replay of that
   * journal does not bring the message back. When one of this store's journals holds the record (its
   * files written or not), the deletion goes into this store's journal, and only a crash before the
   * files are written loses it if the disk refuses it. Otherwise, while other processes keep
   * journals in the folder (a live server, whose crash would have its journal replayed; a gone
   * server's journal waiting to be replayed, because this store's replay was cut short or because
   * this store replays nothing, as the Local Inbox's while the server is stopped), it goes into a
   * deletion file beside them that names them, never into this store's journal, which `clear`
   * empties; this throws when that file cannot be written, so the caller removes nothing: a
   * deletion that would not stick is not made. The journals are listed after the caller found the
   * message's files, so the journal that holds its record, written before them, is among them. With
   * one server alone in its folder, as usual, no other journal is there and this costs one listing.
   */
  private journalDeletion(id: string): void {
    const holder = this.journals.find((j) => j.ids.has(id));
    if (holder === undefined) {
      const foreign = this.foreignJournals();
      if (foreign.length > 0) this.journalDeletionsBeside([id], foreign);
      return;
    }
    if (!this.appendJournalQuietly({ d: id })) return;
    // Kept until the journal holding the message is gone.
    if (this.current !== holder) this.current!.deletions.add(id);
  }

  /**
   * Writes a deletion file with the deletions of `ids`, for the journals named `journals`, into the
   * journal folder, whole under a temporary name and renamed, so a replay reads all of it or none of
   * it. Its first record names the journals, so it is removed once they are all gone (see
   * DELETIONS_FILE). Throws when the disk refuses it.
   */
  private journalDeletionsBeside(ids: string[], journals: string[]): void {
    if (ids.length === 0) return;
    const parts: Buffer[] = [];
    for (const head of [{ for: journals }, ...ids.map((id) => ({ d: id }))]) {
      const bytes = Buffer.from(JSON.stringify(head), 'utf8');
      parts.push(Buffer.from(`${JOURNAL_MAGIC} ${bytes.length} 0\n`, 'latin1'), bytes, NEWLINE);
    }
    const name = `deletions-${newId()}`;
    writeThroughTempSync(this.tempDir, tempFile(this.tempDir, name), join(this.journalDir, `${name}.log`), Buffer.concat(parts));
  }

  /**
   * The write-outs running now (the export run, or single messages written out by get()), to wait
   * for; undefined when none runs. Asked again after each wait, since one may start meanwhile.
   */
  private runningExports(): Promise<unknown> | undefined {
    if (this.exportRun) return this.exportRun;
    const running = [...this.pending.values()].flatMap((e) => (e.exporting ? [e.exporting] : []));
    return running.length === 0 ? undefined : Promise.allSettled(running);
  }

  /** Deletes every stored message; returns how many there were. */
  async clear(): Promise<number> {
    const writer = this.writer;
    if (writer) return writer.clear();
    // Write-outs under way, and any started while this waits (by get() or list()), end first; the
    // pending messages are dropped right after the last look, with no await in between, so none is
    // being written and none can start: none puts a file back after the folder is emptied.
    let running: Promise<unknown> | undefined;
    while ((running = this.runningExports()) !== undefined) await running;
    const journaled = [...this.pending.keys()];
    this.pending.clear();
    this.forgetIndex();
    // No journal record is needed any more: every message goes.
    const left: string[] = [];
    for (const journal of [...this.journals]) {
      journal.refs = 0;
      if (journal === this.current) {
        try {
          ftruncateSync(journal.fd, 0);
          journal.size = 0;
          journal.ids.clear();
          journal.deletions.clear();
        } catch {
          left.push(...journal.ids);
        }
        continue;
      }
      try {
        rmSync(journal.path, { force: true });
      } catch {
        left.push(...journal.ids);
        continue;
      }
      this.dropJournal(journal);
    }
    // A journal that could not be emptied gets the deletions of its messages instead.
    for (const id of left) this.journalDeletion(id);
    const names = (await fs.readdir(this.dir).catch(() => [] as string[])).filter((n) => MESSAGE_FILE.test(n));
    // Messages whose records may be in journals other processes keep (live servers', or gone ones'
    // not replayed yet): their deletions go beside those journals before the files go (the
    // journals are listed after the folder, so one that holds a listed message is seen). When that
    // cannot be written, this throws and the files stay (the messages that waited in this store's
    // journal are gone already).
    const foreign = names.length > 0 ? this.foreignJournals() : [];
    if (foreign.length > 0) this.journalDeletionsBeside(names.flatMap((n) => MESSAGE_FILE.exec(n)?.[2] ?? []), foreign);
    await Promise.all(names.map((n) => this.remove(n)));
    // Whatever the index learnt while the files went is gone with them.
    this.forgetIndex();
    // Sidecars whose message is gone already.
    for (const name of await fs.readdir(this.dir).catch(() => [] as string[])) {
      if (name.endsWith(SIDECAR_SUFFIX) && MESSAGE_FILE.test(`${name.slice(0, -SIDECAR_SUFFIX.length)}.eml`)) {
        await fs.rm(join(this.dir, name), { force: true });
      }
    }
    return names.length + journaled.length;
  }

  /**
   * Appends a record whose loss only matters if the server dies before its journal goes (a
   * deletion, verification results); reports whether it was journaled.
   */
  private appendJournalQuietly(head: object): boolean {
    try {
      this.appendJournal(head);
      return true;
    } catch {
      // A full disk: this run goes on without it; only a crash before the files are written loses it.
      return false;
    }
  }

  private async remove(name: string): Promise<void> {
    const base = name.slice(0, -'.eml'.length);
    await fs.rm(join(this.dir, name), { force: true });
    await fs.rm(join(this.dir, `${base}${SIDECAR_SUFFIX}`), { force: true });
  }

  /**
   * Finds the file name of an id (the index's, when its `.eml` is still there, else the folder's);
   * ids are checked, so no path can escape the folder.
   */
  private async fileOf(id: string): Promise<string | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    const known = this.index.get(id)?.name;
    if (known !== undefined && (await fs.access(join(this.dir, known)).then(() => true, () => false))) return known;
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    return names.find((n) => MESSAGE_FILE.exec(n)?.[2] === id);
  }

  /**
   * Reads a message of the folder from its sidecar (and the sidecar's modification time), or, when
   * the sidecar is missing or unreadable, from the `.eml`'s own header fields; undefined when the
   * `.eml` is gone.
   */
  private async load(name: string): Promise<{ message: StoredMessage; withSidecar: boolean; sidecarMtimeMs?: number } | undefined> {
    const m = MESSAGE_FILE.exec(name);
    if (!m) return undefined;
    const base = name.slice(0, -'.eml'.length);
    const path = join(this.dir, name);
    const envelopePath = join(this.dir, `${base}${SIDECAR_SUFFIX}`);
    this.sidecarReads++;
    const read = await readSidecar(envelopePath);
    if (read !== undefined) return { message: messageOf(path, envelopePath, m[2], read.sidecar), withSidecar: true, sidecarMtimeMs: read.mtimeMs };
    // No sidecar (removed by hand, say): show what the file itself says.
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(path, 'r');
      const stat = await handle.stat();
      const buffer = Buffer.alloc(Math.min(stat.size, HEADER_SCAN_LIMIT));
      await handle.read(buffer, 0, buffer.length, 0);
      const exists = await fs.access(envelopePath).then(() => true, () => false);
      return { message: { id: m[2], path, envelopePath, receivedAt: stampToDate(m[1]), size: stat.size, ...parseSummaryHeaders(buffer) }, withSidecar: exists };
    } catch (error) {
      // Deleted while we looked.
      if (isNotFound(error)) return undefined;
      throw error;
    } finally {
      await handle?.close();
    }
  }
}

/** Reads a sidecar and when it was last written; undefined when it is missing or unreadable. Never throws. */
async function readSidecar(path: string): Promise<{ sidecar: Sidecar; mtimeMs: number } | undefined> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(path, 'r');
    const mtimeMs = (await handle.stat()).mtimeMs;
    const sidecar = parseSidecar(await handle.readFile('utf8'));
    return sidecar === undefined ? undefined : { sidecar, mtimeMs };
  } catch {
    return undefined;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** A sidecar's text as a sidecar, or undefined. Never throws. */
function parseSidecar(text: string): Sidecar | undefined {
  try {
    const value = JSON.parse(text) as Partial<Sidecar> | null;
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
