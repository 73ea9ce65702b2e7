/**
 * `smtpwb dns DOMAIN... [--selector NAME]... [--dns-server HOST:PORT] [--dnssec-resolver HOST:PORT] [--timeout MS] [--probe-starttls] [--json | --markdown]`
 *
 * Prints a mail DNS report per domain. Exit codes: 0 without errors, 1 with errors, 2 for a usage
 * error, 3 when DNS could not be reached.
 */
import { readFileSync } from 'node:fs';
import { getServers } from 'node:dns';
import { resolve } from 'node:path';
import { jsonText, visibleLine } from '../../../common/escape';
import {
  createNodeHttpsFetcher,
  createNodeResolver,
  createEngineStartTlsProber,
  createTlsChainProber,
  countErrors,
  type DomainReport,
  normalizeDomain,
  type ReportOptions,
  renderMarkdown,
  renderText,
  reportToJson,
  runReport,
} from '../dns/index';
import type { HttpsFetcher, StartTlsProber } from '../dns/context';
import { createDnssecQuery, type DnssecQuery, RR } from '../dns/dnssecWire';
import type { TlsChainProber } from '../dns/tlsChain';
import { dkimSelectorProblem } from '../../../common/dnsName';
import { systemHostLookup } from '../dns/resolver';
import { resolveDnsServer as resolveServerAddress } from '../dns/serverAddress';
import { Deadline, DNS_SERVER_FORMAT, parseDuration, parseHostPort, parseOptions, resolveDnsServer, timeoutError, usageError, wantsHelp } from './options';

export interface DnsCommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
  cwd: string;
}

export const DNS_USAGE = `Usage: smtpwb dns DOMAIN... [options]

Checks a domain's mail DNS: MX, reverse DNS, SPF, DKIM, DMARC, MTA-STS, TLS-RPT and BIMI.

Options:
  --selector NAME         a DKIM selector to check (repeatable); common names are probed too
  --no-selector-probe     do not probe common DKIM selector names
  --dns-server HOST:PORT  ask this DNS server instead of the system's (e.g. 127.0.0.1:5353,
                          [::1]:53, ns.example.net:53; a host name is resolved once)
  --probe-starttls        connect to each MX host on port 25 and inspect its STARTTLS; adds the
                          DNSSEC, DANE and transport-consistency checks, matching each MX's
                          TLSA records against the certificate chain it presents (RFC 7672)
  --dnssec-resolver HOST:PORT
                          the validating resolver whose AD bit decides what is DNSSEC-secure
                          (default: --dns-server, else the system's first resolver); giving it
                          adds the DNSSEC, DANE and transport checks even without the probe.
                          A resolver that does not validate is reported as such
  --timeout MS            the time the whole run may take: every DNS query (DNSSEC ones too),
                          MTA-STS fetch and STARTTLS probe ends by then, and the report is
                          printed within a second after (default 5000; also 5s)
  --json                  print one JSON object per domain, one per line
  --markdown              print the report as Markdown (as the sidebar exports it)
  -h, --help              show this help

Exit status: 0 no errors, 1 errors found, 2 usage error, 3 DNS could not be reached.

Test hooks (environment): SMTPWB_DNS_HTTPS_PORT and SMTPWB_DNS_SMTP_PORT change the ports of the
MTA-STS fetch and the STARTTLS probe; SMTPWB_DNS_EXTRA_CA names a PEM file of extra trusted CAs;
SMTPWB_DNSSEC_PROBE_NAME names a signed zone whose DNSKEY answer shows whether the resolver
validates (instead of the root zone and dnssec-failed.org).
`;

interface ParsedArgs {
  domains: string[];
  selectors: string[];
  /** `--dns-server` as given; a host name is resolved when the command runs. */
  server?: string;
  /** `--dnssec-resolver` as given. */
  dnssecResolver?: string;
  probeStartTls: boolean;
  probeSelectors: boolean;
  json: boolean;
  markdown: boolean;
  timeoutMs: number;
  help: boolean;
}

