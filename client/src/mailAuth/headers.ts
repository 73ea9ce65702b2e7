/**
 * Minimal, lossless access to the header section of a raw message (RFC 5322 §2.2): the byte offset
 * where the body starts and the unfolded header fields in order. Used to find the top `Received`
 * and `Return-Path` fields; everything else goes to mailauth, which reads the raw bytes.
 */

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

/** Parses the header section into fields, in order. Lines that are not fields are skipped. */
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
