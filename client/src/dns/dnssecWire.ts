/**
 * A raw DNS client for DNSSEC status: it sets the DO bit (RFC 3225 §3) and, when asked, the CD bit
 * (RFC 4035 §3.2.2), and reads what Node's `dns` module hides: the AD bit (RFC 4035 §3.2.3), the
 * RCODE, every section, and Extended DNS Errors (RFC 8914). UDP first with EDNS(0) (RFC 6891),
 * TCP when the answer is truncated (RFC 7766 §5). The resolver's address is a parameter.
 *
 * Everything a server sends is untrusted: `parseDnsMessage` and `queryDnssec` never throw; a
 * malformed message or a network failure is returned as `{ ok: false, error }`.
 */
import { exchangeTcp, exchangeUdp } from './dnsTransport';
import { randomInt } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { parseHostPort, splitServerAddress, type HostPort } from './serverAddress';

export const RR = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, OPT: 41, DS: 43, RRSIG: 46, NSEC: 47, DNSKEY: 48, NSEC3: 50, TLSA: 52, DNAME: 39 } as const;
export type RrName = keyof typeof RR;

const RR_NAMES: Record<number, string> = Object.fromEntries(Object.entries(RR).map(([k, v]) => [v, k]));

/** The mnemonic of a record type (`MX`), or `TYPE<n>` for one without (RFC 3597 §5). */
export function rrTypeName(type: number): string {
  return RR_NAMES[type] ?? `TYPE${type}`;
}

/** Names of the RCODEs a report shows (RFC 1035 §4.1.1, RFC 6895 §2.3). */
export const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

export interface DsData { keyTag: number; algorithm: number; digestType: number; digest: Buffer }
export interface DnskeyData { flags: number; protocol: number; algorithm: number; publicKey: Buffer; keyTag: number }
export interface RrsigData { typeCovered: number; algorithm: number; labels: number; originalTtl: number; expiration: number; inception: number; keyTag: number; signer: string }
/** A TLSA record; `malformed` says why the RDATA is not one (then `data` is the whole RDATA). */
export interface TlsaData { usage: number; selector: number; matchingType: number; data: Buffer; malformed?: string }
export interface SoaData { mname: string; rname: string; serial: number }

export interface DnsRecord {
  /**
   * The owner name in presentation form (RFC 1035 §5.1): labels joined by ".", a "." or a backslash inside
   * a label escaped with a backslash, ASCII letters in lower case (RFC 4343 §3), no final dot ('' is the root).
   * So two names are the same name exactly when their texts are equal (`nameKey` gives an asked
   * name's text in this form).
   */
  name: string;
  type: number;
  ttl: number;
  /** The RDATA exactly as received (names inside may be compressed). */
  rdata: Buffer;
  a?: string;
  name_?: string;
  ds?: DsData;
  dnskey?: DnskeyData;
  rrsig?: RrsigData;
  tlsa?: TlsaData;
  soa?: SoaData;
  mx?: { priority: number; exchange: string };
  /** The character-strings of a TXT record (RFC 1035 §3.3.14), each as UTF-8 when it is valid UTF-8. */
  txt?: string[];
  /**
   * Why the RDATA of an A, AAAA, CNAME, NS, PTR, MX or TXT record is not one of its type (too short,
   * too long, a name running past it); such a record is never read as data, and never as "no data".
   */
  malformed?: string;
}

/** One Extended DNS Error option (RFC 8914 §2). */
export interface ExtendedError { code: number; text: string }

export interface DnsMessage {
  id: number;
  rcode: number;
  aa: boolean;
  tc: boolean;
  ra: boolean;
  /** Authentic Data: the resolver validated every record in the answer and authority sections. */
  ad: boolean;
  cd: boolean;
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
  /** Whether the answer had an OPT record, and its DO bit. */
  edns: boolean;
  doBit: boolean;
  extendedErrors: ExtendedError[];
}

/** What the message says in a word: NOERROR with data, NODATA, NXDOMAIN, or the failing RCODE. */
export type DnsOutcome = { ok: true; message: DnsMessage; transport: 'udp' | 'tcp'; elapsedMs: number } | { ok: false; error: string };

