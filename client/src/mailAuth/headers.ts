/**
 * Minimal, lossless access to the header section of a raw message (RFC 5322 §2.2): the byte offset
 * where the body starts and the unfolded header fields in order. Used to find the top `Received`
 * and `Return-Path` fields; everything else goes to mailauth, which reads the raw bytes.
 */
import { utf8FieldValue } from '../../../common/mailText';
import { visibleLine } from '../../../common/escape';

export interface RawHeaderField {
  /** The field name as written. */
  name: string;
  /** The unfolded value (RFC 5322 §2.2.3: CRLF followed by WSP is removed), without the leading space. */
  value: string;
}

/** Returns the offset of the first byte of the body, or the message length when there is no body. */
export function headerEnd(message: Buffer): { headerLength: number; bodyStart: number } {
  // The header section ends at the first empty line (RFC 5322 §2.1); accept bare LF as well.
  for (let i = 0; i < message.length; i++) {
    if (message[i] !== 0x0a) continue;
    if (i === 0) return { headerLength: 0, bodyStart: 1 };
    if (message[i + 1] === 0x0a) return { headerLength: i + 1, bodyStart: i + 2 };
    if (message[i + 1] === 0x0d && message[i + 2] === 0x0a) return { headerLength: i + 1, bodyStart: i + 3 };
  }
  if (message.length >= 2 && message[0] === 0x0d && message[1] === 0x0a) return { headerLength: 0, bodyStart: 2 };
  return { headerLength: message.length, bodyStart: message.length };
}

/** RFC 5322 §2.2, §3.6.8: a field name is printable US-ASCII except ":" (obs-optional allows WSP before the colon, §4.5.1). */
const FIELD_START = /^[!-9;-~]+[ \t]*:/;

/** One line of the header section that is neither a header field nor the continuation of one. */
export interface HeaderLineProblem {
  /** The line number in the message, from 1. */
  line: number;
  /** The line as written (latin1), without its line end. */
  text: string;
  /** One sentence, peer text escaped (common/escape.ts `visibleLine`), with the RFC sections. */
  reason: string;
}

/**
 * The first line of the header section that is not a header field ("Name: value") nor a folded
 * continuation of one (a line starting with SP or HTAB after a field), or undefined when there is
 * none. RFC 5322 §2.2 and §3.5: the header section is header fields only, up to the empty line. A
 * mail client ends the header section at such a line and shows what follows as the body, while a
 * verifier that skips it (mailauth, a lenient parser) would verify a signature over fields the
 * reader never sees as fields and show the reader text no signature covers; dkimpy refuses such a
 * message (MessageFormatError). The one home of that decision: `verifyMessage` makes every DKIM and
 * ARC result of such a message a failure, and `signMessage` refuses to sign it (`unsignableReason`).
 */
export function headerSectionProblem(message: Buffer): HeaderLineProblem | undefined {
  const { headerLength } = headerEnd(message);
  const lines = message.subarray(0, headerLength).toString('latin1').split(/\r?\n/);
  let fields = 0;
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k];
    if (line === '') continue;
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields > 0) continue;
    // RFC 4155: an mbox "From " separator as the first line of a saved message is no part of the
    // message (`smtpwb lint` accepts it, and dkimpy skips it); anywhere else it is text.
    if (k === 0 && line.startsWith('From ')) continue;
    if (FIELD_START.test(line)) {
      fields += 1;
      continue;
    }
    const shown = line.length > 60 ? `${line.slice(0, 60)}...` : line;
    const what = line.startsWith(' ') || line.startsWith('\t') ? 'a continuation line before any header field' : 'not a header field ("Name: value")';
    return {
      line: k + 1,
      text: line,
      reason: `header line ${k + 1} ("${visibleLine(utf8FieldValue(shown))}") is ${what}; the header section holds header fields only, and a mail client ends it there and shows the rest as the body (RFC 5322 §2.2, §3.5)`,
    };
  }
  return undefined;
}

/** Parses the header section into fields, in order. Lines that are not fields are skipped (`headerSectionProblem` says whether there are any). */
export function parseHeaderFields(message: Buffer): RawHeaderField[] {
  const { headerLength } = headerEnd(message);
  const text = message.subarray(0, headerLength).toString('latin1');
  const lines = text.split(/\r?\n/);
  const fields: RawHeaderField[] = [];
  for (const line of lines) {
    if (line === '') continue;
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) {
      fields[fields.length - 1].value += line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).replace(/^[ \t]+/, '') });
  }
  return fields;
}

/** Returns the first field with the name (case-insensitive), or undefined. */
export function firstField(fields: RawHeaderField[], name: string): RawHeaderField | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower);
}

/** Whether the message starts with a UTF-8 byte order mark (EF BB BF), which becomes part of the first field name. */
export function startsWithBom(message: Buffer): boolean {
  return message.length >= 3 && message[0] === 0xef && message[1] === 0xbb && message[2] === 0xbf;
}

/** A header value as text (RFC 6532): the one rule lives in common/mailText.ts. */
export { utf8FieldValue };

/** Whether the message is header fields only: no empty line, so no body (RFC 5322 §3.5 makes the body optional). */
export function isHeaderOnly(message: Buffer): boolean {
  return message.length > 0 && headerEnd(message).headerLength === message.length;
}

/**
 * The message with the empty line that ends the header section, for a header-only message (mailauth
 * needs it to find the header); any other message is returned as it is. The body stays empty, and
 * an empty body canonicalizes the same with or without the separator (RFC 6376 §3.4.3, §3.4.4).
 */
export function withHeaderSeparator(message: Buffer): Buffer {
  if (!isHeaderOnly(message)) return message;
  const lf = !message.includes('\r\n') && message.includes('\n');
  const eol = lf ? '\n' : '\r\n';
  const last = message[message.length - 1] === 0x0a ? eol : `${eol}${eol}`;
  return Buffer.concat([message, Buffer.from(last, 'latin1')]);
}
