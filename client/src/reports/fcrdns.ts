/**
 * Forward-confirmed reverse DNS of an IP (RFC 8601 §3 "iprev", RFC 1912 §2.1): the PTR names of the
 * address, and whether one of them has an A (IPv4) or AAAA (IPv6) record that is the address again.
 * The one home of that decision: the bulk-sender check asks for it (Gmail and Yahoo, 2024), and the
 * report summary shows it per DMARC source IP (`lookupReverseDns`, with bounded concurrency, a
 * per-lookup timeout and a cache per IP). The resolver is a parameter with the contract of
 * `dns.promises.resolve(name, rrtype)`; no `vscode`.
 */
import { classifyDnsError, expandIpv6, reverseName, type DnsFailure } from '../dns/resolver';
import type { MailauthResolver } from '../mailAuth/resolver';
// Types only: the summary's code stays out of the bundles that check FCrDNS alone (the Local Inbox).
import type { ReportSummary, ReverseDnsOverview, SourceSummary } from './summary';

export interface FcrdnsResult {
  /** The first PTR name that resolves back, else the first PTR name; absent when there is none. */
  ptr?: string;
  confirmed: boolean;
  /** Why it could not be decided (a DNS failure other than "no such name" or "no data"). */
  error?: string;
}

/**
 * The whole answer about one IP, as the report summary shows it:
 * - `confirmed`: a PTR name resolves back to the IP;
 * - `unconfirmed`: PTR names exist, and none resolves back (every forward lookup answered);
 * - `nxdomain`: the reverse name does not exist; `nodata`: it exists without a PTR record;
 * - `failed`: a lookup did not answer (`failure` says how: TIMEOUT, SERVFAIL, REFUSED, ...), so
 *   the question is open; PTR names already read are kept;
 * - `invalid`: not an IP address (a report's `source_ip` is peer data).
 * PTR names are peer data: they are kept exact here (lower case, without the final dot) and
 * escaped by every renderer.
 */
export type ReverseDnsStatus = 'confirmed' | 'unconfirmed' | 'nxdomain' | 'nodata' | 'failed' | 'invalid';

export interface ReverseDnsResult {
  status: ReverseDnsStatus;
  /** The PTR names (at most ten are followed, RFC 8601 §3). */
  ptrs: string[];
  /** The PTR names whose forward lookup gives the IP back. */
  confirmedNames: string[];
  /** For `failed`: the failure class (dns/resolver.ts `classifyDnsError`) and the question that failed. */
  failure?: DnsFailure;
  detail?: string;
}

function sameAddress(x: string, y: string): boolean {
  if (x.includes(':') && y.includes(':')) return expandIpv6(x)?.map((g) => parseInt(g, 16)).join(':') === expandIpv6(y)?.map((g) => parseInt(g, 16)).join(':');
  return x === y;
}

type Lookup = { names: string[]; none?: 'nxdomain' | 'nodata' } | { failure: DnsFailure; error: string };

/** The error code of a resolver's rejection, as `dns.promises` gives it. */
function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

/** NXDOMAIN and NODATA are answers ("none"); anything else is a failure to decide. */
async function lookup(resolver: MailauthResolver, name: string, type: string): Promise<Lookup> {
  try {
    const answer = await resolver(name, type);
    return { names: (answer as unknown[]).filter((a): a is string => typeof a === 'string').map((a) => a.replace(/\.$/, '').toLowerCase()) };
  } catch (error) {
    const code = errorCode(error);
    // Some resolvers (mailauth's own tests, wire resolvers) name the RCODEs instead of c-ares' codes.
    const kind = classifyDnsError(code === 'NXDOMAIN' ? 'ENOTFOUND' : code === 'NODATA' ? 'ENODATA' : code);
    if (kind.status !== 'error') return { names: [], none: kind.status };
    return { failure: kind.failure, error: `${type} ${name}: ${code ?? (error instanceof Error ? error.message : String(error))}` };
  }
}