/** The names of Extended DNS Error codes that concern DNSSEC and resolvers (RFC 8914 §4). */
export const EDE_NAMES: Record<number, string> = {
  0: 'Other Error', 1: 'Unsupported DNSKEY Algorithm', 2: 'Unsupported DS Digest Type', 3: 'Stale Answer', 4: 'Forged Answer',
  5: 'DNSSEC Indeterminate', 6: 'DNSSEC Bogus', 7: 'Signature Expired', 8: 'Signature Not Yet Valid', 9: 'DNSKEY Missing',
  10: 'RRSIGs Missing', 11: 'No Zone Key Bit Set', 12: 'NSEC Missing', 13: 'Cached Error', 14: 'Not Ready', 15: 'Blocked',
  16: 'Censored', 17: 'Filtered', 18: 'Prohibited', 19: 'Stale NXDOMAIN Answer', 20: 'Not Authoritative', 21: 'Not Supported',
  22: 'No Reachable Authority', 23: 'Network Error', 24: 'Invalid Data',
};

/** Normalises a name: lower case, no final dot. */
export function normaliseName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** ASCII-only case folding: DNS names compare case-insensitively for A-Z alone (RFC 4343 §3). */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/** One label in presentation form (RFC 1035 §5.1): a "." or a backslash inside it escaped with a backslash. */
function presentLabel(label: string): string {
  return asciiLower(label.replace(/[.\\]/g, '\\$&'));
}

/**
 * The key of a name as the clients send it (labels split at every ".", octets as they are, a final dot
 * optional; see `encodeName`), in the form `readName` gives a received name: so an asked name and an
 * owner name are the same name exactly when their keys are equal, and a one-label owner
 * `dotlabel\.test` is never the two-label name `dotlabel.test`.
 */
export function nameKey(name: string): string {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  return n === '' ? '' : n.split('.').map(presentLabel).join('.');
}

/** Encodes a name in wire form without compression; undefined when a label is empty or too long. */
export function encodeName(name: string): Buffer | undefined {
  const n = normaliseName(name);
  const parts: Buffer[] = [];
  let total = 1;
  for (const label of n === '' ? [] : n.split('.')) {
    const bytes = Buffer.from(label, 'latin1');
    if (bytes.length === 0 || bytes.length > 63 || /[^\x00-\xff]/.test(label)) return undefined;
    parts.push(Buffer.from([bytes.length]), bytes);
    total += bytes.length + 1;
  }
  if (total > 255) return undefined;
  return Buffer.concat([...parts, Buffer.from([0])]);
}

/** Builds a query with RD, optionally CD, and an OPT record with DO set (RFC 6891 §6.1.4). */
export function encodeDnssecQuery(id: number, name: string, type: number, cd: boolean): Buffer | undefined {
  const qname = encodeName(name);
  if (!qname) return undefined;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100 | (cd ? 0x0010 : 0), 2); // RD, and CD when asked
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  // OPT: root owner, type 41, UDP payload 1232, extended RCODE 0, version 0, DO set, no options.
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
  return Buffer.concat([header, qname, tail, opt]);
}

class Truncated extends Error {}

function need(msg: Buffer, end: number): void {
  if (end > msg.length) throw new Truncated('the message ends inside a record');
}

