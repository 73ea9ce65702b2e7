/**
 * Fetching reports from an IMAP mailbox (imapflow): the one home of what `smtpwb report fetch` and
 * the editor's "SMTP: Fetch Reports over IMAP…" do. Every message of the mailbox is read
 * (read-only: nothing is marked seen); failure reports (RFC 9991, `multipart/report` with a
 * `message/feedback-report` part) are saved whole as `.eml`, and the report attachments of other
 * messages (RFC 7489 §7.2.1.1, RFC 8460 §5.3) are saved under their own names (RFC 2047 decoded),
 * reduced to safe characters, with the report extension of their content and unique within the
 * run, so that `smtpwb report DIR` reads every file saved. No `vscode`: the caller gives the target, the credentials and the output folder.
 *
 * Bounds, so that a hostile or broken server can neither hang a fetch nor fill the disk or memory:
 * - every wait for the server (connecting, greeting and login together, then EXAMINE, the size
 *   listing, each message of a FETCH, LOGOUT) has the timeout (`timeoutMs`), which is also the
 *   longest silence the connection allows;
 * - the size listing asks for the messages EXAMINE announced (`FETCH 1:N`, N its EXISTS) and
 *   accepts at most N of them: a message number outside 1..N or listed twice is a protocol
 *   violation that ends the fetch, and the listing as a whole has the timeout for every
 *   LISTING_PER_TIMEOUT messages announced, so that a server streaming answers for ever is stopped;
 *   a mailbox announcing more than MAX_LISTED_MESSAGES is refused before the listing;
 * - a download accepts at most twice as many answers as it asked for messages (the surplus being
 *   server faults: a UID sent twice or not asked for, each refused and reported);
 * - a message larger than the report-size limit (its RFC822.SIZE, RFC 3501 §6.4.5) is not
 *   downloaded but reported as skipped, and a download is asked for at most one byte more than the
 *   limit (`BODY.PEEK[]<0.N>`): a server that sends more than it announced is caught there;
 * - each file is written to a temporary name in the output folder and renamed into place, so an
 *   interrupted fetch never leaves a half-written report under a name `smtpwb report DIR` reads.
 *
 * Every message that was listed but is not saved is reported through `onSkipped` with a reason:
 * over the size limit, a UID the server gave twice (the second is refused, never saved over the
 * first), an answer without the message body, or a message left out of the answer. The saved names
 * are unique across the whole run, so the count of saved files is the number of files written.
 *
 * The `Report Domain:` claim of a rua= mail's Subject (RFC 7489 §7.2.1.1, kept by RFC 9990) is
 * kept in the saved file's name, in the RFC 7489 §7.2.1.1 file-name form `UID!DOMAIN!subject!NAME`
 * whenever the attachment's own name does not already claim that domain, so that `smtpwb report
 * DIR` checks it (`dmarc-agg-domain-mismatch`, `tlsrpt-domain-mismatch`) as it checks a file name.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basename, join } from 'node:path';
import { formatMs } from '../../../common/duration';
import { visibleLine } from '../../../common/escape';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { domainFromReportFileName, domainFromReportSubject } from '../../../server/src/reports/aggregate';
import { DEFAULT_ARCHIVE_LIMITS, isGzip, isZip } from '../../../server/src/reports/archive';
import { decodeEncodedWords } from '../../../server/src/reports/attachmentName';
import { messageSubject, reportAttachments, type ReportAttachment } from '../../../server/src/reports/failure';
import { isFailureReportMessage } from '../../../server/src/reports/open';
import { domainKey } from './reportDomain';

// The one decision of what a failure report is lives with the report opener (server/src/reports/open.ts).
export { isFailureReportMessage };

/** How the connection is protected: implicit TLS (RFC 8314), STARTTLS (RFC 3501 §6.2.1) or none. */
export type ImapTlsMode = 'tls' | 'starttls' | 'none';

/**
 * The largest message a fetch downloads: the report-size limit (`report-size-limit`, the 50 MiB
 * that `smtpwb report` allows a file and decompressed output, archive.ts DEFAULT_ARCHIVE_LIMITS),
 * so that nothing is fetched that `smtpwb report` would refuse to read.
 */
