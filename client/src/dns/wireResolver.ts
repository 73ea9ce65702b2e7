/**
 * A small DNS stub resolver that speaks the wire format itself (RFC 1035 §4), over UDP with EDNS(0)
 * (RFC 6891) and over TCP when an answer is truncated. It exists because SPF needs to query names
 * that Node's resolver refuses to send (a label holding "%", ":" or a space is a valid DNS name,
 * RFC 2181 §11, and RFC 7208 §7 can produce such names), and because it keeps one timeout for the
 * whole query. It has the contract of `dns.promises.resolve(name, rrtype)`: errors carry Node's codes
 * (ENOTFOUND for NXDOMAIN, ENODATA for no records of the type, ESERVFAIL, EREFUSED, ETIMEOUT,
 * EBADNAME for a name that cannot be encoded, EBADRESP for an answer that cannot be used: malformed,
 * still truncated over TCP, another ID over TCP, or a CNAME chain that cannot be followed to its end).
 * Messages are read by the one parser of both raw clients, `parseDnsMessage` in dnssecWire.ts, which
 * never throws and checks every read against the RDATA and the message.
 */
import { exchangeTcp, exchangeUdp, type DnsExchange } from './dnsTransport';
import { getServers } from 'node:dns';
import { randomInt } from 'node:crypto';
import { splitServerAddress } from './serverAddress';
import { type DnsMessage, type DnsRecord, followAnswerChain, foreignAnswers, MAX_CNAME_LINKS, parseDnsMessage, RR, rrTypeName, TRUNCATED_OVER_TCP } from './dnssecWire';

export type WireRrType = 'A' | 'AAAA' | 'TXT' | 'MX' | 'PTR' | 'CNAME';

const TYPE_CODES: Record<WireRrType, number> = { A: 1, CNAME: 5, PTR: 12, MX: 15, TXT: 16, AAAA: 28 };

export interface WireResolverOptions {
  /** `IP`, `IP:PORT` or `[IPv6]:PORT`; the system's first server when absent. */
  server?: string;
  /** The timeout of one whole query (UDP tries and a TCP retry), in milliseconds. Default 4000. */
  timeoutMs?: number;
}

export type WireResolver = (name: string, rrtype: WireRrType) => Promise<unknown[]>;

function dnsError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Splits `IP`, `IP:PORT` or `[IPv6]:PORT` into host and port (53 by default); the rule lives in serverAddress.ts. */
export function splitServer(text: string): { host: string; port: number } | undefined {
  return splitServerAddress(text);
}

/** Encodes a query; the name's octets are sent as they are (latin1), a trailing dot is optional. */
function encodeQuery(id: number, name: string, type: number): Buffer | undefined {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = n === '' ? [] : n.split('.');
  const parts: Buffer[] = [];
  let total = 1;
  for (const label of labels) {
    const bytes = Buffer.from(label, 'latin1');
    if (bytes.length === 0 || bytes.length > 63 || /[^\x00-\xff]/.test(label)) return undefined;
    parts.push(Buffer.from([bytes.length]), bytes);
    total += bytes.length + 1;
  }
  if (total > 255) return undefined;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2); // IN
  // OPT pseudo-record: root name, type 41, UDP payload 1232, no flags, no options (RFC 6891 §6.1.2).
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...parts, Buffer.from([0]), tail, opt]);
}

/** The data of one record as `dns.promises.resolve` gives it; undefined when it cannot be read. */
function recordData(r: DnsRecord): unknown {
  switch (r.type) {
    case RR.A:
    case RR.AAAA:
      return r.a;
    case RR.CNAME:
    case RR.PTR:
      return r.name_;
    case RR.MX:
      return r.mx && { priority: r.mx.priority, exchange: r.mx.exchange };
    case RR.TXT:
      return r.txt;
    default:
      return undefined;
  }
}

/** A message parsed by the one parser of both raw clients (dnssecWire.ts); a malformed one is EBADRESP. */
function parseOrBadAnswer(msg: Buffer, name: string): DnsMessage {
  const r = parseDnsMessage(msg);
  if (!r.ok) throw dnsError('EBADRESP', `the answer for ${name}: ${r.error}`);
  return r.message;
}

