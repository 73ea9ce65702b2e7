/**
 * Parses the values of Content-Type and Content-Disposition: a media type (or disposition type) and
 * parameters (RFC 2045 §5.1, RFC 2183 §2), including the RFC 2231 extensions — charset and language
 * (`name*=utf-8'en'…`) and continuations (`name*0=`, `name*1*=`).
 */
import { OffsetRange } from '../../../common/problem';
import { isKnownCharset } from './facts/charsets';
import { ProblemSink } from './problems';
import { findEncodedWord, isFws, skipCfws } from './structured';

export interface MimeParam {
  /** The parameter name, lower-cased, without RFC 2231 section or `*` markers. */
  name: string;
  /** The value after unquoting, joining continuations and decoding RFC 2231 percent-escapes. */
  value: string;
  /** From the start of the first attribute to the end of the last value of this parameter. */
  range: OffsetRange;
  /** The range of the (first) value. */
  valueRange: OffsetRange;
  charset?: string;
  language?: string;
  /** True when the value came from RFC 2231 extended or continued sections. */
  extended: boolean;
}

export interface MimeValue {
  /** Lower-cased type, e.g. `multipart`, or the disposition type; empty when it did not parse. */
  type: string;
  subtype: string;
  typeRange: OffsetRange;
  params: Map<string, MimeParam>;
  valid: boolean;
}

/** tspecials of RFC 2045 §5.1. */
function isTokenChar(c: number): boolean {
  if (c <= 32 || c >= 127) return false;
  // ( ) < > @ , ; : \ " / [ ] ? =
  return !(c === 40 || c === 41 || c === 60 || c === 62 || c === 64 || c === 44 || c === 59 || c === 58 || c === 92 || c === 34 || c === 47 || c === 91 || c === 93 || c === 63 || c === 61);
}

function readToken(text: string, pos: number, end: number): number {
  let i = pos;
  while (i < end && isTokenChar(text.charCodeAt(i))) i++;
  return i;
}

/** Returns the end of a quoted string starting at `pos`, or -1 when it is not closed. */
function readQuoted(text: string, pos: number, end: number): number {
  for (let i = pos + 1; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i + 1;
  }
  return -1;
}

/** Removes the quotes, quoted-pair backslashes and folding line breaks of a quoted string. */
function unquote(raw: string): string {
  let out = '';
  const inner = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i];
    if (ch === '\\' && i + 1 < inner.length) out += inner[++i];
    else if (ch === '\r' || ch === '\n') continue;
    else out += ch;
  }
  return out;
}

interface RawParam {
  attribute: string;
  base: string;
  section: number | undefined;
  sectionText: string | undefined;
  extended: boolean;
  raw: string;
  quoted: boolean;
  range: OffsetRange;
  valueRange: OffsetRange;
}

/** Decodes percent-escapes of an RFC 2231 value in a charset; returns undefined on a bad escape. */
/** The octets of an RFC 2231 extended value (`%XX` escapes), or undefined when an escape is bad. */
function percentBytes(value: string): number[] | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 37) {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(c & 0xff);
  }
  return bytes;
}

/** Decodes bytes in a charset with the platform decoders, falling back to Latin-1. */
export function decodeBytes(bytes: Uint8Array, charset: string): string {
  try {
    return new TextDecoder(charset || 'utf-8').decode(bytes);
  } catch {
    return Buffer.from(bytes).toString('latin1');
  }
}

/**
 * Parses a Content-Type (`mode` 'content-type') or Content-Disposition ('disposition') value in
 * `text[start, end)`. Problems go to `sink`; the parse never throws.
 */