const DNS_OPTIONS = {
  selector: { type: 'string', multiple: true },
  'no-selector-probe': { type: 'boolean' },
  'dns-server': { type: 'string' },
  'dnssec-resolver': { type: 'string' },
  'probe-starttls': { type: 'boolean' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  markdown: { type: 'boolean' },
} as const;

/** Parses the arguments, or returns a usage error message. */
export function parseDnsArgs(args: readonly string[]): ParsedArgs | { error: string } {
  const help = wantsHelp(args);
  const parsed = parseOptions(args, DNS_OPTIONS);
  if (!parsed.ok) return help ? { ...emptyArgs(), help } : { error: parsed.error };
  const v = parsed.values;
  const out: ParsedArgs = { ...emptyArgs(), domains: parsed.positionals, help, probeStartTls: v['probe-starttls'] === true, probeSelectors: v['no-selector-probe'] !== true, json: v.json === true, markdown: v.markdown === true };
  for (const selector of v.selector ?? []) {
    // A selector is dot-separated labels of 1 to 63 characters (RFC 6376 §3.1): "a..b" or a label of
    // 70 characters is a usage error, not a DNS failure.
    const problem = dkimSelectorProblem(selector);
    if (problem) return { error: `--selector: ${problem}` };
    out.selectors.push(selector);
  }
  const server = v['dns-server'];
  if (server !== undefined) {
    if (!parseHostPort(server, 53)) return { error: `--dns-server needs ${DNS_SERVER_FORMAT}, not "${server}"` };
    out.server = server;
  }
  const dnssecResolver = v['dnssec-resolver'];
  if (dnssecResolver !== undefined) {
    if (!parseHostPort(dnssecResolver, 53)) return { error: `--dnssec-resolver needs ${DNS_SERVER_FORMAT}, not "${dnssecResolver}"` };
    out.dnssecResolver = dnssecResolver;
  }
  if (v.timeout !== undefined) {
    const ms = parseDuration(v.timeout, 'ms');
    if (ms === undefined) return { error: timeoutError('ms') };
    out.timeoutMs = ms;
  }
  if (!out.help && out.domains.length === 0) return { error: 'give at least one domain' };
  if (out.json && out.markdown) return { error: '--json and --markdown cannot be combined' };
  return out;
}

function emptyArgs(): ParsedArgs {
  return { domains: [], selectors: [], probeStartTls: false, probeSelectors: true, json: false, markdown: false, timeoutMs: 5000, help: false };
}

export async function dnsCommand(args: string[], io: DnsCommandIo): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(DNS_USAGE);
    return 0;
  }
  const parsed = parseDnsArgs(args);
  if ('error' in parsed) return usageError(io, 'dns', visibleLine(parsed.error), DNS_USAGE);
  if (parsed.help) {
    io.stdout.write(DNS_USAGE);
    return 0;
  }
  const domains: string[] = [];
  for (const d of parsed.domains) {
    const n = normalizeDomain(d);
    if ('error' in n) {
      io.stderr.write(`smtpwb dns: ${visibleLine(n.error)}\n`);
      return 2;
    }
    domains.push(n.domain);
  }
  for (const selector of parsed.selectors) {
    const problem = domains.map((d) => dkimSelectorProblem(selector, d)).find((p) => p !== undefined);
    if (problem) return usageError(io, 'dns', visibleLine(`--selector ${selector}: ${problem}`), DNS_USAGE);
  }
  let extraCa: string[] = [];
  const caFile = io.env.SMTPWB_DNS_EXTRA_CA;
  if (caFile) {
    try {
      extraCa = [readFileSync(resolve(io.cwd, caFile), 'utf8')];
    } catch (err) {
      io.stderr.write(`smtpwb dns: cannot read SMTPWB_DNS_EXTRA_CA: ${visibleLine((err as Error).message)}\n`);
      return 2;
    }
  }
  const port = (name: string): number | undefined => {
    const v = io.env[name];
    return v && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  let server: string | undefined;
  if (parsed.server !== undefined) {
    const resolved = await resolveDnsServer(parsed.server);
    if ('error' in resolved) return usageError(io, 'dns', visibleLine(resolved.error), DNS_USAGE);
    server = resolved.server;
  }
  // DNSSEC and DANE (with the probe or an explicit resolver): the AD bit of a validating resolver
  // decides what is secure, as in Postfix; the report names that resolver and says when it does not
  // validate. Default: the --dns-server, else the system's first resolver.
  let dnssecServer: string | undefined;
  if (parsed.dnssecResolver !== undefined) {
    // The error names the option the user gave (the grammar and the lookup are --dns-server's).
    const resolved = await resolveServerAddress(parsed.dnssecResolver, systemHostLookup, '--dnssec-resolver');
    if ('error' in resolved) return usageError(io, 'dns', visibleLine(resolved.error), DNS_USAGE);
    dnssecServer = resolved.server;
  } else if (parsed.probeStartTls) {
    dnssecServer = server ?? getServers()[0];
  }
  const probeName = io.env.SMTPWB_DNSSEC_PROBE_NAME;
  // One deadline for the whole run (issue 10: the run ends within --timeout plus one second; its one
  // home is `Deadline` in options.ts): the resolver's queries race it, and every other piece of I/O
  // (the DNSSEC queries, the MTA-STS fetch, the STARTTLS and DANE probes) gets at most the time left
  // as its own timeout, and a failure value of its own kind once it has passed (never an exception:
  // the checks report failures as findings).
  const deadline = new Deadline(parsed.timeoutMs);
  const over = `the run's --timeout of ${parsed.timeoutMs} ms has passed`;
  // The DNSSEC client is handed to the report (`dnssec.query`, read by report.ts) so that its
  // queries, chains of them included, end by the deadline too.
  const dnssecQuery = (inner: DnssecQuery): DnssecQuery => (name, type, options) =>
    deadline.bounded((timeoutMs) => inner(name, type, { ...options, timeoutMs }), options.timeoutMs, { ok: false, error: over });
  const dnssecOptions = dnssecServer
    ? { server: dnssecServer, query: dnssecQuery(createDnssecQuery(dnssecServer)), ...(probeName ? { probes: { secure: { name: probeName, type: RR.DNSKEY } } } : {}) }
    : undefined;
  const dnssec: ReportOptions['dnssec'] = dnssecOptions;
  const nodeResolver = createNodeResolver({ server, timeoutMs: Math.min(parsed.timeoutMs, 2000), tries: 2 });
  const resolver = deadline.wrap(nodeResolver);
  const https = createNodeHttpsFetcher({ extraCa, port: port('SMTPWB_DNS_HTTPS_PORT') });
  const fetcher: HttpsFetcher = { fetch: (request) => deadline.bounded((timeoutMs) => https.fetch({ ...request, timeoutMs }), request.timeoutMs, { ok: false, error: over }) };
  const starttls = parsed.probeStartTls ? createEngineStartTlsProber({ port: port('SMTPWB_DNS_SMTP_PORT'), extraCa }) : undefined;
  // A probe whose own timer ran out because the run's --timeout bounded it says the --timeout ran out,
  // whichever of the two timers fired first.
  const prober: StartTlsProber | undefined = starttls && {
    probe: (request) =>
      deadline.bounded(
        async (timeoutMs) => {
          const r = await starttls.probe({ ...request, timeoutMs });
          return !r.connected && r.timedOut && timeoutMs < request.timeoutMs ? { connected: false, error: over } : r;
        },
        request.timeoutMs,
        { connected: false, error: over },
      ),
  };
  const chains = createTlsChainProber();
  const chainProber: TlsChainProber = { fetch: (request) => deadline.bounded((timeoutMs) => chains.fetch({ ...request, timeoutMs }), request.timeoutMs, { ok: false, stage: 'connect', error: over }) };
  let reports: DomainReport[];
  try {
    reports = await Promise.all(
      domains.map((domain) =>
        runReport(domain, {
          resolver,
          fetcher,
          prober,
          selectors: parsed.selectors,
          probeSelectors: parsed.probeSelectors,
          timeoutMs: parsed.timeoutMs,
          ...(dnssec ? { dnssec } : {}),
          ...(dnssec && parsed.probeStartTls ? { chainProber, smtpPort: port('SMTPWB_DNS_SMTP_PORT') } : {}),
        }),
      ),
    );
  } finally {
    deadline.dispose();
    // Queries still retrying in the background would keep the process alive.
    (nodeResolver as { cancel?: () => void }).cancel?.();
  }
  // What DNS servers and web servers sent is data: the renderers escape each piece of it where they
  // put it into the report (dns/render.ts), so a line feed in a record can never start a line of its own.
  if (parsed.json) {
    for (const r of reports) io.stdout.write(`${jsonText(reportToJson(r))}\n`);
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