/** Looks up an IP's PTR names and which of them resolve back, with the given resolver. Never throws. */
export async function reverseDns(ip: string, resolver: MailauthResolver): Promise<ReverseDnsResult> {
  const rev = reverseName(ip);
  if (!rev) return { status: 'invalid', ptrs: [], confirmedNames: [], detail: 'not an IP address' };
  const ptr = await lookup(resolver, rev, 'PTR');
  if ('failure' in ptr) return { status: 'failed', ptrs: [], confirmedNames: [], failure: ptr.failure, detail: ptr.error };
  if (ptr.names.length === 0) return { status: ptr.none ?? 'nodata', ptrs: [], confirmedNames: [] };
  const type = ip.includes(':') ? 'AAAA' : 'A';
  // RFC 8601 §3 (iprev, after RFC 5451's wording): at most ten PTR names are followed.
  const ptrs = ptr.names.slice(0, 10);
  const confirmedNames: string[] = [];
  let firstFailure: { failure: DnsFailure; error: string } | undefined;
  for (const name of ptrs) {
    const forward = await lookup(resolver, name, type);
    if ('failure' in forward) {
      firstFailure ??= forward;
      continue;
    }
    if (forward.names.some((a) => sameAddress(a, ip))) confirmedNames.push(name);
  }
  if (confirmedNames.length > 0) return { status: 'confirmed', ptrs, confirmedNames };
  if (firstFailure) return { status: 'failed', ptrs, confirmedNames, failure: firstFailure.failure, detail: firstFailure.error };
  return { status: 'unconfirmed', ptrs, confirmedNames };
}

/** Checks an IP's forward-confirmed reverse DNS with the given resolver (the bulk-sender check's shape). Never throws. */
export async function forwardConfirmedReverseDns(ip: string, resolver: MailauthResolver): Promise<FcrdnsResult> {
  const r = await reverseDns(ip, resolver);
  if (r.status === 'invalid') return { confirmed: false, error: `${ip} is not an IP address` };
  if (r.status === 'confirmed') return { ptr: r.confirmedNames[0], confirmed: true };
  const out: FcrdnsResult = { confirmed: false };
  if (r.ptrs.length > 0) out.ptr = r.ptrs[0];
  if (r.status === 'failed' && r.detail) out.error = r.detail;
  return out;
}

export interface ReverseDnsLookupOptions {
  /** Lookups of IPs at the same time (default 8). */
  concurrency?: number;
  /** Milliseconds one IP's lookups (PTR and the forward ones) may take in all (default 3000); past it, `failed` with TIMEOUT. */
  timeoutMs?: number;
  /** At most this many IPs are looked up, in the order given (default 1000); the rest are left out. */
  limit?: number;
  /**
   * After this many IPs in a row whose lookups the DNS server did not answer (TIMEOUT,
   * UNREACHABLE, REFUSED), no more are started (default: the concurrency, a whole round): a CI
   * job without DNS then costs a few timeouts, not one per source.
   */
  giveUpAfter?: number;
  /** Results per IP, kept between calls (the editor keeps one per window; unanswered lookups are not kept); a fresh one when absent. */
  cache?: Map<string, Promise<ReverseDnsResult>>;
  /** Stops starting lookups (Ctrl+C, a closed view); those not started are left out. */
  signal?: AbortSignal;
}

/** Why some IPs were not looked up: past the limit, the DNS server stopped answering, or stopped by the caller. */
export type ReverseDnsLeftOut = 'limit' | 'unanswered' | 'cancelled';

export interface ReverseDnsLookups {
  found: Map<string, ReverseDnsResult>;
  /** Set when IPs were left out, with the reason (the first that applied). */
  leftOutBecause?: ReverseDnsLeftOut;
}

/** Whether a result means the DNS server did not answer at all (not a name's own failure such as SERVFAIL). */
function unanswered(r: ReverseDnsResult): boolean {
  return r.status === 'failed' && (r.failure === 'TIMEOUT' || r.failure === 'UNREACHABLE' || r.failure === 'REFUSED');
}

