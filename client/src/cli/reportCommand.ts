/**
 * `smtpwb report FILE|DIR... [--json|--csv|--markdown] [--min-pass RATE]`: summarises DMARC
 * aggregate reports (RFC 9990, RFC 7489), TLS-RPT reports (RFC 8460) and DMARC failure reports
 * (RFC 9991) from files and folders, and `smtpwb report fetch` saves the reports of an IMAP
 * mailbox to a folder (imapflow). The parsing and the summary live in client/src/reports/.
 *
 * Each DMARC source IP's PTR names and whether they are forward-confirmed are looked up after the
 * summary (reports/fcrdns.ts `addReverseDns`: 8 at a time, a timeout per IP, each IP once), through
 * `--dns-server` or the system's resolver; `--no-dns` leaves them out.
 *
 * Exit status: 0 done (and the pass rate held), 1 the DMARC pass rate is below --min-pass (or
 * there was nothing to measure), 2 usage error, a path that cannot be read, or no report read at all
 * (no report file, or every file unreadable), as `smtpwb lint` exits 2 with nothing to lint, 3 the
 * IMAP server could not be reached or refused the login.
 */
import { readFile, stat } from 'node:fs/promises';
import { listReportFiles, summariseReportFiles } from '../reports/collect';
import { addReverseDns } from '../reports/fcrdns';
import { createResolver } from '../mailAuth/resolver';
import { reportForDomains } from '../reports/summary';
import { normalDomain, reportDomainProblem } from '../../../server/src/reports/normalForm';
import { resolve as resolvePath } from 'node:path';
import { visibleLine } from '../../../common/escape';
import { parseDuration, parseHostPort, parseOptions, readDnsOptions, timeoutError, usageError, wantsHelp } from './options';
import { DEFAULT_IMAP_TIMEOUT_MS, fetchReportsOverImap, imapFetchRefusal } from '../reports/imapFetch';
import { summaryCsv, summaryJson, summaryMarkdown, summaryText } from '../reports/render';

export interface ReportIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** At most this many source IPs are looked up, the largest first. */
const REVERSE_DNS_LIMIT = 1000;

export const REPORT_USAGE = `usage: smtpwb report FILE|DIR... [--json|--csv|--markdown] [--min-pass RATE] [--top N] [--domain D]...
                    [--no-dns | --dns-server HOST:PORT] [--dns-timeout MS]
       smtpwb report fetch --imap HOST:PORT --user USER [--mailbox NAME] [--tls|--starttls]
                           [--ca FILE] [--out DIR] [--timeout S]

Summarises DMARC aggregate reports (.xml, .xml.gz, .zip; RFC 9990 and RFC 7489), TLS-RPT reports
(.json, .json.gz; RFC 8460) and DMARC failure reports (.eml; RFC 9991), from files or folders
(folders are read recursively; mails with report attachments are opened too).

  --json            print the summary as JSON (exact values)
  --csv             print one row per DMARC source and TLS-RPT failure group
  --markdown        print Markdown tables
  --min-pass RATE   exit 1 when the DMARC pass rate (aligned DKIM or SPF) is below RATE
                    (0.95 or 95%), or when no DMARC aggregate report was read; records left
                    out of the totals (an unusable count) are counted on stderr
  --top N           how many failing sources to list (default 10)
  --domain D        only reports about D (the policy domain; repeatable); others are skipped,
                    and so are a TLS-RPT report's policies for other domains; D and the
                    reports' domains compare as A-labels (bücher.example = xn--bcher-kva.example)
  --no-dns          do not look up the reverse DNS of the DMARC source IPs
  --dns-server HOST:PORT
                    ask this DNS server for the sources' PTR, A and AAAA records (IPv6 in
                    brackets); the system's resolver when absent
  --dns-timeout MS  the time one source's lookups may take (default 3000; also 3s); a source
                    whose lookups take longer is shown as "lookup failed (TIMEOUT)"

Reverse DNS: each DMARC source IP (the ${REVERSE_DNS_LIMIT} with the most messages) gets its PTR names and
whether one resolves back to it (forward-confirmed, RFC 8601 §3), 8 lookups at a time; after 8
sources in a row without an answer from the DNS server the rest are left out (and stderr says so).
AS numbers are not shown: they need a database that is not part of smtpwb.

fetch reads every message of an IMAP mailbox (read-only: nothing is marked seen) and saves its
report attachments and failure reports to --out (default ./reports). The password comes from the
environment variable SMTPWB_IMAP_PASSWORD, never from the command line.

  --imap HOST:PORT  the IMAP server (port 993 with --tls, else 143)
  --user USER       the login name
  --mailbox NAME    the mailbox to read (default INBOX)
  --tls             implicit TLS (RFC 8314)
  --starttls        STARTTLS (RFC 3501 §6.2.1), required: no fallback to plain text
  --ca FILE         trust this CA certificate (PEM) for the server
  --out DIR         where to save the reports (created when missing)
  --timeout S       the longest wait for the server, in seconds (default 30; also 1500ms):
                    connecting and logging in, then each command's answer and each message

Messages larger than the report-size limit (50 MiB) are not downloaded; each message that is not
saved (too large, a UID the server gave twice, an answer without the body, left out by the
server) is named on stderr with the reason. A server that breaks the protocol is exit 3.

Without --tls or --starttls the connection is plain text, which is allowed only to a loopback
address.

Exit status: 0 done, 1 below --min-pass, 2 usage error, unreadable path, or no report read (no
report file, or every file unreadable), 3 IMAP connection or login failed.
`;

