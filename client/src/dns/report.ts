/**
 * Runs every check for a domain at once over one shared DNS client, so a report costs about as many
 * round trips as its longest chain of dependent queries, not one per query.
 */
import { domainToASCII } from 'node:url';
import { checkBimi } from './bimi';
import { type CheckContext, type HttpsFetcher, type OrgDomainLookup, pslOrgDomain, type StartTlsProber } from './context';
import { checkDkim } from './dkim';
import { checkDmarc } from './dmarc';
import { checkMtaSts } from './mtaSts';
import { checkMx, checkPtr } from './mx';
import { DnsClient, normalizeName, type RawResolver } from './resolver';
import { checkSpf } from './spf';
import { checkStartTls } from './starttls';
import { checkTlsRpt } from './tlsRpt';
import { PUBLIC_VALIDATION_PROBES, type ValidationProbes } from './dnssec';
import { createDnssecQuery, type DnssecQuery } from './dnssecWire';
import type { TlsChainProber } from './tlsChain';
import { runTransportChecks } from './transportReport';
import { type CheckResult, type Clock, type DomainReport, systemClock } from './types';

export interface ReportOptions {
  resolver: RawResolver;
  /** Absent where only DNS may be sent: MTA-STS policies are then not fetched. */
  fetcher?: HttpsFetcher;
  /** Absent unless the user asked for the STARTTLS probe. */
  prober?: StartTlsProber;
  clock?: Clock;
  orgDomain?: OrgDomainLookup;
  selectors?: string[];
  /** Probe common DKIM selector names (default true). */
  probeSelectors?: boolean;
  /** The timeout of each DNS query, fetch and probe, in milliseconds (default 5000). */
  timeoutMs?: number;
  /**
   * DNSSEC, DANE and transport consistency: the validating resolver to ask (`IP`, `IP:PORT`), whose
   * AD bit decides what is secure. Absent: those three checks are left out of the report.
   */
  /** `query`: the DNSSEC query function (default `createDnssecQuery(server)`); the CLI passes one bounded by its --timeout. */
  dnssec?: { server: string; probes?: ValidationProbes; query?: DnssecQuery };
  /** Fetches each MX's certificate chain for DANE; set together with the STARTTLS probe. */
  chainProber?: TlsChainProber;
  /** The SMTP port the DANE probe connects to (25; tests point it elsewhere). */
  smtpPort?: number;
}

/** Checks that a domain name is usable and returns it in A-label form, or an error message. */
export function normalizeDomain(input: string): { domain: string } | { error: string } {
  const trimmed = normalizeName(input.trim());
  if (trimmed === '') return { error: 'the domain is empty' };
  const ascii = domainToASCII(trimmed);
  if (ascii === '') return { error: `"${input}" is not a valid domain name` };
  if (ascii.length > 253) return { error: `"${input}" is longer than 253 characters` };
  const labels = ascii.split('.');
  if (labels.length < 2) return { error: `"${input}" is not a fully qualified domain name` };
  for (const l of labels) {
    if (!/^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?$/.test(l)) return { error: `"${input}" has an invalid label "${l}"` };
  }
  return { domain: ascii };
}

/** The order checks appear in reports. */
const ORDER = ['mx', 'ptr', 'spf', 'dkim', 'dmarc', 'mta-sts', 'tls-rpt', 'bimi', 'starttls', 'dnssec', 'dane', 'transport'];

/** Runs the full report for one domain. The domain must already be normalized. */
export async function runReport(domain: string, options: ReportOptions): Promise<DomainReport> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const timeoutMs = options.timeoutMs ?? 5000;
  const dns = new DnsClient(options.resolver, { timeoutMs });
  const ctx: CheckContext = {
    domain: normalizeName(domain),
    dns,
    clock,
    orgDomain: options.orgDomain ?? pslOrgDomain,
    fetcher: options.fetcher,
    prober: options.prober,
    selectors: options.selectors ?? [],
    probeSelectors: options.probeSelectors ?? true,
    timeoutMs,
  };
  const mx = checkMx(ctx);
  const dmarc = checkDmarc(ctx);
  const base = Promise.all([
    mx.then((o) => o.mx),
    mx.then((o) => checkPtr(ctx, o)),
    checkSpf(ctx),
    checkDkim(ctx),
    dmarc.then((o) => o.result),
    checkMtaSts(ctx, mx),
    checkTlsRpt(ctx),
    checkBimi(ctx, dmarc),
    checkStartTls(ctx, mx),
  ]);
  // The transport checks ask the validating resolver with their own client (they need DO, CD and
  // AD), at the same time as the others; the consistency check then reads the others' results.
  const transport = options.dnssec
    ? runTransportChecks(
        {
          domain: ctx.domain,
          query: options.dnssec.query ?? createDnssecQuery(options.dnssec.server),
          resolverAddress: options.dnssec.server,
          prober: options.chainProber,
          smtpPort: options.smtpPort,
          nowMs: started,
          timeoutMs,
          probes: options.dnssec.probes ?? PUBLIC_VALIDATION_PROBES,
        },
        base,
      )
    : Promise.resolve([]);
  const checks: CheckResult[] = [...(await base), ...(await transport)];
  checks.sort((a, b) => ORDER.indexOf(a.id) - ORDER.indexOf(b.id));
  const ended = clock.now();
  return {
    domain: ctx.domain,
    checkedAt: new Date(started).toISOString(),
    durationMs: ended - started,
    depth: dns.depth,
    queries: dns.queryCount,
    dnsUnreachable: dns.unreachable,
    checks,
  };
}