/** One IP's lookup under its timeout: past it the result is `failed` with TIMEOUT, whatever the resolver does later. */
function withTimeout(ip: string, work: Promise<ReverseDnsResult>, ms: number): Promise<ReverseDnsResult> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<ReverseDnsResult>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'failed', ptrs: [], confirmedNames: [], failure: 'TIMEOUT', detail: `no answer about ${ip} within ${ms} ms` }), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/**
 * Looks up the reverse DNS of many IPs (the sources of a report summary): each IP once per call,
 * at most `concurrency` at a time, each under `timeoutMs`, and no more once the DNS server has
 * stopped answering (`giveUpAfter`). The cache keeps every answer (NXDOMAIN and SERVFAIL too) for
 * later calls, but not a lookup the server did not answer, which a later call asks again. Never
 * throws.
 */
export async function lookupReverseDns(ips: readonly string[], resolver: MailauthResolver, options: ReverseDnsLookupOptions = {}): Promise<ReverseDnsLookups> {
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const timeoutMs = options.timeoutMs ?? 3000;
  const giveUpAfter = Math.max(1, options.giveUpAfter ?? concurrency);
  const cache = options.cache ?? new Map<string, Promise<ReverseDnsResult>>();
  const unique = [...new Set(ips)];
  const limit = options.limit ?? 1000;
  const wanted = unique.slice(0, limit);
  const found = new Map<string, ReverseDnsResult>();
  let unansweredInRow = 0;
  let stopped: ReverseDnsLeftOut | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < wanted.length && stopped === undefined) {
      if (options.signal?.aborted) {
        stopped = 'cancelled';
        break;
      }
      const ip = wanted[next++];
      let pending = cache.get(ip);
      if (!pending) {
        pending = withTimeout(ip, reverseDns(ip, resolver), timeoutMs);
        cache.set(ip, pending);
      }
      const result = await pending;
      found.set(ip, result);
      // An answer is kept; "the server did not answer" is not, so that a later call asks again.
      if (unanswered(result) && cache.get(ip) === pending) cache.delete(ip);
      unansweredInRow = unanswered(result) ? unansweredInRow + 1 : 0;
      if (unansweredInRow >= giveUpAfter && next < wanted.length) stopped = 'unanswered';
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, wanted.length) }, worker));
  const leftOutBecause = stopped ?? (unique.length > limit ? 'limit' : undefined);
  return leftOutBecause && found.size < unique.length ? { found, leftOutBecause } : { found };
}

/**
 * The summary with each looked-up source's reverse DNS joined in (sources and top failing sources),
 * and the overview of the lookups. Pure: the lookups were made before (reports/fcrdns.ts).
 */
export function withReverseDns(s: ReportSummary, found: ReadonlyMap<string, ReverseDnsResult>, leftOutBecause?: ReverseDnsLeftOut): ReportSummary {
  const overview: ReverseDnsOverview = { lookedUp: 0, leftOut: 0, byStatus: {}, failures: {} };
  const join = (x: SourceSummary): SourceSummary => {
    const r = found.get(x.sourceIp);
    return r ? { ...x, reverseDns: r } : x;
  };
  for (const x of s.aggregate.sources) {
    const r = found.get(x.sourceIp);
    if (!r) {
      overview.leftOut++;
      continue;
    }
    overview.lookedUp++;
    overview.byStatus[r.status] = (overview.byStatus[r.status] ?? 0) + 1;
    if (r.failure) overview.failures[r.failure] = (overview.failures[r.failure] ?? 0) + 1;
  }
  if (overview.leftOut > 0) overview.leftOutBecause = leftOutBecause ?? 'limit';
  return { ...s, aggregate: { ...s.aggregate, sources: s.aggregate.sources.map(join), topFailing: s.aggregate.topFailing.map(join), reverseDns: overview } };
}

/**
 * The step between the pure summary and its renderers: looks up the reverse DNS of the summary's
 * sources (the largest first, as the summary orders them, up to `limit`) and joins it in.
 */
export async function addReverseDns(summary: ReportSummary, resolver: MailauthResolver, options: ReverseDnsLookupOptions = {}): Promise<ReportSummary> {
  const { found, leftOutBecause } = await lookupReverseDns(
    summary.aggregate.sources.map((x) => x.sourceIp),
    resolver,
    options,
  );
  return withReverseDns(summary, found, leftOutBecause);
}