export function parseMimeValue(text: string, start: number, end: number, sink: ProblemSink, mode: 'content-type' | 'disposition'): MimeValue {
  const result: MimeValue = { type: '', subtype: '', typeRange: { start, end: start }, params: new Map(), valid: false };
  const syntaxCode = mode === 'content-type' ? 'eml-content-type-syntax' : 'eml-param-syntax';
  let pos = skipCfws(text, start, end);
  const typeEnd = readToken(text, pos, end);
  if (typeEnd === pos) {
    sink.add(syntaxCode, { start: pos, end: Math.max(end, pos + 1) }, mode === 'content-type' ? 'Expected a media type such as `text/plain` (RFC 2045 §5.1).' : 'Expected a disposition type such as `inline` or `attachment` (RFC 2183 §2).');
    return result;
  }
  const type = text.slice(pos, typeEnd).toLowerCase();
  let subtype = '';
  let typeRangeEnd = typeEnd;
  if (mode === 'content-type') {
    const slash = skipCfws(text, typeEnd, end);
    if (text.charCodeAt(slash) !== 47) {
      sink.add(syntaxCode, { start: pos, end: typeEnd }, `Expected \`/\` and a subtype after \`${type}\` (RFC 2045 §5.1).`);
      return result;
    }
    const subStart = skipCfws(text, slash + 1, end);
    const subEnd = readToken(text, subStart, end);
    if (subEnd === subStart) {
      sink.add(syntaxCode, { start: pos, end: Math.max(subStart + 1, slash + 1) }, 'Expected a subtype after `/` (RFC 2045 §5.1).');
      return result;
    }
    subtype = text.slice(subStart, subEnd).toLowerCase();
    typeRangeEnd = subEnd;
  }
  result.type = type;
  result.subtype = subtype;
  result.typeRange = { start: pos, end: typeRangeEnd };
  result.valid = true;
  pos = typeRangeEnd;

  const raws: RawParam[] = [];
  while (pos < end) {
    pos = skipCfws(text, pos, end);
    if (pos >= end) break;
    if (text.charCodeAt(pos) !== 59) {
      const next = nextSemicolon(text, pos, end);
      sink.add('eml-param-syntax', { start: pos, end: next }, 'Expected `;` before the next parameter (RFC 2045 §5.1).');
      pos = next;
      continue;
    }
    pos = skipCfws(text, pos + 1, end);
    // A trailing `;` is tolerated: many mail programs write one and readers accept it.
    if (pos >= end) break;
    const attrStart = pos;
    const attrEnd = readAttribute(text, pos, end);
    if (attrEnd === attrStart) {
      const next = nextSemicolon(text, pos, end);
      sink.add('eml-param-syntax', { start: pos, end: Math.max(next, pos + 1) }, 'Expected a parameter name (RFC 2045 §5.1).');
      pos = next;
      continue;
    }
    const eq = skipCfws(text, attrEnd, end);
    if (text.charCodeAt(eq) !== 61) {
      const next = nextSemicolon(text, attrEnd, end);
      sink.add('eml-param-syntax', { start: attrStart, end: Math.max(next, attrEnd) }, `Parameter \`${text.slice(attrStart, attrEnd)}\` has no \`=value\` (RFC 2045 §5.1).`);
      pos = next;
      continue;
    }
    const valueStart = skipCfws(text, eq + 1, end);
    let valueEnd: number;
    let quoted = false;
    if (text.charCodeAt(valueStart) === 34) {
      valueEnd = readQuoted(text, valueStart, end);
      quoted = true;
      if (valueEnd === -1) {
        sink.add('eml-param-syntax', { start: valueStart, end }, 'This quoted parameter value is never closed with `"` (RFC 2045 §5.1).');
        valueEnd = end;
      }
    } else {
      valueEnd = readToken(text, valueStart, end);
      const after = skipCfws(text, valueEnd, end);
      if (valueEnd === valueStart || (after < end && text.charCodeAt(after) !== 59)) {
        // A value with spaces or tspecials must be quoted (RFC 2045 §5.1); keep it up to the next `;`.
        const next = nextSemicolon(text, valueStart, end);
        let trimmed = next;
        while (trimmed > valueStart && isFws(text.charCodeAt(trimmed - 1))) trimmed--;
        sink.add('eml-param-syntax', { start: valueStart, end: Math.max(trimmed, valueStart + 1) }, valueEnd === valueStart ? 'Expected a parameter value (RFC 2045 §5.1).' : 'A parameter value with spaces or special characters must be quoted (RFC 2045 §5.1).');
        valueEnd = trimmed;
      }
    }
    const attribute = text.slice(attrStart, attrEnd).toLowerCase();
    const m = /^(.*?)(?:\*(\d+))?(\*)?$/.exec(attribute);
    const base = m && m[1] ? m[1] : attribute;
    const sectionText = m && m[1] ? m[2] : undefined;
    raws.push({
      attribute,
      base,
      section: sectionText !== undefined ? Number(sectionText) : undefined,
      sectionText,
      extended: !!(m && m[1] && m[3]),
      raw: text.slice(valueStart, valueEnd),
      quoted,
      range: { start: attrStart, end: valueEnd },
      valueRange: { start: valueStart, end: valueEnd },
    });
    pos = valueEnd;
  }
  assemble(raws, result, sink);
  return result;
}

/** Reads an attribute; `*` is a token character, which is what RFC 2231 relies on. */
function readAttribute(text: string, pos: number, end: number): number {
  return readToken(text, pos, end);
}

