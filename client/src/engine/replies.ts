/**
 * A streaming parser of SMTP replies (RFC 5321 §4.2). Bytes go in as they arrive; complete replies
 * come out. Every violation of the reply grammar becomes a `ReplyProtocolError` with a clear message;
 * the parser never throws anything else and never buffers without bound.
 */
import type { Capabilities, ReplyInfo } from './types';

/** The longest reply line accepted (RFC 5321 §4.5.3.1.5 allows 512 octets; servers exceed it, so the cap is generous). */
export const MAX_REPLY_LINE = 64 * 1024;
/** The most lines accepted in one multi-line reply, so that an endless reply cannot exhaust memory. */
export const MAX_REPLY_LINES = 10_000;

export class ReplyProtocolError extends Error {}

export interface Reply extends ReplyInfo {
  /** The text of every line after the code and separator, joined with `\n`. */
  text: string;
  /** Octets the reply took on the wire. */
  bytes: number;
}

const CR = 13;
const LF = 10;
const WHITESPACE = /^\s/;

/** The end of a run of 1 to 3 ASCII digits starting at `from`, or -1 when there is none. */
function digitsEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && i - from < 3) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  return i === from ? -1 : i;
}

/**
 * Reads the enhanced status code (RFC 3463 §2, RFC 2034 §4) at the start of a reply line's text, if
 * its class matches the reply's: `class "." subject "." detail`, with 1 to 3 digits in subject and
 * detail, followed by whitespace or the end of the text. Scanned by character codes: a pattern
 * match on every reply was a visible part of a repeated transaction's cost.
 */
export function enhancedCodeOf(code: number, text: string): string | undefined {
  const cls = text.charCodeAt(0) - 0x30;
  // RFC 2034 §4: the class digit of the enhanced code is that of the reply code.
  if ((cls !== 2 && cls !== 4 && cls !== 5) || cls !== Math.floor(code / 100) || text.charCodeAt(1) !== 0x2e) return undefined;
  const subjectEnd = digitsEnd(text, 2);
  if (subjectEnd < 0 || text.charCodeAt(subjectEnd) !== 0x2e) return undefined;
  const detailEnd = digitsEnd(text, subjectEnd + 1);
  if (detailEnd < 0) return undefined;
  // A fourth digit, or anything else glued on, is not an enhanced code (`2.1.2345`, `2.0.0x`).
  if (detailEnd < text.length) {
    const next = text.charCodeAt(detailEnd);
    if (next !== 0x20 && next !== 0x09 && !WHITESPACE.test(text.slice(detailEnd, detailEnd + 1))) return undefined;
  }
  return text.slice(0, detailEnd);
}

export class ReplyParser {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private lines: string[] = [];
  private texts: string[] = [];
  private code = 0;
  private bytes = 0;
  /** Lines of the reply being read (complete lines of an unfinished multi-line reply). */
  partialLines(): readonly string[] {
    return this.lines;
  }
  /** True when bytes of a reply have arrived but the reply is not complete. */
  get midReply(): boolean {
    return this.lines.length > 0 || this.pendingLength > 0;
  }
  /** The bytes received after the last complete reply that are not yet a complete line. */
  pendingText(): string {
    return Buffer.concat(this.pending).toString('latin1');
  }

  /**
   * Feeds received bytes and returns the replies they complete. Throws `ReplyProtocolError` on a
   * grammar violation; the parser must not be used after that.
   */
  push(chunk: Buffer): Reply[] {
    const out: Reply[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(LF, start);
      if (nl < 0) break;
      let lineBuf: Buffer;
      if (this.pendingLength > 0) {
        this.pending.push(chunk.subarray(start, nl));
        lineBuf = Buffer.concat(this.pending);
        this.pending = [];
        this.pendingLength = 0;
      } else {
        lineBuf = chunk.subarray(start, nl);
      }
      const lineBytes = lineBuf.length + 1;
      if (lineBuf.length > MAX_REPLY_LINE) throw new ReplyProtocolError(`a reply line is longer than ${MAX_REPLY_LINE} octets`);
      // RFC 5321 §2.3.8: lines end with CRLF. A bare LF is tolerated on input (robustness), but not a stray CR.
      const end = lineBuf.length > 0 && lineBuf[lineBuf.length - 1] === CR ? lineBuf.length - 1 : lineBuf.length;
      const reply = this.line(lineBuf.toString('utf8', 0, end), lineBytes);
      if (reply) out.push(reply);
      start = nl + 1;
    }
    if (start < chunk.length) {
      // A copy: the caller may reuse the chunk's memory for its next read (net.connect's onread).
      const rest = Buffer.from(chunk.subarray(start));
      this.pending.push(rest);
      this.pendingLength += rest.length;
      if (this.pendingLength > MAX_REPLY_LINE) {
        throw new ReplyProtocolError(`the server sent more than ${MAX_REPLY_LINE} octets without ending the line with CRLF`);
      }
    }
    return out;
  }

