/**
 * Fetching reports from an IMAP mailbox (imapflow): the one home of what `smtpwb report fetch` and
 * the editor's "SMTP: Fetch Reports over IMAP…" do. Every message of the mailbox is read
 * (read-only: nothing is marked seen); failure reports (RFC 9991, `multipart/report` with a
 * `message/feedback-report` part) are saved whole as `.eml`, and the report attachments of other
 * messages (RFC 7489 §7.2.1.1, RFC 8460 §5.3) are saved under their own names, reduced to safe
 * characters. No `vscode`: the caller gives the target, the credentials and the output folder.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basename, join } from 'node:path';
import { visibleLine } from '../../../common/escape';
import { reportAttachments } from '../../../server/src/reports/failure';

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

/** A file name for a saved report: the attachment's own name, reduced to safe characters. */
export function safeReportFileName(uid: number, name: string, fallback: string): string {
  const base = basename(name.replace(/\\/g, '/')).replace(/[^A-Za-z0-9._!@+=-]/g, '_').replace(/^\.+/, '');
  return `${uid}-${base === '' ? fallback : base}`.slice(0, 200);
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

/** True when a raw message (latin1 text) is a failure report: multipart/report with a feedback-report part (RFC 6591, RFC 9991). */
export function isFailureReportMessage(text: string): boolean {
  return /^content-type:\s*multipart\/report[^\n]*(\n[ \t][^\n]*)*/im.test(text) && /message\/feedback-report/i.test(text);
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
        for (const a of reportAttachments(text)) await save(safeReportFileName(msg.uid, a.filename, a.contentType.replace(/\W+/g, '-')), a.data);
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