const REPORT_OPTIONS = {
  'no-dns': { type: 'boolean' },
  'dns-server': { type: 'string' },
  'dns-timeout': { type: 'string' },
  json: { type: 'boolean' },
  csv: { type: 'boolean' },
  markdown: { type: 'boolean' },
  'min-pass': { type: 'string' },
  top: { type: 'string' },
  domain: { type: 'string', multiple: true },
} as const;

const FETCH_OPTIONS = {
  imap: { type: 'string' },
  user: { type: 'string' },
  mailbox: { type: 'string' },
  tls: { type: 'boolean' },
  starttls: { type: 'boolean' },
  ca: { type: 'string' },
  out: { type: 'string' },
  timeout: { type: 'string' },
} as const;

/** Parses a rate: `0.95`, `95%` or `95` (read as percent when above 1). */
export function parseRate(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(%?)$/.exec(text.trim());
  if (!m) return undefined;
  let n = Number(m[1]);
  if (m[2] === '%' || n > 1) n /= 100;
  return n >= 0 && n <= 1 ? n : undefined;
}

export async function reportCommand(args: string[], io: ReportIo): Promise<number> {
  if (args[0] === 'fetch') return fetchCommand(args.slice(1), io);
  if (wantsHelp(args)) {
    io.stdout.write(REPORT_USAGE);
    return 0;
  }
  const parsed = parseOptions(args, REPORT_OPTIONS);
  if (!parsed.ok) return usageError(io, 'report', parsed.error, REPORT_USAGE);
  const v = parsed.values;
  if (parsed.positionals.length === 0) return usageError(io, 'report', 'expected at least one report file or folder', REPORT_USAGE);
  if ([v.json, v.csv, v.markdown].filter(Boolean).length > 1) return usageError(io, 'report', 'choose one of --json, --csv and --markdown', REPORT_USAGE);
  let minPass: number | undefined;
  if (v['min-pass'] !== undefined) {
    minPass = parseRate(v['min-pass']);
    if (minPass === undefined) return usageError(io, 'report', `--min-pass "${visibleLine(v['min-pass'])}" is not a rate (0.95 or 95%)`, REPORT_USAGE);
  }
  let top = 10;
  if (v.top !== undefined) {
    if (!/^\d{1,6}$/.test(v.top)) return usageError(io, 'report', `--top "${visibleLine(v.top)}" is not a count`, REPORT_USAGE);
    top = Number(v.top);
  }
  if (v['no-dns'] && (v['dns-server'] !== undefined || v['dns-timeout'] !== undefined)) return usageError(io, 'report', '--no-dns leaves out the lookups that --dns-server and --dns-timeout are for', REPORT_USAGE);
  const dns = await readDnsOptions(v['dns-server'], { option: '--dns-timeout', text: v['dns-timeout'], defaultMs: 3000 });
  if ('error' in dns) return usageError(io, 'report', dns.error, REPORT_USAGE);
  const { server: dnsServer, timeoutMs: dnsTimeoutMs } = dns;
  // A value that is no domain would quietly leave every report out: a usage error instead (normalForm.ts).
  for (const d of v.domain ?? []) {
    const problem = reportDomainProblem(d);
    if (problem !== undefined) return usageError(io, 'report', `--domain "${visibleLine(d)}" is not a domain name: ${visibleLine(problem)}`, REPORT_USAGE);
  }
  const domains = v.domain ? new Set(v.domain.map((d) => normalDomain(d))) : undefined;
  const files: string[] = [];
  // One listing for all the paths (collect.ts): a folder given twice, or inside another one given, is read once.
  const seenFolders = new Set<string>();
  for (const p of parsed.positionals) {
    const path = resolvePath(io.cwd, p);
    try {
      const st = await stat(path);
      if (st.isDirectory()) await listReportFiles(path, files, seenFolders);
      else files.push(path);
    } catch (error) {
      return usageError(io, 'report', `cannot read ${visibleLine(p)}: ${visibleLine((error as NodeJS.ErrnoException).code ?? String(error))}`, REPORT_USAGE);
    }
  }
  // Reports left out by --domain were read: only a run that read no report at all is unusable.
  let skipped = 0;
  let policiesSkipped = 0;
  let summary = await summariseReportFiles(files, {
    shownName: (file) => (file.startsWith(io.cwd + '/') ? file.slice(io.cwd.length + 1) : file),
    top,
    include: (opened) => {
      if (!domains || !opened.report) return true;
      // A TLS-RPT report about several policy domains keeps only the policies asked for (summary.ts).
      const kept = reportForDomains(opened.report, (d) => domains.has(d));
      if (!kept) {
        skipped++;
        return false;
      }
      if (kept !== opened.report && kept.kind === 'tls-rpt' && opened.report.kind === 'tls-rpt') {
        policiesSkipped += opened.report.policies.length - kept.policies.length;
        opened.report = kept;
      }
      return true;
    },
  });
  if (!v['no-dns'] && summary.aggregate.sources.length > 0) {
    // One query per try, so that a silent server costs about --dns-timeout per source, not more.
    const resolver = createResolver({ ...(dnsServer !== undefined ? { server: dnsServer } : {}), timeoutMs: dnsTimeoutMs, tries: 1 });
    summary = await addReverseDns(summary, resolver, { timeoutMs: dnsTimeoutMs, concurrency: 8, limit: REVERSE_DNS_LIMIT });
    const o = summary.aggregate.reverseDns;
    if (o?.leftOutBecause === 'unanswered') {
      io.stderr.write(`smtpwb report: the DNS server${dnsServer ? ` ${visibleLine(v['dns-server'] ?? '')}` : ''} did not answer; the reverse DNS of ${o.leftOut} source(s) was not looked up (--no-dns leaves the lookups out)\n`);
    }
  }
  io.stdout.write(v.json ? summaryJson(summary) : v.csv ? summaryCsv(summary) : v.markdown ? summaryMarkdown(summary) : summaryText(summary));
  // A mistyped --domain must not look like a quiet week: say what it left out.
  if (domains && skipped > 0) io.stderr.write(`smtpwb report: --domain left out ${skipped} report(s) about other domains\n`);
  if (domains && policiesSkipped > 0) io.stderr.write(`smtpwb report: --domain left out ${policiesSkipped} TLS-RPT policy item(s) about other domains from reports that also cover the domain(s) asked for\n`);
  const read = summary.counts.aggregate + summary.counts.tlsRpt + summary.counts.failure + skipped;
  if (read === 0) {
    // Nothing usable was read, as `smtpwb lint` with nothing to lint: exit 2, whatever --min-pass says.
    io.stderr.write(
      files.length === 0
        ? `smtpwb report: no report file found in ${parsed.positionals.map((p) => visibleLine(p)).join(', ')} (.xml, .gz, .zip, .json, .eml)\n`
        : `smtpwb report: no report could be read: ${files.length} file(s), ${summary.counts.unreadable} unreadable (see the findings)\n`,
    );
    return 2;
  }
  if (minPass !== undefined) {
    // The rate is over the records counted: say how many were not, so a pass is not read as covering them.
    const leftOut = summary.aggregate.recordsLeftOut;
    if (leftOut > 0) io.stderr.write(`smtpwb report: ${leftOut} DMARC record(s) are left out of the pass rate that --min-pass checks (an unusable count, a truncated file or a total past 2^53 - 1; see the error findings)\n`);
    const rate = summary.aggregate.passRate;
    if (rate === null) {
      io.stderr.write('smtpwb report: no DMARC aggregate report with messages was read, so --min-pass cannot hold\n');
      return 1;
    }
    if (rate < minPass) {
      // As many decimals as it takes for the two figures to differ (99.995% is below 100%, and says so).
      let digits = 2;
      while (digits < 8 && (rate * 100).toFixed(digits) === (minPass * 100).toFixed(digits)) digits++;
      io.stderr.write(`smtpwb report: the DMARC pass rate ${(rate * 100).toFixed(digits)}% is below --min-pass ${(minPass * 100).toFixed(digits)}%\n`);
      return 1;
    }
  }
  return 0;
}