export const MAX_FETCHED_MESSAGE_BYTES = DEFAULT_ARCHIVE_LIMITS.maxBytes;

/** The default of `timeoutMs`. */
export const DEFAULT_IMAP_TIMEOUT_MS = 30_000;

export interface ImapFetchOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The mailbox to read (default INBOX). */
  mailbox?: string;
  tls: ImapTlsMode;
  /** A CA certificate (PEM) to trust for the server. */
  ca?: Buffer;
  /**
   * The longest wait for the server (default 30 s): connecting, the greeting and the login
   * together, then each command's answer and each message of a FETCH; also the longest silence.
   */
  timeoutMs?: number;
  /** The largest message downloaded (default MAX_FETCHED_MESSAGE_BYTES); larger ones are skipped. */
  maxMessageBytes?: number;
  /** The folder the reports are saved to (created when missing). */
  out: string;
  /** Called with each saved file's path, as it is written. */
  onSaved?: (path: string) => void;
  /** Called with each message that is not downloaded, as it is skipped. */
  onSkipped?: (skipped: SkippedMessage) => void;
}

/** A message that was not downloaded; `reason` is this program's text (peer-free). */
export interface SkippedMessage {
  uid: number;
  /** The size the server gave (RFC822.SIZE), or the bytes it sent when it sent more. */
  size: number;
  reason: string;
}

export type ImapFetchResult =
  | { ok: true; messages: number; saved: string[]; skipped: SkippedMessage[]; mailbox: string }
  /** `connect`: the server could not be reached or refused the login; `fetch`: a later command failed. The message has the password masked and control characters escaped. */
  | { ok: false; stage: 'connect' | 'fetch'; authenticationFailed: boolean; message: string; saved: string[]; skipped: SkippedMessage[] };

/** The longest saved file name, in UTF-8 bytes (file systems allow 255; the temporary name adds about 20). */
const MAX_NAME_BYTES = 200;

/** The longest prefix of a text that fits in `bytes` UTF-8 bytes, never cutting a character. */
function clipBytes(text: string, bytes: number): string {
  let out = '';
  let used = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (used + n > bytes) break;
    out += ch;
    used += n;
  }
  return out;
}

/** A file name for a saved report: the attachment's own name, reduced to safe characters (letters, digits, `._!@+=-`). */
export function safeReportFileName(uid: number, name: string, fallback: string): string {
  const base = safeBase(name);
  return clipBytes(`${uid}-${base === '' ? fallback : base}`, MAX_NAME_BYTES);
}

function safeBase(name: string): string {
  return basename(name.normalize('NFC').replace(/\\/g, '/'))
    .replace(/[^\p{L}\p{N}._!@+=-]/gu, '_')
    .replace(/^\.+/, '');
}

/**
 * The policy domain a rua= mail's Subject claims (RFC 7489 §7.2.1.1 "Report Domain: X", kept by
 * RFC 9990; RFC 8460 §5.3 for TLS-RPT), its RFC 2047 encoded words decoded first, in the reports'
 * normal form (domainKey: lower case, no final dot, U-labels converted to A-labels, so that the
 * mismatch check, which compares both sides in that form, agrees whichever form the report uses);
 * undefined when there is none, or when it is not a name a file name can carry (letters, digits,
 * dots, hyphens: what aggregate.ts domainFromReportFileName reads back).
 */
export function subjectDomainClaim(mail: string): string | undefined {
  const subject = messageSubject(mail);
  if (subject === undefined) return undefined;
  const claim = domainFromReportSubject(subject);
  if (claim === undefined) return undefined;
  const key = domainKey(claim);
  return /^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/.test(key) && key.length <= 100 ? key : undefined;
}

/** The report extensions `smtpwb report DIR` reads (collect.ts REPORT_FILE), longest first. */
const REPORT_EXTENSIONS = ['.xml.gz', '.json.gz', '.eml.gz', '.xml', '.json', '.eml', '.zip', '.gz'];