function nextSemicolon(text: string, pos: number, end: number): number {
  let i = pos;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 59) return i;
    if (c === 34) {
      const close = readQuoted(text, i, end);
      if (close === -1) return end;
      i = close;
    } else i++;
  }
  return end;
}

/** Joins RFC 2231 sections (§3), decodes extended values (§4) and reports duplicates and gaps. */
function assemble(raws: RawParam[], result: MimeValue, sink: ProblemSink): void {
  const seen = new Set<string>();
  const groups = new Map<string, RawParam[]>();
  const simple = new Map<string, RawParam>();
  for (const raw of raws) {
    if (seen.has(raw.attribute)) {
      sink.add('eml-param-duplicate', raw.range, `Parameter \`${raw.attribute}\` is given more than once (RFC 2231 §7).`);
      continue;
    }
    seen.add(raw.attribute);
    if (raw.section === undefined && !raw.extended) {
      simple.set(raw.base, raw);
    } else {
      const list = groups.get(raw.base) ?? [];
      list.push(raw);
      groups.set(raw.base, list);
    }
  }
  for (const [name, raw] of simple) {
    const value = raw.quoted ? unquote(raw.raw) : raw.raw;
    if (findEncodedWord(raw.raw, 0, raw.raw.length) !== -1) {
      sink.add('eml-ew-in-parameter', raw.valueRange, `Encoded words are not decoded in parameter values (RFC 2047 §5); RFC 2231 writes \`${name}*=utf-8''…\`. Most readers decode them anyway.`);
    }
    result.params.set(name, { name, value, range: raw.range, valueRange: raw.valueRange, extended: false });
  }
  for (const [name, list] of groups) {
    list.sort((a, b) => (a.section ?? 0) - (b.section ?? 0));
    const hasSections = list.some((r) => r.section !== undefined);
    if (hasSections) {
      for (let i = 0; i < list.length; i++) {
        const r = list[i];
        if (r.section !== i || (r.sectionText !== undefined && r.sectionText.length > 1 && r.sectionText.startsWith('0'))) {
          sink.add('eml-rfc2231-continuation', r.range, `Continuation \`${r.attribute}\` comes where section ${i} is expected: sections must run 0, 1, 2, … without gaps or leading zeros (RFC 2231 §3, §7).`);
          break;
        }
      }
      if (list.length > 0 && list[0].section === undefined) {
        sink.add('eml-rfc2231-continuation', list[0].range, `\`${list[0].attribute}\` mixes an unnumbered extended value with numbered continuations (RFC 2231 §3).`);
      }
    }
    let charset = '';
    let language: string | undefined;
    let value = '';
    // Consecutive extended sections are one octet string: a character may be split across them
    // (RFC 2231 §4.1), so their octets are decoded together in the charset.
    let pending: number[] = [];
    const flush = (): void => {
      if (pending.length > 0) value += decodeBytes(Uint8Array.from(pending), charset || 'us-ascii');
      pending = [];
    };
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      let raw = r.raw;
      if (r.extended) {
        if (r.quoted) {
          sink.add('eml-rfc2231-syntax', r.valueRange, 'An RFC 2231 extended value must not be quoted (RFC 2231 §7).');
          raw = unquote(raw);
        }
        if (i === 0) {
          const first = raw.indexOf("'");
          const second = first === -1 ? -1 : raw.indexOf("'", first + 1);
          if (second === -1) {
            sink.add('eml-rfc2231-syntax', r.valueRange, "The first section of an RFC 2231 extended value must start with `charset'language'` (RFC 2231 §4).");
          } else {
            charset = raw.slice(0, first);
            language = raw.slice(first + 1, second) || undefined;
            raw = raw.slice(second + 1);
            if (charset !== '' && !isKnownCharset(charset)) {
              sink.add('eml-charset-unknown', { start: r.valueRange.start, end: r.valueRange.start + first + (r.quoted ? 1 : 0) }, `Charset \`${charset}\` is not registered with IANA (RFC 2231 §4).`);
            }
          }
        }
        const octets = percentBytes(raw);
        if (octets === undefined) {
          sink.add('eml-rfc2231-syntax', r.valueRange, 'A `%` in an RFC 2231 extended value must be followed by two hex digits (RFC 2231 §7).');
          flush();
          value += raw;
        } else for (const octet of octets) pending.push(octet);
      } else {
        flush();
        value += r.quoted ? unquote(raw) : raw;
      }
    }
    flush();
    const first = list[0];
    const last = list[list.length - 1];
    result.params.set(name, { name, value, range: { start: first.range.start, end: last.range.end }, valueRange: first.valueRange, charset: charset || undefined, language, extended: true });
  }
}