/** One exchange over the shared transport, with its failure as the error Node's resolver would raise. */
async function orDnsError(exchange: Promise<DnsExchange>, over: string, timeoutMs: number): Promise<Buffer> {
  const r = await exchange;
  if (r.ok) return r.message;
  // A server that answered with something else than the answer was reached: EBADRESP, never ECONNREFUSED.
  if (r.timedOut) throw dnsError('ETIMEOUT', `DNS query${over} timed out after ${timeoutMs} ms`);
  throw r.badAnswer ? dnsError('EBADRESP', r.error) : dnsError('ECONNREFUSED', r.error);
}

function sendUdp(host: string, port: number, query: Buffer, id: number, timeoutMs: number): Promise<Buffer> {
  return orDnsError(exchangeUdp(host, port, query, id, timeoutMs), '', timeoutMs);
}

function sendTcp(host: string, port: number, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return orDnsError(exchangeTcp(host, port, query, timeoutMs), ' over TCP', timeoutMs);
}

/** The records of one answer: those of the asked type along the CNAME chain, and the records that answer another question. */
export interface WireAnswer {
  data: unknown[];
  /**
   * Records of the answer section owned by a name outside the CNAME chain of the asked name, or of
   * another type than the one asked or CNAME (`evil.test MX`): ignored (RFC 1034 §3.6.2, RFC 5452
   * §9.1), and named so a report can say so. DNAME and RRSIG records are part of an answer.
   */
  foreign: string[];
}

export type WireAnswerResolver = (name: string, rrtype: WireRrType) => Promise<WireAnswer>;

/**
 * Creates a resolver that sends its own queries to one server and says which records of each answer
 * it took and which it ignored. Fails like `dns.promises.resolve` (ENODATA when no record of the
 * asked type is owned by the name or its CNAME chain).
 */