/** What the first non-blank byte of report content says: `<` XML, `{`/`[` JSON, a header field a mail. */
function textExtension(head: Buffer): string | undefined {
  const text = head.toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '');
  const first = /\S/.exec(text)?.[0];
  if (first === '<') return '.xml';
  if (first === '{' || first === '[') return '.json';
  if (/^[\x21-\x39\x3b-\x7e]+:/.test(text)) return '.eml';
  return undefined;
}

/**
 * The report extension of an attachment from its magic bytes (gzip 1F 8B, zip `PK`, then the text's
 * first character; a gzip's first bytes are inflated to tell `.xml.gz` from `.json.gz`), else from
 * its media type (RFC 7489 §7.2.1.1, RFC 8460 §5.3).
 */
export function reportExtension(data: Buffer, contentType: string): string {
  if (isGzip(data)) {
    let inner: string | undefined;
    try {
      // A prefix of the stream, flushed without requiring its end: a few hundred bytes of output.
      const head = gunzipSync(data.subarray(0, 512), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 1024 * 1024 });
      inner = textExtension(head.subarray(0, 1024));
    } catch {
      inner = undefined;
    }
    if (!inner && /tlsrpt/i.test(contentType)) inner = '.json';
    return `${inner ?? ''}.gz`;
  }
  if (isZip(data)) return '.zip';
  const byText = textExtension(data.subarray(0, 1024));
  if (byText) return byText;
  const type = contentType.toLowerCase();
  if (type.includes('zip') && !type.includes('gzip')) return '.zip';
  if (type.includes('gzip')) return type.includes('tlsrpt') ? '.json.gz' : '.gz';
  if (type.includes('json')) return '.json';
  if (type.includes('xml')) return '.xml';
  return '.xml';
}

/**
 * The name a report attachment is saved under: `UID-NAME.EXT`, NAME the attachment's own name
 * (RFC 2231 / RFC 2047 decoded, then reduced to safe characters) or `report`, EXT the report
 * extension of its content (kept when the name has it, appended otherwise: `report.xml` holding
 * gzip becomes `report.xml.gz`), unique within the run (`-2`, `-3` before the extension; `taken`
 * holds the names given so far, lower-cased) and at most 200 bytes (UTF-8).
 *
 * `claimedDomain` is the domain the mail's Subject claims (subjectDomainClaim). When the name does
 * not already claim it in the RFC 7489 §7.2.1.1 form (`receiver!policy-domain!begin!end.ext`, as
 * aggregate.ts domainFromReportFileName reads it), the name becomes `UID!DOMAIN!subject!NAME.EXT`,
 * which that form reads as claiming DOMAIN: the Subject's claim wins over the attachment's name, as
 * it does when `smtpwb report` reads the whole mail (open.ts).
 */
export function reportAttachmentFileName(uid: number, attachment: ReportAttachment, taken: Set<string>, claimedDomain?: string): string {
  const ext = reportExtension(attachment.data, attachment.contentType);
  let base = safeBase(decodeEncodedWords(attachment.filename));
  const lower = base.toLowerCase();
  let stem: string;
  if (lower.endsWith(ext)) stem = base.slice(0, base.length - ext.length);
  // `report.xml` holding gzip: the name keeps `.xml` and gains `.gz`.
  else if (ext !== '.gz' && ext.endsWith('.gz') && lower.endsWith(ext.slice(0, -3))) stem = base.slice(0, base.length - (ext.length - 3));
  else if (ext === '.gz' && /\.(?:xml|json|eml)$/.test(lower)) stem = base;
  else {
    // Another report extension than the content has is replaced; other suffixes are kept.
    const other = REPORT_EXTENSIONS.find((e) => lower.endsWith(e));
    stem = other ? base.slice(0, base.length - other.length) : base;
  }
  if (stem.replace(/[._-]/g, '') === '') stem = 'report';
  base = stem;
  const claim = claimedDomain === undefined ? undefined : domainKey(claimedDomain);
  const nameWith = (prefix: string, suffix: string): string => `${prefix}${clipBytes(base, Math.max(1, MAX_NAME_BYTES - Buffer.byteLength(prefix) - suffix.length - ext.length))}${suffix}${ext}`;
  for (let n = 1; ; n++) {
    const suffix = n === 1 ? '' : `-${n}`;
    let name = nameWith(`${uid}-`, suffix);
    if (claim !== undefined && claim !== '' && domainKey(domainFromReportFileName(name) ?? '') !== claim) name = nameWith(`${uid}!${claim}!subject!`, suffix);
    if (!taken.has(name.toLowerCase())) {
      taken.add(name.toLowerCase());
      return name;
    }
  }
}

