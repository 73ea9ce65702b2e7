/**
 * Derives an SMTP envelope (RFC 5321 §3.3: MAIL FROM and RCPT TO) from a message's header fields,
 * for "Send .eml". The reverse-path comes from Return-Path, then Sender, then the first From
 * address (RFC 5322 §3.6.2); the recipients are every address in To, Cc and Bcc (RFC 5322 §3.6.3),
 * without duplicates. Resent-* fields, when present, take precedence (RFC 5322 §3.6.6).
 */
import addressparser from 'nodemailer/lib/addressparser';
import { parseHeaderFields, type RawHeaderField } from '../mailAuth/headers';

export interface DerivedEnvelope {
  /** The reverse-path; undefined when no field gives one ('' would be the null path). */
  mailFrom?: string;
  /** Where mailFrom came from. */
  mailFromSource?: string;
  recipients: string[];
  /** Whether Resent-* fields were used. */
  resent: boolean;
}

/** Parses an address-list (RFC 5322 §3.4), groups flattened, and keeps the addr-specs. */
function addresses(value: string): string[] {
  return addressparser(value, { flatten: true })
    .map((a) => a.address.trim())
    .filter((a) => a.includes('@'));
}

function values(fields: RawHeaderField[], name: string): string[] {
  const lower = name.toLowerCase();
  return fields.filter((f) => f.name.toLowerCase() === lower).map((f) => f.value);
}

/** Derives the envelope from the raw message's header section. */
export function envelopeFromHeaders(raw: Buffer): DerivedEnvelope {
  const fields = parseHeaderFields(raw);
  const resent = fields.some((f) => /^resent-(to|cc|bcc)$/i.test(f.name));
  const prefix = resent ? 'Resent-' : '';
  const recipients: string[] = [];
  const seen = new Set<string>();
  for (const name of ['To', 'Cc', 'Bcc']) {
    for (const value of values(fields, `${prefix}${name}`)) {
      for (const address of addresses(value)) {
        const key = address.toLowerCase();
        if (!seen.has(key)) {
          seen.add(key);
          recipients.push(address);
        }
      }
    }
  }
  const result: DerivedEnvelope = { recipients, resent };
  // A message being resent goes out from its resender, not to the original sender's bounce
  // address (RFC 5322 §3.6.6), so Return-Path counts only for a first sending.
  const returnPath = resent ? undefined : values(fields, 'Return-Path')[0];
  if (returnPath !== undefined) {
    const m = /<([^>]*)>/.exec(returnPath);
    result.mailFrom = (m ? m[1] : returnPath).trim();
    result.mailFromSource = 'Return-Path';
    return result;
  }
  for (const name of [`${prefix}Sender`, `${prefix}From`]) {
    const first = values(fields, name).flatMap(addresses)[0];
    if (first !== undefined) {
      result.mailFrom = first;
      result.mailFromSource = name;
      return result;
    }
  }
  return result;
}

/** Checks an address for MAIL FROM / RCPT TO: a local part, "@" and a domain, no spaces or brackets. */
export function isPlausibleAddress(text: string): boolean {
  return /^[^\s<>@]+@[^\s<>@]+$/.test(text);
}

/**
 * Removes the Bcc and Resent-Bcc fields from a message before it is sent (RFC 5322 §3.6.3: their
 * recipients get the message through the envelope, and the fields must not reveal them to the
 * others). Folded continuation lines go with it; every other byte stays as it was.
 */
export function withoutBcc(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  // The header section with the line break of its last field; the blank line starts the rest.
  const end = /\r?\n(\r?\n)/.exec(text);
  const headerEnd = end ? end.index + end[0].length - end[1].length : text.length;
  const lines = text.slice(0, headerEnd).split(/(?<=\n)/);
  const kept: string[] = [];
  let dropping = false;
  let removed = false;
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      if (!dropping) kept.push(line);
      continue;
    }
    dropping = /^(resent-)?bcc[ \t]*:/i.test(line);
    if (dropping) removed = true;
    else kept.push(line);
  }
  if (!removed) return raw;
  return Buffer.from(kept.join('') + text.slice(headerEnd), 'latin1');
}