// The file names of saved reports and the fetch itself live in reports/imapFetch.ts (shared with the editor).
export { safeReportFileName } from '../reports/imapFetch';

async function fetchCommand(args: string[], io: ReportIo): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(REPORT_USAGE);
    return 0;
  }
  const parsed = parseOptions(args, FETCH_OPTIONS);
  if (!parsed.ok) return usageError(io, 'report fetch', parsed.error, REPORT_USAGE);
  const v = parsed.values;
  if (parsed.positionals.length > 0) return usageError(io, 'report fetch', `unexpected argument "${visibleLine(parsed.positionals[0])}" (the password comes from SMTPWB_IMAP_PASSWORD)`, REPORT_USAGE);
  if (!v.imap) return usageError(io, 'report fetch', '--imap HOST:PORT is required', REPORT_USAGE);
  if (!v.user) return usageError(io, 'report fetch', '--user is required', REPORT_USAGE);
  if (v.tls && v.starttls) return usageError(io, 'report fetch', 'choose one of --tls and --starttls', REPORT_USAGE);
  const target = parseHostPort(v.imap, v.tls ? 993 : 143);
  if (!target) return usageError(io, 'report fetch', `--imap "${visibleLine(v.imap)}" is not HOST:PORT`, REPORT_USAGE);
  const tlsMode = v.tls ? 'tls' : v.starttls ? 'starttls' : 'none';
  const refusal = imapFetchRefusal({ host: target.host, tls: tlsMode });
  if (refusal) return usageError(io, 'report fetch', `${refusal} (--tls or --starttls)`, REPORT_USAGE);
  const password = io.env.SMTPWB_IMAP_PASSWORD;
  if (password === undefined || password === '') return usageError(io, 'report fetch', 'set the password in the environment variable SMTPWB_IMAP_PASSWORD', REPORT_USAGE);
  let timeoutMs = DEFAULT_IMAP_TIMEOUT_MS;
  if (v.timeout !== undefined) {
    const ms = parseDuration(v.timeout, 's');
    if (ms === undefined) return usageError(io, 'report fetch', timeoutError('s'), REPORT_USAGE);
    timeoutMs = ms;
  }
  let ca: Buffer | undefined;
  if (v.ca !== undefined) {
    try {
      ca = await readFile(resolvePath(io.cwd, v.ca));
    } catch (error) {
      return usageError(io, 'report fetch', `cannot read --ca ${visibleLine(v.ca)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, REPORT_USAGE);
    }
  }
  const out = resolvePath(io.cwd, v.out ?? 'reports');
  const mailbox = v.mailbox ?? 'INBOX';
  const result = await fetchReportsOverImap({
    host: target.host,
    port: target.port,
    user: v.user,
    password,
    mailbox,
    tls: tlsMode,
    ...(ca ? { ca } : {}),
    timeoutMs,
    onSkipped: (s) => io.stderr.write(`smtpwb report fetch: UID ${s.uid} skipped: ${visibleLine(s.reason)}\n`),
    out,
    onSaved: (path) => io.stdout.write(`${visibleLine(path)}\n`),
  });
  if (!result.ok) {
    io.stderr.write(`smtpwb report fetch: ${result.stage === 'connect' ? (result.authenticationFailed ? 'login failed: ' : 'cannot connect: ') : ''}${result.message}\n`);
    return 3;
  }
  io.stderr.write(`smtpwb report fetch: ${result.messages} message(s) read from ${visibleLine(mailbox)}, ${result.saved.length} report(s) saved to ${visibleLine(out)}${result.skipped.length > 0 ? `, ${result.skipped.length} message(s) not saved (named above)` : ''}\n`);
  return 0;
}
