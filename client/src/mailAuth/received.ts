/**
 * Reads the SMTP client's identity from a `Received` trace field (RFC 5321 §4.4):
 *
 *     Stamp          = From-domain By-domain Opt-info [CFWS] ";" FWS date-time
 *     From-domain    = "FROM" FWS Extended-Domain
 *     Extended-Domain = Domain / ( Domain FWS "(" TCP-info ")" ) /
 *                      ( address-literal FWS "(" TCP-info ")" )
 *     TCP-info       = address-literal / ( Domain FWS address-literal )
 *
 * The Domain after FROM is what the client sent in EHLO/HELO, and the address literal in TCP-info is
 * the address the connection came from. Exim writes the EHLO name as `helo=NAME` inside the comment
 * when it differs from the reverse-DNS name (`from host ([192.0.2.1] helo=client.example)`), and the
 * MAIL FROM address as `(envelope-from <addr>)`; both forms are understood.
 */
import { isIP } from 'node:net';
import { firstField, parseHeaderFields, type RawHeaderField } from './headers';

export interface ReceivedInfo {
  /** The EHLO/HELO argument, as the client sent it (a domain or an address literal such as `[192.0.2.1]`). */
  helo?: string;
  /** The client's IP address, without brackets or an `IPv6:` tag. */
  ip?: string;
  /** The reverse-DNS name the receiving MTA recorded, when it differs from `helo`. */
  reverseName?: string;
  /** The MAIL FROM address, when the MTA recorded it (`envelope-from`). */
  envelopeFrom?: string;
  /** The receiving host (`by` clause). */
  by?: string;
}

/** Strips the brackets and the `IPv6:` tag of an address literal (RFC 5321 §4.1.3); undefined if not an IP. */
function literalAddress(text: string): string | undefined {
  const m = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(text.trim());
  const inner = m ? m[1] : text.trim();
  return isIP(inner) ? inner : undefined;
}

/** Reads a parenthesised comment starting at `start` (which holds "("), allowing nesting and quoted-pairs. */
function readComment(text: string, start: number): { body: string; end: number } {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) return { body: text.slice(start + 1, i), end: i + 1 };
    }
  }
  return { body: text.slice(start + 1), end: text.length };
}

/** Parses the value of one `Received` field (unfolded). Returns an empty object when it has no FROM clause. */
export function parseReceived(value: string): ReceivedInfo {
  // The date-time follows the last ";" (RFC 5321 §4.4); it plays no part here.
  const semi = value.lastIndexOf(';');
  const stamp = (semi >= 0 ? value.slice(0, semi) : value).replace(/\s+/g, ' ').trim();
  const info: ReceivedInfo = {};

  const by = /(?:^|[\s)])by\s+([^\s;()]+)/i.exec(stamp);
  if (by) info.by = by[1];
  const envelope = /envelope-from[\s=]*<?([^\s<>()]*@[^\s<>()]+|)>?/i.exec(stamp);
  if (envelope && envelope[1] !== '') info.envelopeFrom = envelope[1];

  const from = /^from\s+(\S+)/i.exec(stamp);
  if (!from) return info;
  const fromToken = from[1].replace(/\($/, '');
  let rest = stamp.slice(from[0].length).trimStart();
  let comment = '';
  if (rest.startsWith('(')) {
    const c = readComment(rest, 0);
    comment = c.body;
    rest = rest.slice(c.end);
  }
  // TCP-info: the first address literal in the comment is the connecting address.
  const bracket = /\[(?:ipv6:)?([0-9a-f:.]+)\]/i.exec(comment);
  const ipFromComment = bracket && isIP(bracket[1]) ? bracket[1] : undefined;
  const ipFromToken = literalAddress(fromToken);
  const ip = ipFromComment ?? ipFromToken;
  if (ip) info.ip = ip;

  const heloInComment = /\bhelo=([^\s)\]]+(?:\])?)/i.exec(comment);
  info.helo = heloInComment ? heloInComment[1] : fromToken;

  // The name before the address literal in TCP-info is the reverse-DNS name (RFC 5321 §4.4). In
  // Exim's `from NAME ([IP] helo=HELO)` form, NAME is the reverse-DNS name instead.
  const reverse = heloInComment ? (ipFromToken === undefined ? fromToken : undefined) : /^\s*([a-z0-9.-]+?)\.?\s+\[/i.exec(comment)?.[1];
  if (reverse !== undefined && reverse.toLowerCase() !== info.helo.toLowerCase()) info.reverseName = reverse;
  return info;
}

/** What `topReceived` found: the parsed field and its position among the message's `Received` fields. */
export interface TopReceived extends ReceivedInfo {
  /** 0 for the topmost `Received` field. */
  index: number;
  /** The unfolded field value. */
  raw: string;
}

/**
 * Returns the topmost `Received` field that records an outside client, parsed. The topmost field
 * is the one the last receiving MTA prepended (RFC 5321 §4.4); hops inside the receiving site
 * (a content filter on loopback, an LMTP hand-off without an address, private addresses) are
 * passed over, since SPF checks the connection from the outside (RFC 7208 §2.4). When every hop
 * is internal, the topmost one with a client is returned.
 */
export function topReceived(message: Buffer | RawHeaderField[]): TopReceived | undefined {
  const fields = Array.isArray(message) ? message : parseHeaderFields(message);
  const received = fields.filter((f) => f.name.toLowerCase() === 'received');
  let fallback: TopReceived | undefined;
  for (let index = 0; index < received.length; index++) {
    const parsed = parseReceived(received[index].value);
    if (parsed.helo === undefined && parsed.ip === undefined) continue;
    const hop = { ...parsed, index, raw: received[index].value };
    if (parsed.ip !== undefined && !isInternalAddress(parsed.ip)) return hop;
    fallback ??= hop;
  }
  return fallback;
}

/** Loopback, private (RFC 1918, RFC 4193) and link-local addresses: hops inside one site. */
export function isInternalAddress(ip: string): boolean {
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.\d+\.\d+$/i.exec(ip);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
  }
  const v6 = ip.toLowerCase();
  return v6 === '::1' || /^f[cd]/.test(v6) || /^fe[89ab]/.test(v6);
}

/** Returns the address of the top `Return-Path` field (RFC 5321 §4.4), '' for the null path, or undefined. */
export function returnPath(message: Buffer | RawHeaderField[]): string | undefined {
  const fields = Array.isArray(message) ? message : parseHeaderFields(message);
  const field = firstField(fields, 'return-path');
  if (!field) return undefined;
  const m = /<([^>]*)>/.exec(field.value);
  return (m ? m[1] : field.value).trim();
}
