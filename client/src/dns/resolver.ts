/**
 * The DNS layer the checks share. It wraps an injected resolver with the shape of Node's
 * `dns.promises.Resolver`, gives every query a timeout, runs each distinct query once (checks that
 * need the same record share one promise), keeps DNS failures apart from "no record", and records how
 * deep the chain of dependent queries goes, so a report can say how many round trips it cost.
 */
import { promises as dnsPromises } from 'node:dns';
import type { RrType } from './types';
import { parseDnsServerSpec, resolvedOnce, splitServerAddress, type HostLookup } from './serverAddress';

export interface MxData {
  exchange: string;
  priority: number;
}

/** The data of each record type as the checks see it. TXT strings are already joined (RFC 7208 §3.3). */
export interface RrData {
  A: string;
  AAAA: string;
  MX: MxData;
  TXT: string;
  CNAME: string;
  PTR: string;
}

/** The resolver the checks need; `dns.promises.Resolver` has this shape. Errors carry Node's codes. */
export interface RawResolver {
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveMx(name: string): Promise<MxData[]>;
  resolveTxt(name: string): Promise<string[][]>;
  resolveCname(name: string): Promise<string[]>;
  resolvePtr(name: string): Promise<string[]>;
  /**
   * MX with the owner names decided from the answer: `records` are owned by the name the answer's
   * CNAME chain from the asked name ends at (the asked name itself without one), `foreign` names the
   * answer's records for another question, which are ignored (RFC 1034 §3.6.2, RFC 5452 §9.1). Node's `resolveMx` gives no owner, so a resolver that can read the
   * answer itself (`createNodeResolver` does, with the wire resolver) offers this and the MX check
   * uses it; an error of ENODATA may carry `foreign` too.
   */
  resolveMxAnswer?(name: string): Promise<{ records: MxData[]; foreign: string[] }>;
}

/**
 * A failure to get an answer, which is never the same thing as "no record". BADANSWER: a server
 * answered, but with an answer that cannot be used (malformed, still truncated over TCP, another ID,
 * a CNAME chain that loops or is too long); the error's message says which.
 */
export type DnsFailure = 'SERVFAIL' | 'TIMEOUT' | 'REFUSED' | 'UNREACHABLE' | 'BADANSWER' | 'OTHER';

interface AnswerBase {
  name: string;
  type: RrType;
  /** 1 for a query that needed no earlier answer, 1 + the deepest answer it needed otherwise. */
  depth: number;
}

export type DnsAnswer<T> =
  | (AnswerBase & { status: 'ok'; data: T[] })
  | (AnswerBase & { status: 'nxdomain'; data: T[] })
  | (AnswerBase & { status: 'nodata'; data: T[] })
  | (AnswerBase & { status: 'error'; failure: DnsFailure; detail: string; data: T[] });

/** Records an answer held for another question (`evil.test MX`), ignored; set only where the resolver reads owners. */
export interface ForeignRecords {
  foreign?: string[];
}

/** Something a query depended on: an earlier answer, or anything else that carries a depth. */
export interface Dependency {
  depth: number;
}

export interface DnsClientOptions {
  /** The timeout of each query, in milliseconds. */
  timeoutMs?: number;
}

/** Lower-cases a domain name and removes a trailing dot, so cache keys and comparisons agree. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Maps a Node DNS error code to an answer status. */
export function classifyDnsError(code: string | undefined): { status: 'nxdomain' | 'nodata' } | { status: 'error'; failure: DnsFailure } {
  switch (code) {
    case 'ENOTFOUND':
      return { status: 'nxdomain' };
    case 'ENODATA':
      return { status: 'nodata' };
    case 'ESERVFAIL':
      return { status: 'error', failure: 'SERVFAIL' };
    case 'ETIMEOUT':
      return { status: 'error', failure: 'TIMEOUT' };
    case 'EREFUSED':
      return { status: 'error', failure: 'REFUSED' };
    case 'EBADRESP':
      return { status: 'error', failure: 'BADANSWER' };
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return { status: 'error', failure: 'UNREACHABLE' };
    default:
      return { status: 'error', failure: 'OTHER' };
  }
}

export class DnsClient {
  private readonly cache = new Map<string, Promise<DnsAnswer<unknown>>>();
  private readonly answers: Array<DnsAnswer<unknown>> = [];
  private readonly timeoutMs: number;

