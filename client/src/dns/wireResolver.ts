/**
 * A small DNS stub resolver that speaks the wire format itself (RFC 1035 §4), over UDP with EDNS(0)
 * (RFC 6891) and over TCP when an answer is truncated. It exists because SPF needs to query names
 * that Node's resolver refuses to send (a label holding "%", ":" or a space is a valid DNS name,
 * RFC 2181 §11, and RFC 7208 §7 can produce such names), and because it keeps one timeout for the
 * whole query. It has the contract of `dns.promises.resolve(name, rrtype)`: errors carry Node's codes
 * (ENOTFOUND for NXDOMAIN, ENODATA for no records of the type, ESERVFAIL, EREFUSED, ETIMEOUT,
 * EBADNAME for a name that cannot be encoded).
 */
import { exchangeTcp, exchangeUdp, type DnsExchange } from './dnsTransport';
import { getServers } from 'node:dns';
import { randomInt } from 'node:crypto';
import { splitServerAddress } from './serverAddress';
import { answerChain, foreignAnswers, rrTypeName } from './dnssecWire';

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

/** Reads a (possibly compressed) name at `offset`; returns it and the offset after it. */
function readName(msg: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  for (let hops = 0; hops < 128; hops++) {
    if (pos >= msg.length) throw new Error('truncated name');
    const len = msg[pos];
    if (len === 0) {
      if (next === -1) next = pos + 1;
      return { name: labels.join('.'), next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (next === -1) next = pos + 2;
      pos = ((len & 0x3f) << 8) | msg[pos + 1];
      continue;
    }
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  throw new Error('name compression loop');
}

interface Record_ {
  owner: string;
  type: number;
  data: unknown;
}

/** TXT text as UTF-8 when it is valid UTF-8 (a byte-order mark kept), else one character per octet. */
function decodeText(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

function parseAnswer(msg: Buffer): { id: number; tc: boolean; rcode: number; answers: Record_[] } {
  if (msg.length < 12) throw new Error('short DNS message');
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  let pos = 12;
  for (let i = 0; i < qd; i++) pos = readName(msg, pos).next + 4;
  const answers: Record_[] = [];
  for (let i = 0; i < an; i++) {
    const owner = readName(msg, pos);
    pos = owner.next;
    const type = msg.readUInt16BE(pos);
    const rdlen = msg.readUInt16BE(pos + 8);
    const rd = pos + 10;
    pos = rd + rdlen;
    if (pos > msg.length) throw new Error('truncated record');
    let data: unknown;
    switch (type) {
      case 1:
        data = [...msg.subarray(rd, rd + 4)].join('.');
        break;
      case 28: {
        const groups: string[] = [];
        for (let g = 0; g < 8; g++) groups.push(msg.readUInt16BE(rd + g * 2).toString(16));
        data = groups.join(':');
        break;
      }
      case 5:
      case 12:
        data = readName(msg, rd).name;
        break;
      case 15:
        data = { priority: msg.readUInt16BE(rd), exchange: readName(msg, rd + 2).name };
        break;
      case 16: {
        const chunks: string[] = [];
        for (let p = rd; p < rd + rdlen; ) {
          const len = msg[p];
          chunks.push(decodeText(msg.subarray(p + 1, p + 1 + len)));
          p += 1 + len;
        }
        data = chunks;
        break;
      }
      default:
        data = undefined;
    }
    answers.push({ owner: owner.name.toLowerCase(), type, data });
  }
  return { id, tc: (flags & 0x0200) !== 0, rcode: flags & 0x0f, answers };
}

/** One exchange over the shared transport, with its failure as the error Node's resolver would raise. */
async function orDnsError(exchange: Promise<DnsExchange>, over: string, timeoutMs: number): Promise<Buffer> {
  const r = await exchange;
  if (r.ok) return r.message;
  throw r.timedOut ? dnsError('ETIMEOUT', `DNS query${over} timed out after ${timeoutMs} ms`) : dnsError('ECONNREFUSED', r.error);
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
  return async (name: string, rrtype: WireRrType): Promise<WireAnswer> => {
    if (!server) throw dnsError('ECONNREFUSED', `invalid DNS server "${serverText}"`);
    const type = TYPE_CODES[rrtype];
    const id = randomInt(0, 0x10000);
    const query = encodeQuery(id, name, type);
    if (!query) throw dnsError('EBADNAME', `"${name}" cannot be sent as a DNS name`);
    const started = Date.now();
    // Two UDP tries share the timeout; a truncated answer is asked again over TCP.
    let msg: Buffer | undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt < 2 && msg === undefined; attempt++) {
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0) break;
      try {
        msg = await sendUdp(server.host, server.port, query, id, attempt === 0 ? Math.ceil(left / 2) : left);
      } catch (err) {
        lastError = err;
      }
    }
    if (msg === undefined) throw lastError ?? dnsError('ETIMEOUT', `DNS query timed out after ${timeoutMs} ms`);
    let parsed = parseAnswer(msg);
    if (parsed.tc) parsed = parseAnswer(await sendTcp(server.host, server.port, query, Math.max(1, timeoutMs - (Date.now() - started))));
    if (parsed.rcode === 3) throw dnsError('ENOTFOUND', `${name}: NXDOMAIN`);
    if (parsed.rcode === 2) throw dnsError('ESERVFAIL', `${name}: SERVFAIL`);
    if (parsed.rcode === 5) throw dnsError('EREFUSED', `${name}: REFUSED`);
    if (parsed.rcode !== 0) throw dnsError('EFORMERR', `${name}: RCODE ${parsed.rcode}`);
    // Which records answer the question: the owner-name rule of dnssecWire.ts (RFC 1034 §3.6.2, RFC
    // 5452 §9.1), the records of the asked type at the end of the CNAME chain; the others are named.
    const shaped = parsed.answers.map((r) => ({ ...r, name: r.owner, ...(r.type === 5 ? { name_: String(r.data).toLowerCase() } : {}) }));
    const chain = answerChain(shaped, name, type);
    const target = chain[chain.length - 1];
    const data = shaped.filter((r) => r.type === type && r.name === target && r.data !== undefined).map((r) => r.data);
    const foreign = foreignAnswers(shaped, chain, type).map((r) => `${r.name || '.'} ${rrTypeName(r.type)}`);
    if (data.length === 0) throw Object.assign(dnsError('ENODATA', `${name}: no ${rrtype} records`), { foreign });
    return { data, foreign };
  };
}

/** Creates a resolver that sends its own queries to one server. */
export function createWireResolver(options: WireResolverOptions = {}): WireResolver {
  const resolve = createWireAnswerResolver(options);
  return async (name: string, rrtype: WireRrType): Promise<unknown[]> => (await resolve(name, rrtype)).data;
}
