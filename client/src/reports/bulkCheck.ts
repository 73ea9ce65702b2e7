/**
 * The one home of the bulk-sender check with its transport facts: verify a message as it was sent
 * (the client IP, HELO and MAIL FROM), look up the sending IP's forward-confirmed reverse DNS when a
 * transport saw the message, and check both against the requirements (reports/bulkSender.ts).
 *
 * Three front ends call it:
 * - `smtpwb verify FILE.eml --bulk` (a file: the transport is unknown, so TLS and FCrDNS are too);
 * - the Local Inbox's "Check Bulk-Sender Requirements" (the capture server's sidecar: TLS, client IP);
 * - `smtpwb run --bulk` and the editor's run (`checkSentMessages`, with the messages the engine
 *   reported through `RunOptions.onMessage`: TLS when each was sent, the session's local address,
 *   and the EHLO name and MAIL FROM each went with, as sent).
 *
 * Pure: the verification function, the resolver and the clock are parameters (`BulkCheckIo`), so
 * the module never loads mailauth itself (the editor and the CLI pass the lazily loaded
 * `verifyMessage`) and is tested in plain Node. It never throws for DNS problems.
 */
import { visibleLine } from '../../../common/escape';
import { Masker } from '../../../common/masking';
import type { SentMessage } from '../engine/types';
import type { MailauthResolver, ResolverOptions } from '../mailAuth/resolver';
import type { AuthReport, VerifyOptions } from '../mailAuth/verify';
import { checkBulkSender, type BulkRequirement, type BulkTransport } from './bulkSender';
import { forwardConfirmedReverseDns, type FcrdnsResult } from './fcrdns';

/** What the check needs from outside: verification (mailAuth/verify.ts `verifyMessage`), DNS, a clock. */
export interface BulkCheckIo {
  verify: (message: Buffer, options: VerifyOptions) => Promise<AuthReport>;
  /** Every DNS query (SPF, DKIM, DMARC, PTR and the forward lookups) goes through it. */
  resolver: MailauthResolver;
  /** The clock for SPF's %{t} macro (milliseconds since the epoch); the system clock by default. */
  now?: () => number;
  /** The authserv-id of the Authentication-Results field (RFC 8601 §2.5); the host name by default. */
  authServId?: string;
}

/** The two functions of the lazily loaded mail-authentication bundle (lazy/emlTools.ts) the check uses. */
export interface BulkTools {
  verifyMessage: BulkCheckIo['verify'];
  createResolver(options: ResolverOptions): MailauthResolver;
}

/**
 * The I/O of a check from those functions and a DNS server (`HOST:PORT`, already checked; the
 * system's servers when undefined): 2 s per try, 2 tries, for every query of the check, each
 * question asked once (`onceResolver`). Make one per check: `smtpwb run --bulk` one per run, the
 * editor one per command.
 */
export function bulkCheckIo(tools: BulkTools, server: string | undefined): BulkCheckIo {
  return { verify: tools.verifyMessage, resolver: onceResolver(tools.createResolver({ server, timeoutMs: 2000, tries: 2 })) };
}

/**
 * A resolver that asks each question (name and type) once: the messages of one check mostly come
 * from one domain and one sending IP (a run keeps up to 100), whose SPF, DKIM, DMARC and reverse
 * DNS would otherwise be asked again for each message. Failures are kept too, so a server that does
 * not answer costs one timeout per question, not one per message. It lives as long as the check
 * (no TTL: answers do not change while one check runs). The capture server's cache
 * (localServer/captureVerification.ts `cachingResolver`, with TTLs for a long-lived server) is not
 * used here: its module loads the whole mailAuth index, mailauth included, which `cli-run.js` must
 * not carry.
 */
export function onceResolver(inner: MailauthResolver): MailauthResolver {
  const answers = new Map<string, ReturnType<MailauthResolver>>();
  return (name, rrtype) => {
    // DNS names compare without regard to case (RFC 4343 §3), and the root label is implied.
    const key = `${rrtype.toUpperCase()} ${name.toLowerCase().replace(/\.$/, '')}`;
    let answer = answers.get(key);
    if (answer === undefined) {
      answer = inner(name, rrtype);
      answers.set(key, answer);
    }
    return answer;
  };
}

