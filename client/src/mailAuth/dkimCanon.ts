/**
 * DKIM canonicalization (RFC 6376 §3.4) and the data a DKIM-style signature covers (RFC 6376 §3.7):
 * the one home of these rules in the product, used by the signer (sign.ts) and by the ARC chain view
 * (arcChain.ts), which verifies ARC-Message-Signatures and ARC-Seals itself. Pure; never throws.
 */
import { headerEnd } from './headers';

/** One header field as written. */
export interface RawField {
  name: string;
  /** The whole field as written: name, colon, value with its folding (CRLF), no final line end. */
  raw: string;
}

/**
 * The header fields with their raw text (folding kept, line ends written CRLF), in order. A message
 * without an empty line is all header (RFC 5322 §3.5: the body is optional).
 */
export function rawFields(message: Buffer): RawField[] {
  const { headerLength } = headerEnd(message);
  const lines = message.subarray(0, headerLength).toString('latin1').split(/\r?\n/);
  const out: RawField[] = [];
  for (const line of lines) {
    if (line === '') continue;
    if ((line.startsWith(' ') || line.startsWith('\t')) && out.length > 0) {
      out[out.length - 1].raw += `\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon).replace(/[ \t]+$/, ''), raw: line });
  }
  return out;
}

/** The body of the message: the bytes after the empty line, none when there is no empty line (RFC 5322 §3.5). */
export function messageBody(message: Buffer): Buffer {
  return message.subarray(headerEnd(message).bodyStart);
}

/** The value of a raw field (after the colon, folding kept). */
export function valueOf(f: RawField): string {
  return f.raw.slice(f.raw.indexOf(':') + 1);
}

/** WSP (SP, HTAB) at the start or end of a string: RFC 6376 §3.4.2 removes these and nothing else. */
const EDGE_WSP = /^[ \t]+|[ \t]+$/g;

/**
 * RFC 6376 §3.4.2: relaxed header canonicalization of one field, without the CRLF. Only WSP is
 * reduced and removed: a value ending in byte 0xA0 (the last byte of UTF-8 "à", C3 A0) or in VT or
 * FF keeps it, where JavaScript's `trim()` would take it (and so would mailauth, verify.ts).
 */
export function relaxedHeader(raw: string): string {
  const colon = raw.indexOf(':');
  return `${raw.slice(0, colon).replace(EDGE_WSP, '').toLowerCase()}:${raw.slice(colon + 1).replace(/\r\n/g, '').replace(/[ \t]+/g, ' ').replace(EDGE_WSP, '')}`;
}

/** The field with the value of its b= tag removed (RFC 6376 §3.7, RFC 8617 §4.1.3), everything else kept. */
export function withoutB(raw: string): string {
  const colon = raw.indexOf(':');
  return raw.slice(0, colon + 1) + raw.slice(colon + 1).replace(/(^|;)([ \t\r\n]*b[ \t\r\n]*=)[^;]*/, '$1$2');
}

/**
 * RFC 6376 §3.4.3 and §3.4.4: the canonical body (line ends normalized to CRLF first). An empty
 * body is CRLF with simple (§3.4.3) and empty with relaxed (§3.4.4).
 */
export function canonicalBody(body: Buffer, relaxed: boolean): Buffer {
  let text = body.toString('latin1').replace(/\r?\n/g, '\r\n');
  if (relaxed) {
    text = text
      .split('\r\n')
      .map((l) => l.replace(/[ \t]+/g, ' ').replace(/ $/, ''))
      .join('\r\n');
  }
  text = text.replace(/(\r\n)*$/, '');
  if (text === '' && relaxed) return Buffer.alloc(0);
  return Buffer.from(`${text}\r\n`, 'latin1');
}

/**
 * The fields h= selects: for each name, the last occurrence not yet used (RFC 6376 §5.4.2). A name
 * with no field left selects nothing (§5.4: "nonexistent header fields do not contribute"), which is
 * what makes oversigning work.
 */
export function selectHeaders(fields: RawField[], names: string[], skip?: RawField): RawField[] {
  const used = new Set<RawField>();
  const out: RawField[] = [];
  for (const name of names) {
    for (let i = fields.length - 1; i >= 0; i--) {
      const f = fields[i];
      if (f === skip || used.has(f) || f.name.toLowerCase() !== name) continue;
      used.add(f);
      out.push(f);
      break;
    }
  }
  return out;
}

/**
 * The data a signature's b= covers (RFC 6376 §3.7): the selected header fields, each canonicalized
 * and ended with CRLF, then the signature field itself with b= empty and no final CRLF.
 * `transform` rewrites a selected field first (the chain view tries what forwarders change).
 */
export function signedHeaderData(selected: RawField[], signatureFieldRaw: string, relaxed: boolean, transform?: (f: RawField) => string): Buffer {
  const canonical = (raw: string): string => (relaxed ? relaxedHeader(raw) : raw);
  const lines = selected.map((f) => `${canonical(transform ? transform(f) : f.raw)}\r\n`);
  return Buffer.from(lines.join('') + canonical(withoutB(signatureFieldRaw)), 'latin1');
}
