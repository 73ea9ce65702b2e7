/**
 * A cheap reader for the few header fields the Local Inbox shows (From, To, Subject, Date). It reads
 * only the header section (RFC 5322 §2.1: up to the first empty line), unfolds it (§2.2.3) and
 * decodes encoded-words (RFC 2047) and raw UTF-8 (RFC 6532 §3.2). It is for display, not a linter:
 * malformed input gives its best guess and never throws.
 */
import libmime from 'libmime';

/** The displayed fields, decoded; a field that is absent is undefined. */
export interface SummaryHeaders {
  from?: string;
  to?: string;
  subject?: string;
  /** The Date field as written (RFC 5322 §3.6.1), decoded but not reformatted. */
  date?: string;
}

/** How much of the start of a message to look at for its header section. */
export const HEADER_SCAN_LIMIT = 256 * 1024;

/** Returns where the header section ends: the offset of the empty line, or the whole buffer. */
export function headerSectionEnd(bytes: Buffer): number {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue;
    // A line that is empty after this LF (CRLF, or a bare LF as some files have) ends the section.
    if (bytes[i + 1] === 0x0a) return i + 1;
    if (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) return i + 1;
  }
  // A message that starts with the empty line has no header fields at all.
  if (bytes[0] === 0x0a || (bytes[0] === 0x0d && bytes[1] === 0x0a)) return 0;
  return bytes.length;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Header bytes as text: UTF-8 when they are valid UTF-8 (RFC 6532), else Latin-1 so every byte shows. */
function headerText(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

function decodeValue(raw: string): string {
  const value = raw.replace(/\s+/g, ' ').trim();
  // Only an encoded-word (RFC 2047 §2: "=?charset?encoding?text?=") needs decoding.
  if (!value.includes('=?')) return value;
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/** The fields the inbox shows, by lower-case name. */
const SUMMARY_FIELDS = new Map<string, keyof SummaryHeaders>([
  ['from', 'from'],
  ['to', 'to'],
  ['subject', 'subject'],
  ['date', 'date'],
]);

/** Reads From, To, Subject and Date from the start of a message (the first occurrence of each). */
export function parseSummaryHeaders(message: Buffer): SummaryHeaders {
  const head = message.subarray(0, Math.min(message.length, HEADER_SCAN_LIMIT));
  const text = headerText(head.subarray(0, headerSectionEnd(head)));
  // Unfolding (RFC 5322 §2.2.3): a line break followed by white space continues the field.
  const unfolded = text.replace(/\r?\n(?=[ \t])/g, '');
  const out: SummaryHeaders = {};
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = SUMMARY_FIELDS.get(line.slice(0, colon).trim().toLowerCase());
    if (key === undefined || out[key] !== undefined) continue;
    out[key] = decodeValue(line.slice(colon + 1));
  }
  return out;
}