/** How the message was sent, as far as the caller knows it. */
export interface BulkEnvelope {
  /** The SMTP client's IP address, for SPF. */
  ip?: string;
  /** The EHLO/HELO name. */
  helo?: string;
  /** The MAIL FROM address ('' for the null reverse-path). */
  mailFrom?: string;
  /** Read missing identities from the topmost Received field and Return-Path (a file; default false). */
  useReceived?: boolean;
  /**
   * What a transport saw (the capture server, a `.smtp` run): whether TLS was active and the sending
   * IP, whose forward-confirmed reverse DNS is then looked up. Absent for a file: `bulk-tls` and
   * `bulk-fcrdns` are then unknown, never passed.
   */
  transport?: { tls: boolean; clientIp?: string };
}

export interface BulkCheck {
  /** The verification report the requirements were decided from. */
  report: AuthReport;
  /** One result per requirement, in a fixed order, each with its source. */
  requirements: BulkRequirement[];
  /** The reverse-DNS lookup of the sending IP, when a transport gave one. */
  fcrdns?: FcrdnsResult;
  /** True when no DNS query of the verification got an answer: the results say nothing. */
  dnsUnanswered: boolean;
}

/** Whether a lookup decided the FCrDNS requirement: a DNS failure leaves it unknown rather than failed. */
function decided(fc: FcrdnsResult): BulkTransport['fcrdns'] {
  return fc.confirmed || fc.error === undefined ? { ...(fc.ptr ? { ptr: fc.ptr } : {}), confirmed: fc.confirmed } : undefined;
}

/** Checks one message against the bulk-sender requirements. Never throws for DNS problems. */
export async function checkBulkMessage(raw: Buffer, envelope: BulkEnvelope, io: BulkCheckIo): Promise<BulkCheck> {
  const report = await io.verify(raw, {
    resolver: io.resolver,
    ip: envelope.ip,
    helo: envelope.helo,
    mailFrom: envelope.mailFrom,
    useReceived: envelope.useReceived === true,
    ...(io.authServId !== undefined ? { authServId: io.authServId } : {}),
    ...(io.now ? { now: io.now } : {}),
  });
  const transport: BulkTransport = {};
  let fcrdns: FcrdnsResult | undefined;
  if (envelope.transport) {
    transport.tls = envelope.transport.tls;
    const ip = envelope.transport.clientIp;
    if (ip !== undefined) {
      transport.clientIp = ip;
      fcrdns = await forwardConfirmedReverseDns(ip, io.resolver);
      const fc = decided(fcrdns);
      if (fc) transport.fcrdns = fc;
    }
  }
  return {
    report,
    requirements: checkBulkSender(raw, report, transport),
    ...(fcrdns ? { fcrdns } : {}),
    dnsUnanswered: report.dnsUnreachable.length > 0 && report.dnsUnreachable.length >= report.dnsQueries,
  };
}

// ---------------------------------------------------------------------------------------------
// The run path: the messages a `.smtp` session sent.

/** The bulk check of one message a session sent (`RunOptions.onMessage`). */
export interface RunMessageCheck extends BulkCheck {
  /** The 0-based script line of the DATA or BDAT step. */
  line: number;
  /** The server's final reply codes to the message. */
  finalCodes: number[];
  /** Whether TLS was active when the message was sent. */
  tls: boolean;
  /**
   * The sending IP (the session's local address), the EHLO name (an address literal as its address)
   * and MAIL FROM the message went with; the last two masked when they hold a secret.
   */
  clientIp?: string;
  helo?: string;
  mailFrom?: string;
}

