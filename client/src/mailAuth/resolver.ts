/**
 * The DNS resolver that every mailauth function accepts: `resolver(name, rrtype)` behaving like
 * `dns.promises.resolve`. TXT answers stay as arrays of character-strings (RFC 1035 §3.3.14);
 * mailauth joins the chunks of one record itself, as RFC 7208 §3.3 and RFC 6376 §3.6.2.2 require.
 */
import { promises as dnsPromises } from 'node:dns';

/** The answer shapes of `dns.promises.resolve` that mailauth reads. */
export type DnsAnswer = string[] | string[][] | Array<{ exchange: string; priority: number }> | unknown[];

/** A resolver as mailauth expects it: the same contract as `dns.promises.resolve(name, rrtype)`. */
export type MailauthResolver = (name: string, rrtype: string) => Promise<DnsAnswer>;

/** Error codes of `dns.promises` that mean the server could not be reached or did not answer. */
// The same rule as the Mail DNS checks: a refusing server is as unreachable as a silent one.
const UNREACHABLE_CODES = new Set(['ETIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'ENETUNREACH', 'EHOSTUNREACH', 'EREFUSED']);

/** Returns whether a DNS error means "the DNS server is unreachable" rather than "no such record". */
export function isUnreachableDnsError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  return UNREACHABLE_CODES.has(code);
}

export interface ResolverOptions {
  /** `HOST:PORT`, `HOST`, or `[IPv6]:PORT`; the system resolver's servers when absent. */
  server?: string;
  /** Milliseconds per try (default 2000). */
  timeoutMs?: number;
  /** Tries per query (default 2). */
  tries?: number;
}

/**
 * Parses `HOST:PORT` as `dns.Resolver#setServers` accepts it. Returns undefined when the text is
 * not an IP address with an optional port (setServers takes addresses only, no names).
 */
export function parseDnsServer(text: string): string | undefined {
  const t = text.trim();
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/i.exec(t);
  if (v6) return v6[2] && Number(v6[2]) <= 65535 && Number(v6[2]) > 0 ? `[${v6[1]}]:${v6[2]}` : v6[2] ? undefined : v6[1];
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(t);
  if (v4) {
    if (!v4[1].split('.').every((p) => Number(p) <= 255)) return undefined;
    if (v4[2] === undefined) return v4[1];
    const port = Number(v4[2]);
    return port > 0 && port <= 65535 ? `${v4[1]}:${port}` : undefined;
  }
  if (/^[0-9a-f:]+$/i.test(t) && t.includes(':')) return t;
  return undefined;
}

/** A resolver plus what went wrong while it was used, so callers can tell "DNS unreachable" apart. */
export interface TrackedResolver {
  resolve: MailauthResolver;
  /** Queries that failed because the server did not answer (timeouts, refused connections). */
  unreachable: Array<{ name: string; rrtype: string; code: string }>;
  /** Number of queries made. */
  queries(): number;
}

/** Wraps a resolver to record unreachable-server failures; results and errors pass through unchanged. */
export function trackResolver(inner: MailauthResolver): TrackedResolver {
  const unreachable: TrackedResolver['unreachable'] = [];
  let count = 0;
  const resolve: MailauthResolver = async (name, rrtype) => {
    count += 1;
    try {
      return await inner(name, rrtype);
    } catch (err) {
      if (isUnreachableDnsError(err)) {
        unreachable.push({ name, rrtype, code: String((err as { code?: unknown }).code) });
      }
      throw err;
    }
  };
  return { resolve, unreachable, queries: () => count };
}

/** Creates a resolver backed by `dns.promises.Resolver`, pointed at one server when given. */
export function createResolver(options: ResolverOptions = {}): MailauthResolver {
  const resolver = new dnsPromises.Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
  if (options.server !== undefined) {
    const server = parseDnsServer(options.server);
    if (server === undefined) throw new Error(`invalid DNS server "${options.server}": expected IP[:PORT] or [IPv6]:PORT`);
    resolver.setServers([server]);
  }
  return (name: string, rrtype: string): Promise<DnsAnswer> => resolver.resolve(name, rrtype) as Promise<DnsAnswer>;
}