  private line(line: string, lineBytes: number): Reply | undefined {
    // RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF,
    // where Reply-code is %x32-35 %x30-35 %x30-39.
    const c0 = line.charCodeAt(0);
    const c1 = line.charCodeAt(1);
    const c2 = line.charCodeAt(2);
    const sep = line.length > 3 ? line[3] : '';
    if (
      !(c0 >= 0x32 && c0 <= 0x35 && c1 >= 0x30 && c1 <= 0x35 && c2 >= 0x30 && c2 <= 0x39) ||
      (sep !== '' && sep !== ' ' && sep !== '-')
    ) {
      throw new ReplyProtocolError(`not an SMTP reply line (RFC 5321 §4.2 needs a code 200-559 then " " or "-"): ${JSON.stringify(truncate(line))}`);
    }
    const code = (c0 - 0x30) * 100 + (c1 - 0x30) * 10 + (c2 - 0x30);
    if (this.lines.length > 0 && code !== this.code) {
      // RFC 5321 §4.2.1: every line of a multi-line reply carries the same code.
      throw new ReplyProtocolError(`inconsistent codes in a multi-line reply: ${this.code} then ${code} (RFC 5321 §4.2.1)`);
    }
    this.code = code;
    this.lines.push(line);
    this.texts.push(line.length > 4 ? line.slice(4) : '');
    this.bytes += lineBytes;
    if (sep === '-') {
      if (this.lines.length >= MAX_REPLY_LINES) throw new ReplyProtocolError(`a multi-line reply of more than ${MAX_REPLY_LINES} lines`);
      return undefined;
    }
    const reply: Reply = {
      code,
      enhanced: enhancedCodeOf(code, this.texts[0]),
      lines: this.lines,
      text: this.texts.length === 1 ? this.texts[0] : this.texts.join('\n'),
      bytes: this.bytes,
    };
    this.lines = [];
    this.texts = [];
    this.bytes = 0;
    this.code = 0;
    return reply;
  }
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** Parses an EHLO or LHLO reply into capabilities (RFC 5321 §4.1.1.1: the first line is the greeting). */
export function parseCapabilities(reply: ReplyInfo): Capabilities {
  const keywords = new Map<string, string[]>();
  for (let i = 1; i < reply.lines.length; i++) {
    const text = reply.lines[i].slice(4).trim();
    if (text === '') continue;
    const parts = text.split(/\s+/);
    const keyword = parts[0].toUpperCase();
    // Some servers still write the pre-standard "AUTH=PLAIN LOGIN" form; treat it as AUTH.
    if (keyword.startsWith('AUTH=')) {
      const list = keywords.get('AUTH') ?? [];
      list.push(...[parts[0].slice(5), ...parts.slice(1)].filter((p) => p !== ''));
      keywords.set('AUTH', list);
      continue;
    }
    const existing = keywords.get(keyword);
    keywords.set(keyword, existing ? [...existing, ...parts.slice(1)] : parts.slice(1));
  }
  const sizeParams = keywords.get('SIZE');
  let size: number | undefined;
  if (sizeParams) size = sizeParams.length > 0 && /^\d+$/.test(sizeParams[0]) ? Number(sizeParams[0]) : 0;
  const authMechanisms = [...new Set((keywords.get('AUTH') ?? []).map((m) => m.toUpperCase()))];
  return { keywords, size, authMechanisms };
}