/** An address as the receiver sees it: without the IPv4-mapped prefix of a dual-stack socket. */
function plainAddress(address: string | undefined): string | undefined {
  if (address === undefined || address === '') return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

/**
 * The HELO identity for SPF (RFC 7208 §2.3) from the EHLO argument as sent: an address literal
 * (RFC 5321 §4.1.3, `[192.0.2.1]`, `[IPv6:2001:db8::1]`) is given as the address.
 */
function heloIdentity(helo: string | undefined): string | undefined {
  if (helo === undefined) return undefined;
  const literal = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(helo);
  return literal ? literal[1] : helo;
}

/** How `checkSentMessages` runs: the session's secrets, and a signal that stops it between messages. */
export interface SentCheckOptions {
  /**
   * The session's secrets: a message, its EHLO name and MAIL FROM may carry them (a script can put
   * `{{$secret}}` anywhere), so the findings' free text, the Authentication-Results field and the
   * shown EHLO name and MAIL FROM are masked, after every decision (common/masking.ts).
   */
  secrets?: readonly string[];
  /** When aborted, no further message is checked; the checks made so far are returned. */
  signal?: AbortSignal;
  /** Called after each message is checked, with how many are checked so far (for a progress display). */
  onChecked?: (checked: number) => void;
}

/**
 * Checks every message a session sent: TLS as it was when each was sent, the forward-confirmed
 * reverse DNS of the sending IP (`target.localAddress`), SPF with the EHLO name and MAIL FROM the
 * engine reported for it (unmasked, as sent), and every header, DKIM, alignment and DMARC
 * requirement. Returns one check per message, in order; fewer when `options.signal` stopped it.
 * `smtpwb run --bulk` and the editor call it with what their `onMessage` collected.
 */
export async function checkSentMessages(sent: readonly SentMessage[], io: BulkCheckIo, options: SentCheckOptions = {}): Promise<RunMessageCheck[]> {
  const secrets = options.secrets ?? [];
  const masker = secrets.length > 0 ? new Masker(secrets) : undefined;
  const out: RunMessageCheck[] = [];
  for (const m of sent) {
    if (options.signal?.aborted) break;
    const clientIp = plainAddress(m.target?.localAddress);
    const helo = heloIdentity(m.helo);
    const mailFrom = m.mailFrom;
    const check = await checkBulkMessage(m.message, { ip: clientIp, helo, mailFrom, useReceived: false, transport: { tls: m.tls, ...(clientIp ? { clientIp } : {}) } }, io);
    // Every decision is made: only what is shown is masked from here on.
    const shown = (text: string): string => (masker ? masker.mask(text, 'sent') : text);
    if (masker) {
      check.requirements = check.requirements.map((r) => ({ ...r, message: shown(r.message) }));
      check.report = { ...check.report, authenticationResults: shown(check.report.authenticationResults) };
    }
    out.push({
      ...check,
      line: m.line,
      finalCodes: [...m.finalCodes],
      tls: m.tls,
      ...(clientIp ? { clientIp } : {}),
      ...(helo !== undefined ? { helo: shown(helo) } : {}),
      ...(mailFrom !== undefined ? { mailFrom: shown(mailFrom) } : {}),
    });
    options.onChecked?.(out.length);
  }
  return out;
}

/** How a set of run checks ends: a requirement failed, DNS never answered, or nothing was sent. */
export interface RunBulkVerdict {
  messages: number;
  /** Messages with at least one failing requirement. */
  failing: number;
  /** Messages whose verification got no DNS answer at all. */
  dnsUnanswered: number;
}

export function runBulkVerdict(checks: readonly RunMessageCheck[]): RunBulkVerdict {
  return {
    messages: checks.length,
    failing: checks.filter((c) => c.requirements.some((r) => r.status === 'fail')).length,
    dnsUnanswered: checks.filter((c) => c.dnsUnanswered).length,
  };
}

/**
 * The exit code of `smtpwb run --bulk`, from the run's own code and the checks of every session,
 * with what to say on stderr: the run's 2 (script), 3 (connection, TLS, DNS, protocol) and 130
 * (interrupted) stand; otherwise 3 when a check's DNS server never answered (its results say
 * nothing), else 1 when a requirement failed or when no session sent a message (nothing checked is
 * not a pass), else the run's code. `unknown` (a reverse-DNS lookup that failed) is not a failure.
 */
export function runBulkOutcome(runCode: number, checks: readonly RunMessageCheck[]): { code: number; notes: string[] } {
  if (runCode !== 0 && runCode !== 1) return { code: runCode, notes: [] };
  const v = runBulkVerdict(checks);
  if (v.dnsUnanswered > 0) return { code: 3, notes: [`--bulk: the DNS server did not answer the check of ${v.dnsUnanswered} message(s)`] };
  if (v.messages === 0) return { code: 1, notes: ['--bulk: no session sent a message; nothing was checked'] };
  if (v.failing > 0) return { code: 1, notes: [`--bulk: ${v.failing} of ${v.messages} message(s) fail a bulk-sender requirement`] };
  return { code: runCode, notes: [] };
}

// ---------------------------------------------------------------------------------------------
// Text and JSON: what the message and DNS said is data, shown through common/escape.ts.

/** The requirements as text lines: status, code, message and source. */
export function bulkRequirementLines(results: readonly BulkRequirement[], indent = '  '): string[] {
  return results.map((r) => visibleLine(`${indent}${r.status.padEnd(7)} ${r.code.padEnd(24)} ${r.message}  ${r.link}`));
}

/** The bulk-sender requirements of a file (`smtpwb verify --bulk`): one line each, then the count. */
export function formatBulkText(results: readonly BulkRequirement[]): string {
  const lines = ['', 'Bulk-sender requirements (Gmail and Yahoo, 2024):', ...bulkRequirementLines(results)];
  const failed = results.filter((r) => r.status === 'fail').length;
  const unknown = results.filter((r) => r.status === 'unknown').length;
  lines.push(`  ${failed === 0 ? 'no requirement fails' : `${failed} requirement(s) fail`}${unknown > 0 ? `; ${unknown} cannot be told from the file` : ''}`);
  return `${lines.join('\n')}\n`;
}

/** One message's heading: where it was sent from, the script line, TLS and the server's reply. */
function messageHeading(c: RunMessageCheck): string {
  const parts = [`line ${c.line + 1}`, c.tls ? 'over TLS' : 'without TLS', `from ${c.clientIp ?? 'an unknown address'}`];
  if (c.helo !== undefined) parts.push(`EHLO ${c.helo}`);
  if (c.mailFrom !== undefined) parts.push(`MAIL FROM:<${c.mailFrom}>`);
  parts.push(`reply ${c.finalCodes.join(', ') || 'none'}`);
  return visibleLine(`=== bulk-sender requirements of the message sent at ${parts.join(', ')}`);
}

/** The checks of one session's messages, for the terminal, under the session's transcript. */
export function formatRunBulkText(checks: readonly RunMessageCheck[]): string {
  if (checks.length === 0) return '=== bulk-sender requirements: the session sent no message\n';
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(messageHeading(c), ...bulkRequirementLines(c.requirements, '     '));
    const failed = c.requirements.filter((r) => r.status === 'fail').length;
    const unknown = c.requirements.filter((r) => r.status === 'unknown').length;
    let summary = failed === 0 ? 'no requirement fails' : `${failed} requirement(s) fail`;
    if (unknown > 0) summary += `; ${unknown} unknown`;
    if (c.fcrdns?.error) summary += ` (reverse DNS: ${c.fcrdns.error})`;
    if (c.dnsUnanswered) summary += '; the DNS server did not answer';
    lines.push(visibleLine(`     ${summary}`));
  }
  return `${lines.join('\n')}\n`;
}