function readName(msg: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  for (let hops = 0; hops < 128; hops++) {
    need(msg, pos + 1);
    const len = msg[pos];
    if (len === 0) {
      if (next === -1) next = pos + 1;
      return { name: labels.join('.'), next };
    }
    if ((len & 0xc0) === 0xc0) {
      need(msg, pos + 2);
      if (next === -1) next = pos + 2;
      pos = ((len & 0x3f) << 8) | msg[pos + 1];
      continue;
    }
    if ((len & 0xc0) !== 0) throw new Truncated('an unknown label type');
    need(msg, pos + 1 + len);
    // The one place a received name becomes text: in presentation form (RFC 1035 §5.1), so a label
    // holding a "." can never pass for two labels (see `nameKey`).
    labels.push(presentLabel(msg.toString('latin1', pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
  throw new Truncated('a name compression loop');
}

/** TXT text as UTF-8 when it is valid UTF-8 (a byte-order mark kept), else one character per octet. */
function decodeText(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** The key tag of a DNSKEY's RDATA (RFC 4034 Appendix B). */
export function keyTag(rdata: Buffer): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i] : rdata[i] << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

function parseRecord(msg: Buffer, pos: number): { record: DnsRecord; next: number; optTtl?: number } {
  const owner = readName(msg, pos);
  let p = owner.next;
  need(msg, p + 10);
  const type = msg.readUInt16BE(p);
  const ttl = msg.readUInt32BE(p + 4);
  const rdlen = msg.readUInt16BE(p + 8);
  const rd = p + 10;
  p = rd + rdlen;
  need(msg, p);
  const rdata = msg.subarray(rd, p);
  const record: DnsRecord = { name: owner.name, type, ttl, rdata };
  const octets = `${rdlen} octet${rdlen === 1 ? '' : 's'}`;
  // A name in RDATA must end exactly where the RDATA does (RFC 1035 §3.3); a compression pointer may
  // lead before it (§4.1.4), but the name's own octets are inside. Else undefined, and `malformed` set.
  const rdataName = (at: number, what: string): string | undefined => {
    if (at >= p) {
      record.malformed = `the ${rrTypeName(type)} RDATA is ${octets}, too short to hold its ${what}`;
      return undefined;
    }
    const n = readName(msg, at);
    if (n.next !== p) {
      record.malformed = `the ${what} in the ${rrTypeName(type)} RDATA ${n.next > p ? 'runs past the end of' : 'ends before the end of'} its ${octets}`;
      return undefined;
    }
    return n.name;
  };
  switch (type) {
    case RR.A:
      // RFC 1035 §3.4.1: exactly four octets.
      if (rdlen === 4) record.a = [...rdata].join('.');
      else record.malformed = `the A RDATA is ${octets}, not 4 (RFC 1035 §3.4.1)`;
      break;
    case RR.AAAA:
      // RFC 3596 §2.2: exactly sixteen octets.
      if (rdlen === 16) {
        const g: string[] = [];
        for (let i = 0; i < 8; i++) g.push(rdata.readUInt16BE(i * 2).toString(16));
        record.a = g.join(':');
      } else record.malformed = `the AAAA RDATA is ${octets}, not 16 (RFC 3596 §2.2)`;
      break;
    case RR.CNAME:
    case RR.NS:
    case RR.PTR: {
      const target = rdataName(rd, 'name');
      if (target !== undefined) record.name_ = target;
      break;
    }
    case RR.MX: {
      // RFC 1035 §3.3.9: a 16-bit preference, then the exchange's name.
      if (rdlen < 3) {
        record.malformed = `the MX RDATA is ${octets}, shorter than a preference and a name (RFC 1035 §3.3.9)`;
        break;
      }
      const exchange = rdataName(rd + 2, 'exchange name');
      if (exchange !== undefined) record.mx = { priority: rdata.readUInt16BE(0), exchange };
      break;
    }
    case RR.TXT: {
      // RFC 1035 §3.3.14: one or more character-strings, each a length octet and that many octets.
      const chunks: string[] = [];
      let q = 0;
      while (q < rdlen && q + 1 + rdata[q] <= rdlen) {
        chunks.push(decodeText(rdata.subarray(q + 1, q + 1 + rdata[q])));
        q += 1 + rdata[q];
      }
      // An empty RDATA is read as a record without strings, as Node's resolver reads it.
      if (q !== rdlen) record.malformed = `a character-string runs past the end of the TXT RDATA of ${octets} (RFC 1035 §3.3.14)`;
      else record.txt = chunks;
      break;
    }
    case RR.SOA: {
      const m = readName(msg, rd);
      const r = readName(msg, m.next);
      need(msg, r.next + 4);
      record.soa = { mname: m.name, rname: r.name, serial: msg.readUInt32BE(r.next) };
      break;
    }
    case RR.DS:
      if (rdlen >= 4) record.ds = { keyTag: rdata.readUInt16BE(0), algorithm: rdata[2], digestType: rdata[3], digest: Buffer.from(rdata.subarray(4)) };
      break;
    case RR.DNSKEY:
      if (rdlen >= 4) record.dnskey = { flags: rdata.readUInt16BE(0), protocol: rdata[2], algorithm: rdata[3], publicKey: Buffer.from(rdata.subarray(4)), keyTag: keyTag(rdata) };
      break;
    case RR.RRSIG:
      if (rdlen >= 19) {
        // The signer's name is never compressed (RFC 4034 §3.1.7), so it is read inside the RDATA.
        const signer = readName(rdata, 18);
        record.rrsig = {
          typeCovered: rdata.readUInt16BE(0), algorithm: rdata[2], labels: rdata[3], originalTtl: rdata.readUInt32BE(4),
          expiration: rdata.readUInt32BE(8), inception: rdata.readUInt32BE(12), keyTag: rdata.readUInt16BE(16), signer: signer.name,
        };
      }
      break;
    case RR.TLSA:
      // RFC 6698 §2.1: usage, selector and matching type are one octet each, then the association
      // data. A shorter RDATA is kept, marked malformed, so that a report never reads an existing
      // (broken) RRset as "no TLSA"; senders treat it as unusable.
      if (rdlen >= 3) record.tlsa = { usage: rdata[0], selector: rdata[1], matchingType: rdata[2], data: Buffer.from(rdata.subarray(3)) };
      else record.tlsa = { usage: -1, selector: -1, matchingType: -1, data: Buffer.from(rdata), malformed: `the RDATA is ${rdlen} octet${rdlen === 1 ? '' : 's'}, shorter than the 3 octets of usage, selector and matching type (RFC 6698 §2.1)` };
      break;
    default:
      break;
  }
  return { record, next: p, optTtl: type === RR.OPT ? ttl : undefined };
}

/** Parses a whole DNS message; never throws. */
export function parseDnsMessage(msg: Buffer): { ok: true; message: DnsMessage } | { ok: false; error: string } {
  try {
    if (msg.length < 12) return { ok: false, error: 'the DNS message is shorter than its header' };
    const id = msg.readUInt16BE(0);
    const flags = msg.readUInt16BE(2);
    const counts = [msg.readUInt16BE(4), msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)];
    let pos = 12;
    for (let i = 0; i < counts[0]; i++) {
      pos = readName(msg, pos).next + 4;
      need(msg, pos);
    }
    const sections: DnsRecord[][] = [[], [], []];
    let edns = false;
    let doBit = false;
    let extRcode = 0;
    const extendedErrors: ExtendedError[] = [];
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < counts[s + 1]; i++) {
        const r = parseRecord(msg, pos);
        pos = r.next;
        if (r.optTtl !== undefined) {
          edns = true;
          extRcode = r.optTtl >>> 24;
          doBit = (r.optTtl & 0x8000) !== 0;
          // EDNS options: code, length, data (RFC 6891 §6.1.2); EDE is option 15 (RFC 8914 §2).
          const o = r.record.rdata;
          for (let q = 0; q + 4 <= o.length; ) {
            const code = o.readUInt16BE(q);
            const len = o.readUInt16BE(q + 2);
            const data = o.subarray(q + 4, Math.min(o.length, q + 4 + len));
            if (code === 15 && data.length >= 2) extendedErrors.push({ code: data.readUInt16BE(0), text: data.subarray(2).toString('utf8') });
            q += 4 + len;
          }
          continue;
        }
        sections[s].push(r.record);
      }
    }
    return {
      ok: true,
      message: {
        id,
        rcode: (extRcode << 4) | (flags & 0x0f),
        aa: (flags & 0x0400) !== 0,
        tc: (flags & 0x0200) !== 0,
        ra: (flags & 0x0080) !== 0,
        ad: (flags & 0x0020) !== 0,
        cd: (flags & 0x0010) !== 0,
        answers: sections[0],
        authority: sections[1],
        additional: sections[2],
        edns,
        doBit,
        extendedErrors,
      },
    };
  } catch (error) {
    // The parser's own findings are worded; any other error (a read it failed to check) is not shown raw.
    return { ok: false, error: `malformed DNS message: ${error instanceof Truncated ? error.message : 'a field could not be read'}` };
  }
}

/** Why an answer over TCP that is still marked truncated (TC) is not used; both raw clients say it. */
export const TRUNCATED_OVER_TCP = 'the answer over TCP is marked truncated (TC) too, so it may lack records; it is not used (RFC 1035 §4.1.1)';

/** Sends one UDP query and waits for the answer with the same id; an error message instead of throwing. */
export async function sendDnsUdp(host: string, port: number, query: Buffer, id: number, timeoutMs: number): Promise<Buffer | string> {
  const r = await exchangeUdp(host, port, query, id, timeoutMs);
  return r.ok ? r.message : r.error;
}

/** Sends one query over TCP with its length prefix (RFC 1035 §4.2.2); an error message instead of throwing. */
export async function sendDnsTcp(host: string, port: number, query: Buffer, timeoutMs: number): Promise<Buffer | string> {
  const r = await exchangeTcp(host, port, query, timeoutMs);
  return r.ok ? r.message : r.error;
}

export interface DnssecQueryOptions {
  /** Set the CD bit: ask for the data even when it does not validate. */
  cd?: boolean;
  timeoutMs: number;
}

/** Sends one query to `server` (`IP`, `IP:PORT` or `[IPv6]:PORT`); never throws. */
export type DnssecQuery = (name: string, type: number, options: DnssecQueryOptions) => Promise<DnsOutcome>;

/**
 * A query function bound to one resolver: `IP`, `IP:PORT`, `[IPv6]:PORT`, or a host name (with an
 * optional port) that is looked up once, at the first query (as a setting may name it).
 */
export function createDnssecQuery(server: string): DnssecQuery {
  let resolved: Promise<HostPort | string> | undefined;
  const resolveTarget = (): Promise<HostPort | string> =>
    (resolved ??= (async () => {
      const direct = splitServerAddress(server);
      if (direct) return direct;
      const named = parseHostPort(server, 53);
      if (!named) return `"${server}" is not a resolver address (IP, IP:PORT, [IPv6]:PORT or HOST:PORT)`;
      try {
        const addresses = await lookup(named.host, { all: true });
        const address = addresses.find((a) => a.family === 4) ?? addresses[0];
        return address ? { host: address.address, port: named.port } : `the resolver name ${named.host} has no address`;
      } catch (error) {
        return `the resolver name ${named.host} could not be resolved (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
      }
    })());
  return async (name, type, options) => {
    const target = await resolveTarget();
    if (typeof target === 'string') return { ok: false, error: target };
    const id = randomInt(0, 0x10000);
    const query = encodeDnssecQuery(id, name, type, options.cd === true);
    if (!query) return { ok: false, error: `"${name}" cannot be sent as a DNS name` };
    const started = Date.now();
    let raw: Buffer | string = 'no answer';
    for (let attempt = 0; attempt < 2; attempt++) {
      const left = options.timeoutMs - (Date.now() - started);
      if (left <= 0) break;
      raw = await sendDnsUdp(target.host, target.port, query, id, attempt === 0 ? Math.ceil(left / 2) : left);
      if (typeof raw !== 'string') break;
    }
    if (typeof raw === 'string') return { ok: false, error: raw };
    let parsed = parseDnsMessage(raw);
    let transport: 'udp' | 'tcp' = 'udp';
    if (parsed.ok && parsed.message.tc) {
      const tcp = await sendDnsTcp(target.host, target.port, query, Math.max(1, options.timeoutMs - (Date.now() - started)));
      if (typeof tcp === 'string') return { ok: false, error: tcp };
      parsed = parseDnsMessage(tcp);
      transport = 'tcp';
      // Over TCP nothing needs truncating (TC: "truncated due to length greater than that permitted on
      // the transmission channel", RFC 1035 §4.1.1): an answer still marked TC may lack records,
      // so it is a failure, never the answer (and never "no data").
      if (parsed.ok && parsed.message.tc) return { ok: false, error: TRUNCATED_OVER_TCP };
    }
    if (!parsed.ok) return parsed;
    return { ok: true, message: parsed.message, transport, elapsedMs: Date.now() - started };
  };
}

/**
 * What the owner-name rule needs of a record: its owner (lower case, no final dot), its type, a
 * CNAME's target and the type an RRSIG covers. `DnsRecord` has this shape; `wireResolver.ts` maps its
 * records to it, so the rule below is the one both raw clients apply.
 */
export interface AnswerRecordShape {
  name: string;
  type: number;
  name_?: string;
  rrsig?: { typeCovered: number };
  /** Why the record's RDATA cannot be read (a CNAME's then has no `name_`). */
  malformed?: string;
}

/**
 * The most CNAME links of an answer's chain that are followed. RFC 1034 §3.6.2 sets no number; a
 * recursive resolver gives up long before (Unbound and BIND after about a dozen restarts), but an
 * authoritative server hands over as much of an in-zone chain as there is, and all of it is the
 * answer. Beyond this the chain is a problem of the answer, never "no data".
 */
export const MAX_CNAME_LINKS = 32;

/** A CNAME chain, and why it could not be followed to its end when it could not. */
export interface AnswerChain {
  /** The asked name (see `nameKey`), then each CNAME's target in turn. */
  chain: string[];
  /** A loop, a chain longer than `MAX_CNAME_LINKS`, or a CNAME that cannot be read. */
  problem?: string;
}

/**
 * The CNAME chain of an answer section, from the asked name (RFC 1034 §3.6.2): each CNAME owned by
 * the last name of the chain adds its target, as far as the answer goes. A question for CNAME itself
 * follows none. Only records owned by a name of this chain can answer the question (RFC 5452 §9.1);
 * those of the asked type at its last name do. A chain that cannot be followed to its end (it loops,
 * it is longer than `MAX_CNAME_LINKS`, a CNAME's RDATA cannot be read, or a name has two CNAMEs, which
 * RFC 2181 §10.1 forbids) says why in `problem`: its last name's records are then not the answer.
 */
export function followAnswerChain(answers: readonly AnswerRecordShape[], name: string, type: number): AnswerChain {
  const chain = [nameKey(name)];
  if (type === RR.CNAME) return { chain };
  const cnames = new Map<string, AnswerRecordShape[]>();
  for (const r of answers) if (r.type === RR.CNAME) cnames.set(r.name, [...(cnames.get(r.name) ?? []), r]);
  const shown = (n: string): string => n || '.';
  for (;;) {
    const last = chain[chain.length - 1];
    const here = cnames.get(last);
    if (!here) return { chain };
    const broken = here.find((r) => r.name_ === undefined);
    if (broken) return { chain, problem: `the CNAME record of ${shown(last)} in the answer is malformed${broken.malformed ? ` (${broken.malformed})` : ''}` };
    const targets = [...new Set(here.map((r) => r.name_!))];
    if (targets.length > 1) return { chain, problem: `${shown(last)} has ${targets.length} CNAME records with different targets in the answer (${targets.map(shown).join(', ')}); a name has one canonical name (RFC 2181 §10.1)` };
    const next = targets[0];
    if (chain.includes(next)) return { chain, problem: `the CNAME chain in the answer loops (${[...chain.slice(chain.indexOf(next)), next].map(shown).join(' → ')})` };
    if (chain.length > MAX_CNAME_LINKS) return { chain, problem: `the CNAME chain in the answer is longer than ${MAX_CNAME_LINKS} links (${shown(chain[0])} → ${shown(chain[1])} → … → ${shown(last)} → ${shown(next)}); it is not followed further` };
    chain.push(next);
  }
}

/** The CNAME chain of an answer section (`followAnswerChain`), without why it may stop short. */
export function answerChain(answers: readonly AnswerRecordShape[], name: string, type: number): string[] {
  return followAnswerChain(answers, name, type).chain;
}

/**
 * The records of `type` at `name`, following CNAMEs inside the answer (RFC 1034 §3.6.2). With a
 * `problem` (the chain could not be followed to its end) there are none: the chain's last name is not
 * the name the answer is for.
 */
export function answerRecords(message: DnsMessage, name: string, type: number): { records: DnsRecord[]; chain: string[]; problem?: string } {
  const { chain, problem } = followAnswerChain(message.answers, name, type);
  if (problem) return { records: [], chain, problem };
  const target = chain[chain.length - 1];
  return { records: message.answers.filter((r) => r.type === type && r.name === target), chain };
}

/**
 * The records of an answer section that answer another question: an owner name outside the CNAME
 * chain, or a type other than the one asked, CNAME, DNAME or RRSIG. A resolver never sends them for
 * the question asked; they are ignored, and a report says so.
 */
export function foreignAnswers<R extends AnswerRecordShape>(answers: readonly R[], chain: readonly string[], type: number): R[] {
  return answers.filter((r) => {
    // A DNAME (and its signature) is owned by an ancestor of the name, and is part of the answer.
    if (r.type === RR.DNAME || (r.type === RR.RRSIG && r.rrsig?.typeCovered === RR.DNAME)) return false;
    return !chain.includes(r.name) || (r.type !== type && r.type !== RR.CNAME && r.type !== RR.RRSIG);
  });
}
