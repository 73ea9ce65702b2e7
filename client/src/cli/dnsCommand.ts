/**
 * `smtpwb dns DOMAIN... [--selector NAME]... [--dns-server HOST:PORT] [--probe-starttls] [--json | --markdown]`
 *
 * Prints a mail DNS report per domain. Exit codes: 0 without errors, 1 with errors, 2 for a usage
 * error, 3 when DNS could not be reached.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import {
  createNodeHttpsFetcher,
  createNodeResolver,
  createEngineStartTlsProber,
  countErrors,
  type DomainReport,
  normalizeDomain,
  renderMarkdown,
  renderText,
  reportToJson,
  runReport,
} from '../dns/index';

export interface DnsCommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
  cwd: string;
}

export const DNS_USAGE = `Usage: smtpwb dns DOMAIN... [options]

Checks a domain's mail DNS: MX, reverse DNS, SPF, DKIM, DMARC, MTA-STS, TLS-RPT and BIMI.

Options:
  --selector NAME       a DKIM selector to check (repeatable); common names are probed too
  --no-selector-probe   do not probe common DKIM selector names
  --dns-server IP:PORT  ask this DNS server instead of the system's (e.g. 127.0.0.1:5353)
  --probe-starttls      connect to each MX host on port 25 and inspect its STARTTLS
  --timeout MS          timeout of each query, fetch and probe (default 5000)
  --json                print one JSON object per domain, one per line
  --markdown            print the report as Markdown (as the sidebar exports it)
  -h, --help            show this help

Exit status: 0 no errors, 1 errors found, 2 usage error, 3 DNS could not be reached.

Test hooks (environment): SMTPWB_DNS_HTTPS_PORT and SMTPWB_DNS_SMTP_PORT change the ports of the
MTA-STS fetch and the STARTTLS probe; SMTPWB_DNS_EXTRA_CA names a PEM file of extra trusted CAs.
`;

interface ParsedArgs {
  domains: string[];
  selectors: string[];
  server?: string;
  probeStartTls: boolean;
  probeSelectors: boolean;
  json: boolean;
  markdown: boolean;
  timeoutMs: number;
  help: boolean;
}

/** Parses the arguments, or returns a usage error message. */
export function parseDnsArgs(args: readonly string[]): ParsedArgs | { error: string } {
  const out: ParsedArgs = { domains: [], selectors: [], probeStartTls: false, probeSelectors: true, json: false, markdown: false, timeoutMs: 5000, help: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const value = (): string | undefined => (eq !== -1 ? arg.slice(eq + 1) : args[++i]);
    switch (name) {
      case '-h':
      case '--help':
        out.help = true;
        break;
      case '--json':
        out.json = true;
        break;
      case '--markdown':
        out.markdown = true;
        break;
      case '--probe-starttls':
        out.probeStartTls = true;
        break;
      case '--no-selector-probe':
        out.probeSelectors = false;
        break;
      case '--selector': {
        const v = value();
        if (!v || !/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/.test(v)) return { error: `--selector needs a selector name${v ? `, not "${v}"` : ''}` };
        out.selectors.push(v);
        break;
      }
      case '--dns-server': {
        const v = value();
        if (!v || !validServer(v)) return { error: `--dns-server needs IP or IP:PORT (e.g. 127.0.0.1:5353 or [::1]:53)${v ? `, not "${v}"` : ''}` };
        out.server = v;
        break;
      }
      case '--timeout': {
        const v = value();
        if (!v || !/^\d+$/.test(v) || Number(v) < 1) return { error: '--timeout needs a number of milliseconds' };
        out.timeoutMs = Number(v);
        break;
      }
      default:
        if (arg.startsWith('-')) return { error: `unknown option "${arg}"` };
        out.domains.push(arg);
    }
  }
  if (!out.help && out.domains.length === 0) return { error: 'give at least one domain' };
  if (out.json && out.markdown) return { error: '--json and --markdown cannot be combined' };
  return out;
}

function validServer(v: string): boolean {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(v);
  if (bracket) return isIP(bracket[1]) === 6 && (bracket[2] === undefined || Number(bracket[2]) < 65536);
  if (isIP(v) !== 0) return true;
  const m = /^([^:]+):(\d+)$/.exec(v);
  return !!m && isIP(m[1]) === 4 && Number(m[2]) < 65536;
}

export async function dnsCommand(args: string[], io: DnsCommandIo): Promise<number> {
  const parsed = parseDnsArgs(args);
  if ('error' in parsed) {
    io.stderr.write(`smtpwb dns: ${parsed.error}\n\n${DNS_USAGE}`);
    return 2;
  }
  if (parsed.help) {
    io.stdout.write(DNS_USAGE);
    return 0;
  }
  const domains: string[] = [];
  for (const d of parsed.domains) {
    const n = normalizeDomain(d);
    if ('error' in n) {
      io.stderr.write(`smtpwb dns: ${n.error}\n`);
      return 2;
    }
    domains.push(n.domain);
  }
  let extraCa: string[] = [];
  const caFile = io.env.SMTPWB_DNS_EXTRA_CA;
  if (caFile) {
    try {
      extraCa = [readFileSync(resolve(io.cwd, caFile), 'utf8')];
    } catch (err) {
      io.stderr.write(`smtpwb dns: cannot read SMTPWB_DNS_EXTRA_CA: ${(err as Error).message}\n`);
      return 2;
    }
  }
  const port = (name: string): number | undefined => {
    const v = io.env[name];
    return v && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  const resolver = createNodeResolver({ server: parsed.server, timeoutMs: Math.min(parsed.timeoutMs, 2000), tries: 2 });
  const fetcher = createNodeHttpsFetcher({ extraCa, port: port('SMTPWB_DNS_HTTPS_PORT') });
  const prober = parsed.probeStartTls ? createEngineStartTlsProber({ port: port('SMTPWB_DNS_SMTP_PORT'), extraCa }) : undefined;
  const reports: DomainReport[] = await Promise.all(
    domains.map((domain) =>
      runReport(domain, { resolver, fetcher, prober, selectors: parsed.selectors, probeSelectors: parsed.probeSelectors, timeoutMs: parsed.timeoutMs }),
    ),
  );
  if (parsed.json) {
    for (const r of reports) io.stdout.write(`${JSON.stringify(reportToJson(r))}\n`);
  } else if (parsed.markdown) {
    io.stdout.write(renderMarkdown(reports));
  } else {
    io.stdout.write(renderText(reports));
  }
  if (reports.some((r) => r.dnsUnreachable)) {
    io.stderr.write('smtpwb dns: DNS could not be reached.\n');
    return 3;
  }
  return reports.some((r) => countErrors(r) > 0) ? 1 : 0;
}