  constructor(private readonly resolver: RawResolver, options: DnsClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /** The number of distinct queries sent so far. */
  get queryCount(): number {
    return this.cache.size;
  }

  /** The deepest chain of dependent queries answered so far. */
  get depth(): number {
    return this.answers.reduce((d, a) => Math.max(d, a.depth), 0);
  }

  /** True when queries were sent and every one failed to reach a server. */
  get unreachable(): boolean {
    return (
      this.answers.length > 0 &&
      this.answers.every((a) => a.status === 'error' && (a.failure === 'TIMEOUT' || a.failure === 'UNREACHABLE' || a.failure === 'REFUSED'))
    );
  }

  /**
   * Queries one name and type. `after` lists the answers the name was derived from; the new query's
   * depth is one more than the deepest of them. A repeated query returns the first one's promise.
   */
  query<T extends RrType>(name: string, type: T, after: readonly Dependency[] = []): Promise<DnsAnswer<RrData[T]> & ForeignRecords> {
    const norm = normalizeName(name);
    const key = `${type} ${norm}`;
    const cached = this.cache.get(key);
    if (cached) return cached as Promise<DnsAnswer<RrData[T]>>;
    const depth = 1 + after.reduce((d, a) => Math.max(d, a.depth), 0);
    const promise = this.run(norm, type, depth).then((answer) => {
      this.answers.push(answer as DnsAnswer<unknown>);
      return answer;
    });
    this.cache.set(key, promise as Promise<DnsAnswer<unknown>>);
    return promise;
  }

  private async run<T extends RrType>(name: string, type: T, depth: number): Promise<DnsAnswer<RrData[T]> & ForeignRecords> {
    const base: AnswerBase & ForeignRecords = { name, type, depth };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`query ${type} ${name} timed out`), { code: 'ETIMEOUT' })), this.timeoutMs);
    });
    try {
      const sent = await Promise.race([this.send(name, type), timeout]);
      const data = sent.data as Array<RrData[T]>;
      if (sent.foreign && sent.foreign.length > 0) base.foreign = sent.foreign;
      if (data.length === 0) return { ...base, status: 'nodata', data: [] };
      return { ...base, status: 'ok', data };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const foreign = (err as ForeignRecords).foreign;
      if (foreign && foreign.length > 0) base.foreign = foreign;
      const kind = classifyDnsError(code);
      if (kind.status === 'error') {
        // A bad answer's message says what was wrong with it, in words; other failures keep their code.
        const detail = kind.failure === 'BADANSWER' ? (err as Error).message : `${code ?? 'error'}: ${(err as Error).message}`;
        return { ...base, status: 'error', failure: kind.failure, detail, data: [] };
      }
      return { ...base, status: kind.status, data: [] };
    } finally {
      clearTimeout(timer);
    }
  }

  private async send(name: string, type: RrType): Promise<{ data: unknown[]; foreign?: string[] }> {
    switch (type) {
      case 'A':
        return { data: await this.resolver.resolve4(name) };
      case 'AAAA':
        return { data: await this.resolver.resolve6(name) };
      case 'MX': {
        // The owners of the MX records decided from the answer where the resolver can read it.
        const normal = (records: MxData[]): MxData[] => records.map((m) => ({ exchange: normalizeName(m.exchange), priority: m.priority }));
        if (this.resolver.resolveMxAnswer) {
          const answer = await this.resolver.resolveMxAnswer(name);
          return { data: normal(answer.records), foreign: answer.foreign };
        }
        return { data: normal(await this.resolver.resolveMx(name)) };
      }
      case 'TXT':
        return { data: (await this.resolver.resolveTxt(name)).map((chunks) => txtText(chunks.join(''))) };
      case 'CNAME':
        return { data: (await this.resolver.resolveCname(name)).map(normalizeName) };
      case 'PTR':
        return { data: (await this.resolver.resolvePtr(name)).map(normalizeName) };
    }
  }
}

/**
 * The text of a TXT record. Node's resolver gives each octet of a character-string as one character
 * (Latin-1); a record whose octets are valid UTF-8 is decoded as such, so "é" reads as "é" in every
 * report and in `--json`, not as "Ã©". The strings are joined before decoding, since a character may
 * be split across two character-strings (RFC 7208 §3.3, RFC 6376 §3.6.2.2 join them without spaces).
 * A record that is not valid UTF-8, or text a resolver has already decoded (a character above
 * U+00FF), is kept as it is: one character per octet, whose controls the renderers escape.
 */
export function txtText(text: string): string {
  if (!/[\x80-\xff]/.test(text) || /[^\x00-\xff]/.test(text)) return text;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Buffer.from(text, 'latin1'));
  } catch {
    return text;
  }
}

/** The system's host lookup (getaddrinfo), for a DNS server given by name. */
export const systemHostLookup: HostLookup = async (host) => (await dnsPromises.lookup(host, { all: true })).map((a) => a.address);

export interface NodeResolverOptions {
  /** A server as `HOST[:PORT]` (serverAddress.ts) or already resolved (`IP:PORT`); the system's servers when absent. */
  server?: string;
  /** Node's per-try timeout, in milliseconds. */
  timeoutMs?: number;
  tries?: number;
}

/** The wire-format DNS client, loaded when first needed (see createNodeResolver). */
function wireTools(): typeof import('./wireResolver') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./wireResolver') as typeof import('./wireResolver');
}