/**
 * `name` itself when no name of the run has it yet (compared lower-cased, as `taken` holds them),
 * else `-2`, `-3`, ... before its report extension; the name returned is added to `taken`.
 */
export function uniqueName(name: string, taken: Set<string>): string {
  const ext = REPORT_EXTENSIONS.find((e) => name.toLowerCase().endsWith(e)) ?? '';
  const stem = name.slice(0, name.length - ext.length);
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? name : `${clipBytes(stem, MAX_NAME_BYTES - ext.length - `-${n}`.length)}-${n}${ext}`;
    if (!taken.has(candidate.toLowerCase())) {
      taken.add(candidate.toLowerCase());
      return candidate;
    }
  }
}

/** True for the loopback names and addresses, the only targets a plain-text login may go to. */
export function isLoopbackImapHost(host: string): boolean {
  return host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
}

/** Why the options cannot be used (a plain-text login to a host that is not loopback), or undefined. */
export function imapFetchRefusal(options: Pick<ImapFetchOptions, 'host' | 'tls'>): string | undefined {
  if (options.tls === 'none' && !isLoopbackImapHost(options.host)) return 'a plain-text IMAP login is allowed only to a loopback address; use implicit TLS or STARTTLS';
  return undefined;
}

/** The server did not answer within the timeout: `what` names the wait (this program's text); `text` replaces the whole message. */
class ImapWaitTimeout extends Error {
  constructor(
    readonly what: string,
    readonly text?: string,
  ) {
    super(what);
  }
}

/** What ends the fetch in this program's words (a protocol violation, a mailbox too large to list); numbers from the peer only. */
class ImapFetchStopped extends Error {}

/**
 * How many announced messages the size listing may take per timeout: the listing as a whole must
 * end within `timeoutMs` for each started block of this many messages (one line of about 40 bytes
 * each), which a real server meets with a wide margin and a server streaming for ever does not.
 */
export const LISTING_PER_TIMEOUT = 10_000;

/**
 * The most messages one fetch lists (a mailbox announcing more is refused before the listing): the
 * listing is held in memory (some 150 bytes a message) and bounded in time by the count, so a
 * server announcing four billion messages must not make either unbounded.
 */
export const MAX_LISTED_MESSAGES = 1_000_000;

/** The codes of imapflow's own timeouts (connection, greeting, STARTTLS upgrade, silence). */
const IMAPFLOW_TIMEOUTS = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT', 'ETIMEOUT']);

/** The most messages one FETCH of message sources asks for (also bounded by their total size). */
const FETCH_BATCH = 50;

/**
 * Writes a file so that it appears whole or not at all: the data goes to a temporary name in the
 * same folder (created exclusively, so it never follows a planted link), is flushed to disk and
 * renamed over the final name (which replaces a link or an older file there, never writes through
 * it). The temporary name ends in `.part`, which `smtpwb report DIR` does not read; it is removed
 * when any step fails.
 */