export function createWireAnswerResolver(options: WireResolverOptions = {}): WireAnswerResolver {
  const serverText = options.server ?? getServers()[0] ?? '127.0.0.1';
  const server = splitServer(serverText);
  const timeoutMs = options.timeoutMs ?? 4000;

  /** One question to the server within the time left of the whole query; the message of a NOERROR answer. */
  const ask = async (host: { host: string; port: number }, name: string, type: number, started: number): Promise<DnsMessage> => {
    const id = randomInt(0, 0x10000);
    const query = encodeQuery(id, name, type);
    if (!query) throw dnsError('EBADNAME', `"${name}" cannot be sent as a DNS name`);
    // Two UDP tries share the timeout; a truncated answer is asked again over TCP.
    let msg: Buffer | undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt < 2 && msg === undefined; attempt++) {
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0) break;
      try {
        msg = await sendUdp(host.host, host.port, query, id, attempt === 0 ? Math.ceil(left / 2) : left);
      } catch (err) {
        lastError = err;
      }
    }
    if (msg === undefined) throw lastError ?? dnsError('ETIMEOUT', `DNS query timed out after ${timeoutMs} ms`);
    let message = parseOrBadAnswer(msg, name);
    if (message.tc) {
      // The server did answer (over UDP, truncated): a failed TCP retry is that answer's problem,
      // not an unreachable server, unless it timed out.
      let tcp: Buffer;
      try {
        tcp = await sendTcp(host.host, host.port, query, Math.max(1, timeoutMs - (Date.now() - started)));
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ETIMEOUT' || e.code === 'EBADRESP') throw e;
        throw dnsError('EBADRESP', `the answer for ${name} over UDP was truncated, and the TCP retry failed: ${e.message}`);
      }
      message = parseOrBadAnswer(tcp, name);
      if (message.tc) throw dnsError('EBADRESP', `${name}: ${TRUNCATED_OVER_TCP}`);
    }
    if (message.rcode === 3) throw dnsError('ENOTFOUND', `${name}: NXDOMAIN`);
    if (message.rcode === 2) throw dnsError('ESERVFAIL', `${name}: SERVFAIL`);
    if (message.rcode === 5) throw dnsError('EREFUSED', `${name}: REFUSED`);
    if (message.rcode !== 0) throw dnsError('EFORMERR', `${name}: RCODE ${message.rcode}`);
    return message;
  };

  return async (name: string, rrtype: WireRrType): Promise<WireAnswer> => {
    if (!server) throw dnsError('ECONNREFUSED', `invalid DNS server "${serverText}"`);
    const type = TYPE_CODES[rrtype];
    const started = Date.now();
    // The whole chain from the asked name, across restarts, and the foreign records of every answer.
    const chain: string[] = [];
    const foreign: string[] = [];
    for (let asked = name; ; ) {
      const message = await ask(server, asked, type, started);
      // Which records answer the question: the owner-name rule of dnssecWire.ts (RFC 1034 §3.6.2, RFC
      // 5452 §9.1), the records of the asked type at the end of the CNAME chain; the others are named.
      // A chain that cannot be followed to its end is an error, never "no records" (which, for MX,
      // would make the domain its own implicit MX, RFC 5321 §5.1).
      const part = followAnswerChain(message.answers, asked, type);
      if (part.problem) throw dnsError('EBADRESP', `${name} ${rrtype}: ${part.problem}`);
      const looped = part.chain.slice(1).find((n) => chain.includes(n));
      if (looped !== undefined) throw dnsError('EBADRESP', `${name} ${rrtype}: the CNAME chain loops (${[...chain.slice(chain.indexOf(looped)), ...part.chain.slice(1, part.chain.indexOf(looped) + 1)].map((n) => n || '.').join(' → ')})`);
      chain.push(...(chain.length === 0 ? part.chain : part.chain.slice(1)));
      if (chain.length - 1 > MAX_CNAME_LINKS) throw dnsError('EBADRESP', `${name} ${rrtype}: the CNAME chain is longer than ${MAX_CNAME_LINKS} links; it is not followed further`);
      // Foreign: outside the whole chain so far (a restarted answer may repeat an earlier link).
      foreign.push(...foreignAnswers(message.answers, chain, type).map((r) => `${r.name || '.'} ${rrTypeName(r.type)}`));
      const target = part.chain[part.chain.length - 1];
      const own = message.answers.filter((r) => r.type === type && r.name === target);
      // A record of the asked type that cannot be read is a malformed answer, never a smaller RRset.
      const broken = own.find((r) => r.malformed !== undefined || recordData(r) === undefined);
      if (broken) throw dnsError('EBADRESP', `the ${rrtype} record of ${target || '.'} in the answer is malformed: ${broken.malformed ?? 'its RDATA cannot be read'}`);
      if (own.length > 0) return { data: own.map(recordData), foreign };
      // A chain that ends at a name without the records and without the SOA a negative answer
      // carries (RFC 2308 §2.2) was cut short, not answered: an authoritative server hands over a
      // few links of an in-zone chain (Knot five) or stops where the chain leaves its zone. The
      // query is restarted at the chain's last name, as a resolver does (RFC 1034 §3.6.2, §5.3.3).
      const negative = message.authority.some((r) => r.type === RR.SOA);
      if (part.chain.length > 1 && !negative) {
        // A name whose label holds a "." or a backslash (written escaped) cannot be asked again as
        // text; its chain is not followed, which is an error too.
        if (target.includes('\\')) throw dnsError('EBADRESP', `${name} ${rrtype}: the CNAME chain stops at ${target} without its records, and a name with a "." or a backslash inside a label is not asked again`);
        asked = target;
        continue;
      }
      throw Object.assign(dnsError('ENODATA', `${name}: no ${rrtype} records`), { foreign });
    }
  };
}

/** Creates a resolver that sends its own queries to one server. */
export function createWireResolver(options: WireResolverOptions = {}): WireResolver {
  const resolve = createWireAnswerResolver(options);
  return async (name: string, rrtype: WireRrType): Promise<unknown[]> => (await resolve(name, rrtype)).data;
}
