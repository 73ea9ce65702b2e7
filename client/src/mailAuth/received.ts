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
 * the address the connection came from. MTAs do not all follow that grammar: Exim writes its own
 * `[IP]` after FROM and the EHLO argument as `helo=NAME` in the comment, Exchange writes the address
 * bare. `parseReceived` reads each known form from the place its MTA writes the address, and never
 * from text the client chose (see there). Exim's `(envelope-from <addr>)` gives the MAIL FROM address.
 */
import { isIP } from 'node:net';
import { firstField, parseHeaderFields, utf8FieldValue, type RawHeaderField } from './headers';

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
  /**
   * Set when the FROM clause has a comment in no form this parser knows, so the connecting address
   * could not be read: `topReceived` stops at such a hop rather than trusting an older field.
   */
  unreadable?: true;
}

/**
 * Strips the brackets and the `IPv6:` tag of an address literal (RFC 5321 §4.1.3), or takes a bare
 * address; undefined if it is not an IP address. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`,
 * as Courier and MTAs on dual-stack sockets write it) is the IPv4 client it stands for.
 */
function literalAddress(text: string): string | undefined {
  const m = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(text.trim());
  const inner = m ? m[1] : text.trim();
  if (isIP(inner) === 0) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(inner);
  return mapped ? mapped[1] : inner;
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

/** An address literal, bracketed, with an optional `IPv6:` tag (RFC 5321 §4.1.3). */
const LITERAL = String.raw`\[(?:IPv6:)?[0-9A-Fa-f:.]+\]`;
/**
 * Exim's `$sender_rcvhost` after a verified host name: `[IP]` (with `:port` when the port is logged),
 * then `helo=` and `ident=` items (Exim specification, "Expansion variables", sender_rcvhost).
 */
const EXIM_AFTER_NAME = new RegExp(String.raw`^(${LITERAL})(?::\d+)?(?:\s+(?:helo|ident)=.*)?$`, 'i');
/** Exim's `$sender_rcvhost` after `[IP]` (no verified host name): `port=N`, `helo=NAME`, `ident=ID` items only. */
// Each item's value is one word, so a comment that also holds an address literal (Sendmail's
// `(NAME [IP])` with a reverse-DNS NAME such as `helo=x`, which the client's own PTR record can
// choose) is never taken for Exim's.
const EXIM_AFTER_LITERAL = /^(?:port=\d+|helo=\S*|ident=\S*)(?:\s+(?:port=\d+|helo=\S*|ident=\S*))*$/i;
/**
 * TCP-info as Postfix, Sendmail, Google, Microsoft and Courier write it: an optional name (the
 * verified reverse-DNS name, `unknown`, or Sendmail's `user@name`), then the address literal, then
 * Sendmail's `(may be forged)`: `(mail.example.org [192.0.2.1])`, `(unknown [192.0.2.1])`,
 * `(rdns.example. [192.0.2.1])`, `([192.0.2.1])`, `(user@rdns [192.0.2.1] (may be forged))`.
 */
const TCP_INFO = new RegExp(String.raw`^(?:(?:[^\s@()\[\]]+@)?([^\s@()\[\]]+)\s+)?(${LITERAL})(?:\s*\(may be forged\))?$`, 'i');
/** Microsoft Exchange writes the address bare, `(192.0.2.1)` or `(2001:db8::1)`; qmail `(192.0.2.1)` or `(info@192.0.2.1)`. */
const BARE_ADDRESS = /^(?:[^\s@()]+@)?([0-9A-Fa-f:.]+)$/;

/**
 * Parses the value of one `Received` field (unfolded). Returns an empty object when it has no FROM
 * clause. Never throws.
 *
 * The connecting address is read only where the receiving MTA writes it, never from text the client
 * chose: the FROM token of Postfix, Sendmail and Google is the client's EHLO argument (which may be
 * `[192.0.2.1]`), and Exim's `helo=` item is that argument too. Reading "the first address literal"
 * lets a client that says `EHLO [192.0.2.1]` pick the address SPF is checked against. The forms:
 *
 * | MTA | field | client address |
 * |---|---|---|
 * | Exim, verified name | `from NAME ([IP]:port helo=HELO)` | the literal that opens the comment |
 * | Exim, no verified name | `from [IP] (port=N helo=HELO)`, `from [IP] (helo=HELO)`, `from [IP]` | the FROM token (Exim writes it) |
 * | Postfix, Sendmail, Google, Courier | `from HELO (RDNS [IP])`, `(unknown [IP])`, `([IP])`, `(… (may be forged))` | the literal in the comment |
 * | Microsoft Exchange | `from HELO (IP)` | the bare address in the comment |
 * | qmail | `from RDNS (HELO helo) (IP)` | the second comment |
 */
export function parseReceived(value: string): ReceivedInfo {
  // The date-time follows the last ";" (RFC 5321 §4.4); it plays no part here.
  const semi = value.lastIndexOf(';');
  const stamp = (semi >= 0 ? value.slice(0, semi) : value).replace(/\s+/g, ' ').trim();
  const info: ReceivedInfo = {};

  const by = /(?:^|[\s)])by\s+([^\s;()]+)/i.exec(stamp);
  if (by) info.by = by[1];
  const envelope = /envelope-from[\s=]*<?([^\s<>()]*@[^\s<>()]+|)>?/i.exec(stamp);
  if (envelope && envelope[1] !== '') info.envelopeFrom = envelope[1];

  const from = /^from\s+([^\s(]+)/i.exec(stamp);
  if (!from) return info;
  const fromToken = from[1];
  // The comments that follow the FROM token, up to the BY clause (RFC 5321 §4.4, TCP-info).
  const comments: string[] = [];
  let rest = stamp.slice(from[0].length).trimStart();
  while (rest.startsWith('(') && comments.length < 8) {
    const c = readComment(rest, 0);
    comments.push(c.body.trim());
    rest = rest.slice(c.end).trimStart();
  }
  const first = comments[0];
  const tokenAddress = literalAddress(fromToken);
  const heloItem = (comment: string): string | undefined => /(?:^|\s)helo=(\S+)/i.exec(comment)?.[1];
  let ip: string | undefined;
  let helo = fromToken;
  let reverse: string | undefined;
  let unreadable = false;

  let m: RegExpExecArray | null;
  if (first === undefined) {
    // `from [IP]` alone: Exim when the EHLO argument was the client's own address literal, and
    // Yahoo's `from 192.0.2.1 by …`. Without TCP-info the FROM token is all there is.
    ip = tokenAddress;
  } else if (/^\[/.test(fromToken) && tokenAddress !== undefined && EXIM_AFTER_LITERAL.test(first)) {
    // Exim without a verified host name: Exim writes `[IP]` itself; helo= is the client's argument.
    ip = tokenAddress;
    helo = heloItem(first) ?? fromToken;
  } else if (/^helo\s+\S+$/i.test(first) && comments[1] !== undefined) {
    // qmail: `from RDNS (HELO helo) (IP)`; RDNS is `unknown` when there is none. The HELO comment is
    // the client's argument, so the address is read from the second comment only.
    helo = first.slice(5).trim();
    const second = BARE_ADDRESS.exec(comments[1]) ?? TCP_INFO.exec(comments[1]);
    ip = second ? literalAddress(second[second.length - 1]) : undefined;
    if (ip === undefined) unreadable = true;
    if (fromToken.toLowerCase() !== 'unknown') reverse = fromToken;
  } else if ((m = EXIM_AFTER_NAME.exec(first)) && /(?:^|\s)(?:helo|ident)=|^\[[^\]]*\]:\d+$/i.test(first)) {
    // Exim with a verified host name: NAME is that name, the comment opens with the address.
    ip = literalAddress(m[1]);
    helo = heloItem(first) ?? fromToken;
    reverse = fromToken;
  } else if ((m = TCP_INFO.exec(first)) && !/^helo$/i.test(m[1] ?? '')) {
    // Postfix, Sendmail, Google, Courier, Exchange Online: FROM is the EHLO argument, the comment
    // holds the name the MTA looked up and the address of the connection.
    ip = literalAddress(m[2]);
    const name = m[1]?.replace(/\.$/, '');
    if (name !== undefined && name.toLowerCase() !== 'unknown') reverse = name;
  } else if ((m = BARE_ADDRESS.exec(first)) && literalAddress(m[1]) !== undefined) {
    ip = literalAddress(m[1]);
  } else if (EXIM_AFTER_LITERAL.test(first)) {
    // Exim's local SMTP (`-bs`): `from IDENT (helo=NAME)`, no network client.
    helo = heloItem(first) ?? fromToken;
  } else {
    // Any other comment is not a form this parser knows: no address is guessed from it.
    unreadable = true;
  }

  if (ip !== undefined) info.ip = ip;
  if (unreadable) info.unreadable = true;
  info.helo = helo;
  if (reverse !== undefined && reverse.toLowerCase() !== helo.toLowerCase()) info.reverseName = reverse;
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
 * passed over, since SPF checks the connection from the outside (RFC 7208 §2.4). A hop whose
 * TCP-info is in no known form is returned without an address (the search never goes below it).
 * When every hop is internal, the topmost one with a client is returned.
 */
export function topReceived(message: Buffer | RawHeaderField[]): TopReceived | undefined {
  const fields = Array.isArray(message) ? message : parseHeaderFields(message);
  const received = fields.filter((f) => f.name.toLowerCase() === 'received');
  let fallback: TopReceived | undefined;
  for (let index = 0; index < received.length; index++) {
    const parsed = parseReceived(utf8FieldValue(received[index].value));
    if (parsed.helo === undefined && parsed.ip === undefined) continue;
    const hop = { ...parsed, index, raw: received[index].value };
    if (parsed.ip !== undefined && !isInternalAddress(parsed.ip)) return hop;
    // A network hop whose address cannot be read ends the search: the fields below it may have been
    // written by the client itself, so taking an address from them would let it choose its own.
    if (parsed.unreadable) return hop;
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
  const value = utf8FieldValue(field.value);
  const m = /<([^>]*)>/.exec(value);
  return (m ? m[1] : value).trim();
}
