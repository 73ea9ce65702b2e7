/**
 * `smtpwb verify FILE.eml [--ip IP] [--helo NAME] [--mail-from ADDR] [--dns-server HOST:PORT]
 * [--authserv-id NAME] [--no-received] [--json]`: checks DKIM, SPF, DMARC, ARC and BIMI and prints
 * each result with its reason, then the Authentication-Results field (RFC 8601).
 *
 * Exit status: 0 when every result is pass, none or another non-failure; 1 when something failed;
 * 2 for a usage error or an unreadable file; 3 when the DNS server did not answer.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { createResolver, parseDnsServer } from '../mailAuth/resolver';
import { verifyMessage } from '../mailAuth/verify';
import { formatReportText, reportJson } from '../mailAuth/format';

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const VERIFY_USAGE =
  'usage: smtpwb verify FILE.eml [--ip IP] [--helo NAME] [--mail-from ADDR] [--dns-server HOST:PORT] [--authserv-id NAME] [--no-received] [--json]\n';

/** Splits `--name value` and `--name=value` options; returns undefined (after printing) on a usage error. */
export function parseOptions(
  args: string[],
  valued: readonly string[],
  flags: readonly string[],
  stderr: NodeJS.WritableStream,
  usage: string,
): { positional: string[]; values: Map<string, string>; flags: Set<string> } | undefined {
  const positional: string[] = [];
  const values = new Map<string, string>();
  const set = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (flags.includes(name) && eq < 0) {
      set.add(name);
    } else if (valued.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) {
        stderr.write(`smtpwb: --${name} needs a value\n${usage}`);
        return undefined;
      }
      values.set(name, value);
    } else {
      stderr.write(`smtpwb: unknown option ${arg}\n${usage}`);
      return undefined;
    }
  }
  return { positional, values, flags: set };
}

export async function verifyCommand(args: string[], io: CommandIo): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(VERIFY_USAGE);
    return 0;
  }
  const parsed = parseOptions(args, ['ip', 'helo', 'mail-from', 'dns-server', 'authserv-id'], ['json', 'no-received'], io.stderr, VERIFY_USAGE);
  if (!parsed) return 2;
  if (parsed.positional.length !== 1) {
    io.stderr.write(`smtpwb verify: expected one message file\n${VERIFY_USAGE}`);
    return 2;
  }
  const ip = parsed.values.get('ip');
  if (ip !== undefined && isIP(ip) === 0) {
    io.stderr.write(`smtpwb verify: --ip "${ip}" is not an IP address\n`);
    return 2;
  }
  const dnsServer = parsed.values.get('dns-server');
  if (dnsServer !== undefined && parseDnsServer(dnsServer) === undefined) {
    io.stderr.write(`smtpwb verify: --dns-server "${dnsServer}" must be IP[:PORT] or [IPv6]:PORT\n`);
    return 2;
  }
  const file = resolvePath(io.cwd, parsed.positional[0]);
  let message: Buffer;
  try {
    message = await readFile(file);
  } catch (err) {
    io.stderr.write(`smtpwb verify: cannot read ${parsed.positional[0]}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }

  const report = await verifyMessage(message, {
    resolver: createResolver({ server: dnsServer }),
    ip,
    helo: parsed.values.get('helo'),
    mailFrom: parsed.values.get('mail-from'),
    authServId: parsed.values.get('authserv-id'),
    useReceived: !parsed.flags.has('no-received'),
  });
  io.stdout.write(parsed.flags.has('json') ? reportJson(report) : formatReportText(report));
  // When no query got an answer, the results say nothing about the message, so exit 3 wins. One
  // slow lookup among many does not hide the results the others gave (the report notes it).
  if (report.dnsUnreachable.length > 0 && report.dnsUnreachable.length >= report.dnsQueries) {
    io.stderr.write(`smtpwb verify: the DNS server${dnsServer ? ` ${dnsServer}` : ''} did not answer (${report.dnsUnreachable[0].code})\n`);
    return 3;
  }
  return report.failed ? 1 : 0;
}
