/**
 * `smtpwb verify FILE.eml [--ip IP] [--helo NAME] [--mail-from ADDR] [--dns-server HOST:PORT]
 * [--timeout MS] [--authserv-id NAME] [--no-received] [--bulk] [--json]`: checks DKIM, SPF, DMARC, ARC and BIMI and prints
 * each result with its reason, then the Authentication-Results field (RFC 8601). With `--bulk`, also
 * the bulk-sender requirements (reports/bulkCheck.ts, shared with the Local Inbox and `run --bulk`),
 * one line each with its source.
 *
 * Exit status: 0 when every result is pass, none or another non-failure; 1 when something failed
 * (with `--bulk`, also when a requirement fails; one that cannot be told from a file is not a failure);
 * 2 for a usage error or an unreadable file; 3 when the DNS server did not answer.
 */
import { isIP } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { jsonText, visibleLine, visibleText } from '../../../common/escape';
import { createResolver } from '../mailAuth/resolver';
import { authServIdProblem, verifyMessage, type AuthReport } from '../mailAuth/verify';
import { formatReportText, reportJson } from '../mailAuth/format';
import { checkBulkMessage, formatBulkText } from '../reports/bulkCheck';
import type { BulkRequirement } from '../reports/bulkSender';
import { Deadline, parseOptions, readDnsOptions, readInputFileSync, usageError, wantsHelp } from './options';

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const VERIFY_USAGE = `usage: smtpwb verify FILE.eml [--ip IP] [--helo NAME] [--mail-from ADDR] [--dns-server HOST:PORT]
                     [--timeout MS] [--authserv-id NAME] [--no-received] [--bulk] [--json]

Checks a message's DKIM, SPF, DMARC, ARC and BIMI and prints each result with its reason, then the
Authentication-Results field (RFC 8601).

  --ip IP                 the SMTP client's address, for SPF (else from the topmost Received field)
  --helo NAME             the client's EHLO name
  --mail-from ADDR        the envelope sender ("" for the null reverse-path)
  --dns-server HOST:PORT  ask this DNS server (IPv6 in brackets; a host name is resolved once)
  --timeout MS            the time the DNS queries may take in all (default 5000; also 5s)
  --authserv-id NAME      the authserv-id of the Authentication-Results field (default: host name;
                          a token or a "quoted string", RFC 8601 §2.2)
  --no-received           do not read missing identities from Received and Return-Path
  --bulk                  also check the bulk-sender requirements (Gmail and Yahoo 2024: SPF, DKIM,
                          DMARC, alignment, RFC 8058 one-click unsubscribe; TLS and reverse DNS
                          are unknown for a file)
  --json                  print the report as JSON
  -h, --help              show this help

Exit status: 0 nothing failed, 1 something failed (with --bulk: or a requirement), 2 usage error or unreadable file, 3 the DNS
server did not answer.
`;

const VERIFY_OPTIONS = {
  ip: { type: 'string' },
  helo: { type: 'string' },
  'mail-from': { type: 'string' },
  'dns-server': { type: 'string' },
  timeout: { type: 'string' },
  'authserv-id': { type: 'string' },
  'no-received': { type: 'boolean' },
  bulk: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

export async function verifyCommand(args: string[], io: CommandIo): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(VERIFY_USAGE);
    return 0;
  }
  const parsed = parseOptions(args, VERIFY_OPTIONS);
  if (!parsed.ok) return usageError(io, 'verify', parsed.error, VERIFY_USAGE);
  const v = parsed.values;
  if (parsed.positionals.length !== 1) return usageError(io, 'verify', 'expected one message file', VERIFY_USAGE);
  const ip = v.ip;
  if (ip !== undefined && isIP(ip) === 0) return usageError(io, 'verify', `--ip "${visibleLine(ip)}" is not an IP address`, VERIFY_USAGE);
  const dnsServer = v['dns-server'];
  const dns = await readDnsOptions(dnsServer, { option: '--timeout', text: v.timeout, defaultMs: 5000 });
  if ('error' in dns) return usageError(io, 'verify', dns.error, VERIFY_USAGE);
  const { server, timeoutMs } = dns;
  const authServId = v['authserv-id'];
  const idProblem = authServId === undefined ? undefined : authServIdProblem(authServId);
  if (idProblem !== undefined) return usageError(io, 'verify', `--authserv-id "${visibleLine(authServId ?? '')}": ${idProblem}`, VERIFY_USAGE);
  const file = resolvePath(io.cwd, parsed.positionals[0]);
  let message: Buffer;
  try {
    message = readInputFileSync(file);
  } catch (err) {
    io.stderr.write(`smtpwb verify: cannot read ${visibleLine(parsed.positionals[0])}: ${visibleLine(err instanceof Error ? err.message : String(err))}\n`);
    return 2;
  }

  // One deadline for all DNS work: a silent server costs --timeout, not --timeout per query.
  const deadline = new Deadline(timeoutMs);
  let report: AuthReport;
  let bulk: BulkRequirement[] | undefined;
  try {
    const resolver = deadline.wrapFunction(createResolver({ server, timeoutMs: Math.min(timeoutMs, 2000), tries: 2 }));
    const envelope = { ip, helo: v.helo, mailFrom: v['mail-from'], useReceived: v['no-received'] !== true };
    if (v.bulk) {
      // The one home of the bulk check (reports/bulkCheck.ts). A file says nothing of how it was
      // sent: no transport is given, so TLS and reverse DNS stay unknown.
      const checked = await checkBulkMessage(message, envelope, { verify: verifyMessage, resolver, authServId });
      report = checked.report;
      bulk = checked.requirements;
    } else {
      report = await verifyMessage(message, { resolver, ...envelope, authServId });
    }
  } finally {
    deadline.dispose();
  }
  // What the message and the DNS hold is data: control characters are shown as escapes.
  if (v.json) io.stdout.write(bulk ? `${jsonText({ ...report, bulk }, 2)}\n` : reportJson(report));
  else {
    io.stdout.write(visibleText(formatReportText(report)));
    if (bulk) io.stdout.write(formatBulkText(bulk));
  }
  // When no query got an answer, the results say nothing about the message, so exit 3 wins. One
  // slow lookup among many does not hide the results the others gave (the report notes it).
  if (report.dnsUnreachable.length > 0 && report.dnsUnreachable.length >= report.dnsQueries) {
    io.stderr.write(`smtpwb verify: the DNS server${dnsServer ? ` ${visibleLine(dnsServer)}` : ''} did not answer within ${timeoutMs} ms (${report.dnsUnreachable[0].code})\n`);
    return 3;
  }
  return report.failed || (bulk?.some((r) => r.status === 'fail') ?? false) ? 1 : 0;
}