async function writeFileAtomically(path: string, dir: string, name: string, data: Buffer): Promise<void> {
  const temp = join(dir, `.${name}.${process.pid}-${randomBytes(6).toString('hex')}.part`);
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** Saves the reports of one IMAP mailbox to a folder. Never throws for server or login errors. */
export async function fetchReportsOverImap(options: ImapFetchOptions): Promise<ImapFetchResult> {
  const mailbox = options.mailbox ?? 'INBOX';
  const timeout = options.timeoutMs ?? DEFAULT_IMAP_TIMEOUT_MS;
  const limit = options.maxMessageBytes ?? MAX_FETCHED_MESSAGE_BYTES;
  const saved: string[] = [];
  const skipped: SkippedMessage[] = [];
  const refusal = imapFetchRefusal(options);
  if (refusal) return { ok: false, stage: 'connect', authenticationFailed: false, message: refusal, saved, skipped };
  // imapflow is loaded on use, so the bundles that do not fetch do not pay for it.
  const { ImapFlow } = await import('imapflow');
  const client = new ImapFlow({
    host: options.host,
    port: options.port,
    secure: options.tls === 'tls',
    doSTARTTLS: options.tls === 'tls' ? undefined : options.tls === 'starttls',
    auth: { user: options.user, pass: options.password },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    // The longest silence; the waits below also bound a server that answers slowly but never ends.
    socketTimeout: timeout,
    // A download is asked for at most limit + 1 bytes; a literal beyond that is a server sending
    // more than it was asked for, and imapflow ends the connection before buffering it.
    maxLiteralSize: limit + 1,
    maxResponseSize: limit + 1 + 1024 * 1024,
    tls: { rejectUnauthorized: true, ...(options.ca ? { ca: options.ca } : {}), ...(isIP(options.host) === 0 ? { servername: options.host } : {}) },
  } as ConstructorParameters<typeof ImapFlow>[0]);
  // Errors also reject the pending command, which is where they are reported; the first one is
  // kept, because the command may only say that the connection is gone.
  let connectionError: { code?: string; message?: string } | undefined;
  client.on('error', (error: { code?: string; message?: string }) => {
    connectionError ??= error;
  });
  // The server's text may quote what it was sent; the password is masked before anything shows it.
  const mask = (text: string): string => visibleLine(options.password === '' ? text : text.split(options.password).join('****'));
  // What is being waited for: imapflow's own timers (connection, greeting, silence) may fire first.
  let waitingFor = '';
  const within = <T>(promise: Promise<T>, what: string): Promise<T> => {
    waitingFor = what;
    // The wait that lost the race may still reject when the connection is closed: that is handled here.
    promise.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new ImapWaitTimeout(what)), timeout);
    });
    return Promise.race([promise, expiry]).finally(() => clearTimeout(timer));
  };
  /**
   * Runs `each` on every item of a FETCH, each item awaited within the timeout; with `overall`, the
   * whole FETCH must also end within `overall.ms` (its expiry says `overall.text`).
   */
  const eachWithin = async <T>(items: AsyncIterable<T>, what: string, each: (item: T) => Promise<void> | void, overall?: { ms: number; text: string }): Promise<void> => {
    const iterator = items[Symbol.asyncIterator]();
    let overallTimer: NodeJS.Timeout | undefined;
    const overallExpiry =
      overall === undefined
        ? undefined
        : new Promise<never>((_resolve, reject) => {
            overallTimer = setTimeout(() => reject(new ImapWaitTimeout(what, overall.text)), overall.ms);
          });
    overallExpiry?.catch(() => undefined);
    try {
      for (;;) {
        const pending = iterator.next();
        const next = await within(overallExpiry === undefined ? pending : Promise.race([pending, overallExpiry]), what);
        if (next.done) return;
        await each(next.value);
      }
    } finally {
      clearTimeout(overallTimer);
    }
  };
  const failure = (stage: 'connect' | 'fetch', error: unknown): ImapFetchResult => {
    client.close();
    const e = error as { message?: string; responseText?: string; authenticationFailed?: boolean; code?: string };
    // A command on a connection that failed says only "Connection not available"; the cause came first.
    const code = connectionError?.code ?? e.code;
    if (error instanceof ImapFetchStopped) return { ok: false, stage, authenticationFailed: false, message: error.message, saved, skipped };
    if (error instanceof ImapWaitTimeout && error.text !== undefined) return { ok: false, stage, authenticationFailed: false, message: error.text, saved, skipped };
    if (error instanceof ImapWaitTimeout || IMAPFLOW_TIMEOUTS.has(code ?? '')) {
      const what = error instanceof ImapWaitTimeout ? error.what : waitingFor;
      return { ok: false, stage, authenticationFailed: false, message: `the server did not answer ${visibleLine(what)} within ${formatMs(timeout)}`, saved, skipped };
    }
    if (code === 'LiteralTooLarge' || code === 'ResponseTooLarge') {
      return { ok: false, stage, authenticationFailed: false, message: `the server sent more than the ${limit}-byte limit for a message it was asked for; the connection was closed`, saved, skipped };
    }
    return { ok: false, stage, authenticationFailed: e.authenticationFailed === true, message: mask(connectionError?.message ?? e.responseText ?? e.message ?? String(error)), saved, skipped };
  };
  try {
    await within(client.connect(), 'the connection, greeting or login');
  } catch (error) {
    return failure('connect', error);
  }
  let messages = 0;
  // The names given so far in this run, lower-cased (file systems may ignore case): a name is never
  // given twice, so no saved report is replaced by another and `saved` counts the files written.
  const taken = new Set<string>();
  const save = async (name: string, data: Buffer): Promise<void> => {
    const path = join(options.out, name);
    try {
      await writeFileAtomically(path, options.out, name, data);
    } catch (error) {
      throw new Error(`cannot save ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    saved.push(path);
    options.onSaved?.(path);
  };
  const skip = (uid: number, size: number, reason: string): void => {
    const s: SkippedMessage = { uid, size, reason };
    skipped.push(s);
    options.onSkipped?.(s);
  };
  try {
    await mkdir(options.out, { recursive: true });
    const box = await within(client.mailboxOpen(mailbox, { readOnly: true }), 'EXAMINE');
    // The count EXAMINE announced (RFC 3501 §7.3.1); imapflow updates `box.exists` on later EXISTS
    // responses, so it is read once here.
    const exists = box.exists;
    if (exists > MAX_LISTED_MESSAGES) {
      throw new ImapFetchStopped(`${visibleLine(mailbox)} holds ${exists} messages, more than the ${MAX_LISTED_MESSAGES} one fetch lists: move older messages to another mailbox and fetch the mailboxes one at a time`);
    }
    if (exists > 0) {
      // The sizes first (RFC822.SIZE, RFC 3501 §6.4.5), so a message over the limit is never downloaded.
      // Only the announced messages are asked for, and each may be listed once (a FETCH answer
      // carries the message's number, RFC 3501 §7.4.2): at most `exists` messages are kept.
      const listed: Array<{ uid: number; size: number | undefined }> = [];
      const listedSeqs = new Set<number>();
      const listedUids = new Set<number>();
      // Unsolicited FETCH answers (flag changes, RFC 3501 §7.4.2) are ignored, up to `exists` of them.
      let updates = 0;
      const listingMs = timeout * Math.max(1, Math.ceil(exists / LISTING_PER_TIMEOUT));
      await eachWithin(
        client.fetch(`1:${exists}`, { uid: true, size: true }),
        'FETCH (UID RFC822.SIZE)',
        (m) => {
          const seq = m.seq;
          if (!Number.isSafeInteger(seq) || seq < 1 || seq > exists) {
            throw new ImapFetchStopped(`the server listed message ${Number.isSafeInteger(seq) ? seq : '(no number)'}, but EXAMINE announced ${exists} message(s) (RFC 3501 §6.4.5): the fetch was stopped`);
          }
          // A flag change may carry the UID too (RFC 7162 §3.2.4), but not the size, after the message was listed.
          if (m.uid === undefined || (m.size === undefined && listedSeqs.has(seq))) {
            if (++updates > exists) throw new ImapFetchStopped(`the server sent more than ${exists} answer(s) without a UID or size to the size listing of ${exists} message(s) (RFC 3501 §6.4.5): the fetch was stopped`);
            return;
          }
          if (listedSeqs.has(seq)) throw new ImapFetchStopped(`the server listed message ${seq} twice in the size listing (RFC 3501 §6.4.5): the fetch was stopped`);
          listedSeqs.add(seq);
          if (listedUids.has(m.uid)) {
            // RFC 3501 §2.3.1.1: a UID names one message of the mailbox. The first keeps it.
            skip(m.uid, m.size ?? 0, `the server gave UID ${m.uid} to a second message (message ${seq}; a UID names one message, RFC 3501 §2.3.1.1): the second was not downloaded`);
            return;
          }
          listedUids.add(m.uid);
          listed.push({ uid: m.uid, size: m.size });
        },
        { ms: listingMs, text: `the server did not finish the size listing (FETCH (UID RFC822.SIZE)) of ${exists} message(s) within ${formatMs(listingMs)}` },
      );
      messages = listedSeqs.size;
      const wanted: Array<{ uid: number; size: number }> = [];
      for (const m of listed) {
        if (m.size !== undefined && m.size > limit) skip(m.uid, m.size, `${m.size} bytes, more than the ${limit}-byte limit for a report: not downloaded`);
        else wanted.push({ uid: m.uid, size: m.size ?? limit });
      }
      // The UIDs whose message has been handled, over the whole run: one sent again is refused.
      const delivered = new Set<number>();
      // Batches of at most FETCH_BATCH messages and about `limit` announced bytes: few round trips,
      // and one answer's size stays near the limit (imapflow holds one message at a time: it reads
      // the next only when the previous one has been handled).
      for (let i = 0; i < wanted.length; ) {
        // The UIDs asked for and not yet delivered, with their announced sizes.
        const asked = new Map<number, number>();
        let bytes = 0;
        while (i < wanted.length && asked.size < FETCH_BATCH && (asked.size === 0 || bytes + wanted[i].size <= limit)) {
          bytes += wanted[i].size;
          asked.set(wanted[i].uid, wanted[i].size);
          i++;
        }
        const batch = [...asked.keys()];
        // The asked-for UIDs that were answered without a body (the reason differs from "left out").
        const bodiless = new Set<number>();
        let answers = 0;
        await eachWithin(client.fetch(batch.join(','), { uid: true, source: { start: 0, maxLength: limit + 1 } }, { uid: true }), 'FETCH (BODY.PEEK[])', async (msg) => {
          if (++answers > 2 * batch.length) {
            throw new ImapFetchStopped(`the server sent more than ${2 * batch.length} answers to a download of ${batch.length} message(s) (RFC 3501 §6.4.5): the fetch was stopped`);
          }
          const uid = msg.uid;
          // An answer without a UID, or without a body, is not a delivery: an unsolicited flag
          // change (RFC 3501 §7.4.2) looks like this, and a message the server did not send is
          // reported below when the answer ends.
          if (uid === undefined) return;
          if (!msg.source) {
            if (asked.has(uid)) bodiless.add(uid);
            return;
          }
          if (!asked.has(uid)) {
            skip(uid, msg.source.length, delivered.has(uid) ? `the server sent UID ${uid} a second time (a server fault): the second message was refused, not saved` : `the server sent UID ${uid}, which was not asked for (a server fault): not saved`);
            return;
          }
          asked.delete(uid);
          delivered.add(uid);
          if (msg.source.length > limit) {
            skip(uid, msg.source.length, `more than the ${limit}-byte limit for a report (the server announced a smaller size): not saved`);
            return;
          }
          const text = msg.source.toString('latin1');
          if (isFailureReportMessage(text)) {
            await save(uniqueName(safeReportFileName(uid, 'failure-report.eml', 'report.eml'), taken), msg.source);
            return;
          }
          const claim = subjectDomainClaim(text);
          for (const a of reportAttachments(text)) await save(reportAttachmentFileName(uid, a, taken, claim), a.data);
        });
        // Every message asked for and not delivered is named, as the size limit's are.
        for (const [uid, size] of asked) {
          delivered.add(uid);
          skip(uid, size, bodiless.has(uid) ? 'the server answered without the message body (BODY[]): not saved' : 'the server left this message out of its answer to FETCH (BODY.PEEK[]): not saved');
        }
      }
    }
  } catch (error) {
    return failure('fetch', error);
  }
  try {
    await within(client.logout(), 'LOGOUT');
  } catch {
    // Everything is saved; a server that does not answer LOGOUT only loses its goodbye.
    client.close();
  }
  return { ok: true, messages, saved, skipped, mailbox };
}