/**
 * Creates a Node resolver; it does not read /etc/hosts, only DNS. The server follows the one grammar
 * (serverAddress.ts, `HOST[:PORT]`); a host name is looked up once, with the system's lookup, before
 * the first query. Throws when the server text is not in that grammar.
 */
export function createNodeResolver(options: NodeResolverOptions = {}): RawResolver {
  const timeoutMs = options.timeoutMs ?? 2000;
  const build = (server: string | undefined): RawResolver => {
    const resolver = new dnsPromises.Resolver({ timeout: timeoutMs, tries: options.tries ?? 2 });
    if (server !== undefined) resolver.setServers([server]);
    // MX owners are read from the answer itself (RFC 1034 §3.6.2): Node's resolveMx gives none. The
    // wire resolver asks the same server. Without one named it asks the system's first server, and
    // when that one cannot be reached, Node's resolver, which tries the others in turn, answers
    // (without owners: the system's servers are the ones the user trusts for everything else too).
    // The wire client (and dgram under it) is loaded on the first MX question: a cleartext
    // `smtpwb run`, whose options module imports this one, never loads it (test/engine/speedPaths).
    let mxAnswer: ReturnType<typeof import('./wireResolver').createWireAnswerResolver> | undefined;
    return Object.assign(resolver, {
      resolveMxAnswer: async (name: string): Promise<{ records: MxData[]; foreign: string[] }> => {
        try {
          mxAnswer ??= wireTools().createWireAnswerResolver({ server, timeoutMs: timeoutMs * (options.tries ?? 2) });
          const answer = await mxAnswer(name, 'MX');
          return { records: answer.data as MxData[], foreign: answer.foreign };
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (server !== undefined || (code !== 'ETIMEOUT' && code !== 'ECONNREFUSED')) throw err;
          return { records: await resolver.resolveMx(name), foreign: [] };
        }
      },
    });
  };
  if (!options.server) return build(undefined);
  // Already in the setServers form (what the CLI passes after resolving `--dns-server`).
  if (splitServerAddress(options.server)) return build(options.server);
  const spec = parseDnsServerSpec(options.server, 'the DNS server');
  if (!spec.ok) throw new Error(spec.error);
  const server = resolvedOnce(options.server, systemHostLookup);
  let ready: Promise<RawResolver> | undefined;
  const inner = (): Promise<RawResolver> => (ready ??= server().then(build));
  return {
    resolve4: async (name) => (await inner()).resolve4(name),
    resolve6: async (name) => (await inner()).resolve6(name),
    resolveMx: async (name) => (await inner()).resolveMx(name),
    resolveMxAnswer: async (name) => (await inner()).resolveMxAnswer!(name),
    resolveTxt: async (name) => (await inner()).resolveTxt(name),
    resolveCname: async (name) => (await inner()).resolveCname(name),
    resolvePtr: async (name) => (await inner()).resolvePtr(name),
  };
}

/** A failure's wording for messages. */
export function describeFailure(answer: DnsAnswer<unknown>): string {
  if (answer.status !== 'error') return answer.status;
  switch (answer.failure) {
    case 'SERVFAIL':
      return 'the server answered SERVFAIL';
    case 'TIMEOUT':
      return 'the query timed out';
    case 'REFUSED':
      return 'the server refused the query';
    case 'UNREACHABLE':
      return 'no DNS server could be reached';
    case 'BADANSWER':
      return `the server's answer could not be used: ${answer.detail}`;
    default:
      return `the query failed (${answer.detail})`;
  }
}

/** The reverse-DNS name of an IPv4 or IPv6 address (RFC 1035 §3.5, RFC 3596 §2.5). */
export function reverseName(address: string): string | undefined {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
  if (address.includes(':')) {
    const groups = expandIpv6(address);
    if (!groups) return undefined;
    const nibbles = groups.map((g) => g.padStart(4, '0')).join('');
    return `${nibbles.split('').reverse().join('.')}.ip6.arpa`;
  }
  return undefined;
}

/** Expands an IPv6 address to its eight groups, or undefined when it is not one. */
export function expandIpv6(address: string): string[] | undefined {
  let text = address.toLowerCase();
  let tail: string[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1].split('.').map(Number);
    if (o.some((n) => n > 255)) return undefined;
    tail = [((o[0] << 8) | o[1]).toString(16), ((o[2] << 8) | o[3]).toString(16)];
    text = text.slice(0, -v4[1].length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const parts = text.split('::');
  if (parts.length > 2) return undefined;
  const head = parts[0] ? parts[0].split(':') : [];
  const rest = parts.length === 2 && parts[1] ? parts[1].split(':') : [];
  const total = head.length + rest.length + tail.length;
  if (parts.length === 1 && total !== 8) return undefined;
  if (parts.length === 2 && total > 7) return undefined;
  const fill = parts.length === 2 ? new Array<string>(8 - total).fill('0') : [];
  const groups = [...head, ...fill, ...rest, ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups;
}
