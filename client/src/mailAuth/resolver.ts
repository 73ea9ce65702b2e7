/**
 * The DNS resolver that every mailauth function accepts: `resolver(name, rrtype)` behaving like
 * `dns.promises.resolve`. TXT answers stay as arrays of character-strings (RFC 1035 §3.3.14);
 * mailauth joins the chunks of one record itself, as RFC 7208 §3.3 and RFC 6376 §3.6.2.2 require.
 */
import { createPublicKey } from 'node:crypto';
import { promises as dnsPromises } from 'node:dns';
import { classifyDnsError, systemHostLookup } from '../dns/resolver';
import { createWireResolver, type WireRrType } from '../dns/wireResolver';
import { parseDnsServerSpec, resolvedOnce, splitServerAddress } from '../dns/serverAddress';

/** The answer shapes of `dns.promises.resolve` that mailauth reads. */
export type DnsAnswer = string[] | string[][] | Array<{ exchange: string; priority: number }> | unknown[];

/** A resolver as mailauth expects it: the same contract as `dns.promises.resolve(name, rrtype)`. */
export type MailauthResolver = (name: string, rrtype: string) => Promise<DnsAnswer>;

/**
 * Returns whether a DNS error means "the DNS server is unreachable" rather than "no such record".
 * The rule is the Mail DNS checks' (dns/resolver.ts): a refusing server is as unreachable as a silent one.
 */
export function isUnreachableDnsError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
  const kind = classifyDnsError(code);
  return kind.status === 'error' && (kind.failure === 'TIMEOUT' || kind.failure === 'UNREACHABLE' || kind.failure === 'REFUSED');
}

export interface ResolverOptions {
  /** `HOST[:PORT]` (dns/serverAddress.ts; IPv6 in brackets); the system resolver's servers when absent. */
  server?: string;
  /** Milliseconds per try (default 2000). */
  timeoutMs?: number;
  /** Tries per query (default 2). */
  tries?: number;
}

/**
 * Checks a DNS server the user named against the one grammar (dns/serverAddress.ts: `HOST[:PORT]`,
 * IPv6 in brackets) and returns it as `HOST:PORT` (`[IPv6]:PORT`), or undefined when it is not one.
 */
export function parseDnsServer(text: string): string | undefined {
  const spec = parseDnsServerSpec(text);
  return spec.ok ? spec.address ?? `${spec.host}:${spec.port}` : undefined;
}

/** A resolver plus what went wrong while it was used, so callers can tell "DNS unreachable" apart. */
export interface TrackedResolver {
  resolve: MailauthResolver;
  /** Queries that failed because the server did not answer (timeouts, refused connections). */
  unreachable: Array<{ name: string; rrtype: string; code: string }>;
  /** Number of queries made. */
  queries(): number;
  /**
   * The TXT records the last TXT query for `name` returned, each record's character-strings joined
   * (RFC 6376 §3.6.2.2), or undefined when it was not asked or the last one failed. A caller that
   * sees only the first record (mailauth reads `list[0]` of a DKIM key query) can still decide on
   * all of them.
   */
  txtRecords(name: string): string[] | undefined;
}

