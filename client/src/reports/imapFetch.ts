/**
 * Fetching reports from an IMAP mailbox (imapflow): the one home of what `smtpwb report fetch` and
 * the editor's "SMTP: Fetch Reports over IMAP…" do. Every message of the mailbox is read
 * (read-only: nothing is marked seen); failure reports (RFC 9991, `multipart/report` with a
 * `message/feedback-report` part) are saved whole as `.eml`, and the report attachments of other
 * messages (RFC 7489 §7.2.1.1, RFC 8460 §5.3) are saved under their own names (RFC 2047 decoded),
 * reduced to safe characters, with the report extension of their content and unique within the
 * message, so that `smtpwb report DIR` reads every file saved. No `vscode`: the caller gives the target, the credentials and the output folder.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basename, join } from 'node:path';
import { visibleLine } from '../../../common/escape';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { isGzip, isZip } from '../../../server/src/reports/archive';
import { decodeEncodedWords } from '../../../server/src/reports/attachmentName';
import { reportAttachments, type ReportAttachment } from '../../../server/src/reports/failure';
import { isFailureReportMessage } from '../../../server/src/reports/open';

// The one decision of what a failure report is lives with the report opener (server/src/reports/open.ts).
export { isFailureReportMessage };

/** How the connection is protected: implicit TLS (RFC 8314), STARTTLS (RFC 3501 §6.2.1) or none. */
export type ImapTlsMode = 'tls' | 'starttls' | 'none';

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
  /** Connection and greeting timeout (default 30 s). */
  timeoutMs?: number;
  /** The folder the reports are saved to (created when missing). */
  out: string;
  /** Called with each saved file's path, as it is written. */
  onSaved?: (path: string) => void;
}

export type ImapFetchResult =
  | { ok: true; messages: number; saved: string[]; mailbox: string }
  /** `connect`: the server could not be reached or refused the login; `fetch`: a later command failed. The message has the password masked and control characters escaped. */
  | { ok: false; stage: 'connect' | 'fetch'; authenticationFailed: boolean; message: string; saved: string[] };

/** A file name for a saved report: the attachment's own name, reduced to safe characters (letters, digits, `._!@+=-`). */
export function safeReportFileName(uid: number, name: string, fallback: string): string {
  const base = safeBase(name);
  return `${uid}-${base === '' ? fallback : base}`.slice(0, 200);
}

function safeBase(name: string): string {
  return basename(name.normalize('NFC').replace(/\\/g, '/'))
    .replace(/[^\p{L}\p{N}._!@+=-]/gu, '_')
    .replace(/^\.+/, '');
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
 * gzip becomes `report.xml.gz`), unique within the message (`-2`, `-3` before the extension; `taken`
 * holds the names given so far, lower-cased) and at most 200 characters.
 */
export function reportAttachmentFileName(uid: number, attachment: ReportAttachment, taken: Set<string>): string {
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
  const prefix = `${uid}-`;
  for (let n = 1; ; n++) {
    const suffix = n === 1 ? '' : `-${n}`;
    const room = 200 - prefix.length - suffix.length - ext.length;
    const name = `${prefix}${base.slice(0, Math.max(1, room))}${suffix}${ext}`;
    if (!taken.has(name.toLowerCase())) {
      taken.add(name.toLowerCase());
      return name;
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

/** Saves the reports of one IMAP mailbox to a folder. Never throws for server or login errors. */
export async function fetchReportsOverImap(options: ImapFetchOptions): Promise<ImapFetchResult> {
  const mailbox = options.mailbox ?? 'INBOX';
  const timeout = options.timeoutMs ?? 30_000;
  const saved: string[] = [];
  const refusal = imapFetchRefusal(options);
  if (refusal) return { ok: false, stage: 'connect', authenticationFailed: false, message: refusal, saved };
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
    tls: { rejectUnauthorized: true, ...(options.ca ? { ca: options.ca } : {}), ...(isIP(options.host) === 0 ? { servername: options.host } : {}) },
  } as ConstructorParameters<typeof ImapFlow>[0]);
  client.on('error', () => {
    // Errors also reject the pending command, which is where they are reported.
  });
  // The server's text may quote what it was sent; the password is masked before anything shows it.
  const mask = (text: string): string => visibleLine(options.password === '' ? text : text.split(options.password).join('****'));
  try {
    await client.connect();
  } catch (error) {
    const e = error as { message?: string; responseText?: string; authenticationFailed?: boolean };
    return { ok: false, stage: 'connect', authenticationFailed: e.authenticationFailed === true, message: mask(e.responseText ?? e.message ?? String(error)), saved };
  }
  let messages = 0;
  const save = async (name: string, data: Buffer): Promise<void> => {
    const path = join(options.out, name);
    await writeFile(path, data);
    saved.push(path);
    options.onSaved?.(path);
  };
  try {
    await mkdir(options.out, { recursive: true });
    const box = await client.mailboxOpen(mailbox, { readOnly: true });
    if (box.exists > 0) {
      for await (const msg of client.fetch('1:*', { uid: true, source: true })) {
        messages++;
        if (!msg.source) continue;
        const text = msg.source.toString('latin1');
        if (isFailureReportMessage(text)) {
          await save(safeReportFileName(msg.uid, 'failure-report.eml', 'report.eml'), msg.source);
          continue;
        }
        const taken = new Set<string>();
        for (const a of reportAttachments(text)) await save(reportAttachmentFileName(msg.uid, a, taken), a.data);
      }
    }
    await client.logout();
  } catch (error) {
    const e = error as { message?: string; responseText?: string };
    client.close();
    return { ok: false, stage: 'fetch', authenticationFailed: false, message: mask(e.responseText ?? e.message ?? String(error)), saved };
  }
  return { ok: true, messages, saved, mailbox };
}