/** One message's check in `--json` (exact JSON; lines are 1-based like the rest of `run --json`). */
export interface RunBulkJson {
  line: number;
  finalCodes: number[];
  tls: boolean;
  clientIp: string | null;
  helo: string | null;
  mailFrom: string | null;
  fcrdns: FcrdnsResult | null;
  dnsUnanswered: boolean;
  authenticationResults: string;
  requirements: BulkRequirement[];
}

export function runBulkJson(checks: readonly RunMessageCheck[]): RunBulkJson[] {
  return checks.map((c) => ({
    line: c.line + 1,
    finalCodes: c.finalCodes,
    tls: c.tls,
    clientIp: c.clientIp ?? null,
    helo: c.helo ?? null,
    mailFrom: c.mailFrom ?? null,
    fcrdns: c.fcrdns ?? null,
    dnsUnanswered: c.dnsUnanswered,
    authenticationResults: c.report.authenticationResults,
    requirements: c.requirements,
  }));
}

/**
 * A JUnit test case for one message's check (cli/junit.ts writes it beside the sessions'): a
 * `<failure>` when a requirement fails, an `<error>` when DNS never answered (the check could not
 * run), and the requirement lines as its output.
 */
export interface BulkJunitCase {
  name: string;
  verdict?: { tag: 'failure' | 'error'; type: string; message: string; text: string };
  out: string;
}

/** One JUnit test case per message. */
export function runBulkJunitCases(session: string, checks: readonly RunMessageCheck[]): BulkJunitCase[] {
  return checks.map((c) => {
    const failing = c.requirements.filter((r) => r.status === 'fail');
    const text = bulkRequirementLines(c.requirements, '').join('\n');
    const verdict: BulkJunitCase['verdict'] = c.dnsUnanswered
      ? { tag: 'error', type: 'dns', message: 'the DNS server did not answer', text }
      : failing.length > 0
        ? { tag: 'failure', type: 'bulk-sender', message: `${failing.length} requirement(s) fail: ${failing.map((r) => r.code).join(', ')}`, text }
        : undefined;
    return { name: `${session} › bulk-sender requirements (message at line ${c.line + 1})`, ...(verdict ? { verdict } : {}), out: text };
  });
}