/** A DNS name as a map key: lower case, without the root dot. */
function nameKey(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * A DKIM key record as mailauth can read it. RFC 6376 is of two minds about an RSA `p=`: §3.6.1
 * names an RSAPublicKey (PKCS#1), its Appendix C and every large signer publish a
 * SubjectPublicKeyInfo, and erratum 3017 would allow both. mailauth reads only the second, so a
 * record in the first form was "unknown key type" in `verify` while `dkim check` and the Mail DNS
 * check (client/src/dns/dkim.ts, which warns `dkim-key-pkcs1`) took it, as dkimpy does. The same
 * key is handed to mailauth as a SubjectPublicKeyInfo; anything else in the record is kept as it is.
 */
export function withSubjectPublicKeyInfo(record: string): string {
  const m = /(^|;)([ \t]*p[ \t]*=[ \t]*)([A-Za-z0-9+/=\s]+?)([ \t]*)(?=;|$)/.exec(record);
  if (!m) return record;
  const der = Buffer.from(m[3].replace(/\s+/g, ''), 'base64');
  if (der.length === 0) return record;
  try {
    createPublicKey({ key: der, format: 'der', type: 'spki' });
    return record;
  } catch {
    // Not a SubjectPublicKeyInfo: maybe an RSAPublicKey.
  }
  try {
    const key = createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
    const spki = key.export({ type: 'spki', format: 'der' }).toString('base64');
    const start = m.index + m[1].length + m[2].length;
    return `${record.slice(0, start)}${spki}${record.slice(start + m[3].length)}`;
  } catch {
    return record;
  }
}

/** Wraps a resolver to record unreachable-server failures and TXT answers; results and errors pass through unchanged (but see withSubjectPublicKeyInfo for DKIM key records). */
export function trackResolver(inner: MailauthResolver): TrackedResolver {
  const unreachable: TrackedResolver['unreachable'] = [];
  let count = 0;
  const txt = new Map<string, string[]>();
  const resolve: MailauthResolver = async (name, rrtype) => {
    count += 1;
    try {
      const answer = await inner(name, rrtype);
      if (rrtype.toUpperCase() === 'TXT' && Array.isArray(answer)) {
        const records = answer.map((record) => (Array.isArray(record) ? record.join('') : String(record)));
        txt.set(nameKey(name), records);
        // A DKIM key record with an RSA key in PKCS#1 form goes to mailauth as a SubjectPublicKeyInfo.
        if (nameKey(name).includes('._domainkey.')) {
          const read = records.map(withSubjectPublicKeyInfo);
          if (read.some((r, i) => r !== records[i])) return read.map((r, i) => (r === records[i] ? answer[i] : [r])) as string[][];
        }
      }
      return answer;
    } catch (err) {
      if (rrtype.toUpperCase() === 'TXT') txt.delete(nameKey(name));
      if (isUnreachableDnsError(err)) {
        unreachable.push({ name, rrtype, code: String((err as { code?: unknown }).code) });
      }
      throw err;
    }
  };
  return { resolve, unreachable, queries: () => count, txtRecords: (name) => txt.get(nameKey(name)) };
}

/**
 * Creates a resolver backed by `dns.promises.Resolver`, pointed at one server when given (the one
 * grammar, `HOST[:PORT]`; a host name is resolved once, with the system's lookup, before the first
 * query). Throws when the server text is not in that grammar.
 */
export function createResolver(options: ResolverOptions = {}): MailauthResolver {
  const timeoutMs = options.timeoutMs ?? 2000;
  const tries = options.tries ?? 2;
  const build = (server: string | undefined): MailauthResolver => {
    const resolver = new dnsPromises.Resolver({ timeout: timeoutMs, tries });
    if (server !== undefined) resolver.setServers([server]);
    // Node refuses to send some valid DNS names (a label holding "%", ":" or a space; RFC 2181 §11),
    // which SPF macros can produce (RFC 7208 §7); those go through the product's own wire resolver.
    const wire = createWireResolver({ server, timeoutMs: timeoutMs * tries });
    return async (name: string, rrtype: string): Promise<DnsAnswer> => {
      try {
        return (await resolver.resolve(name, rrtype)) as DnsAnswer;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EBADNAME' && WIRE_TYPES.has(rrtype)) return wire(name, rrtype as WireRrType);
        throw err;
      }
    };
  };
  if (options.server === undefined) return build(undefined);
  // Already in the setServers form (what the CLI passes after resolving `--dns-server`).
  if (splitServerAddress(options.server)) return build(options.server);
  const spec = parseDnsServerSpec(options.server, 'the DNS server');
  if (!spec.ok) throw new Error(spec.error);
  if (spec.address !== undefined) return build(spec.address);
  // A host name: looked up once; a failed lookup makes every query fail as "DNS unreachable".
  const server = resolvedOnce(options.server, systemHostLookup);
  let ready: Promise<MailauthResolver> | undefined;
  return async (name, rrtype) => (await (ready ??= server().then(build)))(name, rrtype);
}

const WIRE_TYPES = new Set<string>(['A', 'AAAA', 'TXT', 'MX', 'PTR', 'CNAME']);
