/**
 * Checks authentication header fields: DKIM-Signature tag lists (RFC 6376 §3.2, §3.5),
 * Authentication-Results (RFC 8601 §2.2) and ARC sets (RFC 8617 §4).
 */
import { OffsetRange } from '../../../common/problem';
import { parseTagList as parseTagListAt } from '../../../common/tagList';
import { arMethod, DKIM_TAGS } from './facts/authTags';
import { HeaderField } from './parser';
import { ProblemSink } from './problems';
import { indexOfWithin, skipComment } from './structured';

export interface Tag {
  name: string;
  /** The value with folding white space removed. */
  value: string;
  range: OffsetRange;
  nameRange: OffsetRange;
  valueRange: OffsetRange;
}

/**
 * Parses a tag list `tag=value; tag=value` (RFC 6376 §3.2) in `text[start, end)`. Reports syntax
 * errors with `syntaxCode` when a sink is given.
 */
export function parseTagList(text: string, start: number, end: number, sink?: ProblemSink, syntaxCode = 'eml-dkim-syntax'): Tag[] {
  const list = parseTagListAt(text, { start, end });
  for (const error of list.errors) {
    if (error.kind === 'not-a-tag') sink?.add(syntaxCode, error.range, 'Expected `tag=value` (RFC 6376 §3.2).');
    else if (error.kind === 'bad-name') {
      const name = list.tags.find((t) => t.range.start === error.range.start)?.name ?? '';
      sink?.add(syntaxCode, error.range, `\`${name}\` is not a tag name: a letter followed by letters, digits or \`_\` (RFC 6376 §3.2).`);
    }
  }
  return list.tags
    .filter((t) => t.validName)
    .map((t) => ({ name: t.name, value: t.value.replace(/[ \t\r\n]+/g, ''), range: t.range, nameRange: t.nameRange, valueRange: t.valueRange }));
}

function isBase64(value: string): boolean {
  return value.length > 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(value) && value.length % 4 === 0;
}

const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** Checks tags shared by DKIM-Signature and ARC-Message-Signature. */
function checkSignatureTags(field: HeaderField, tags: Tag[], sink: ProblemSink, label: string, required: readonly string[]): Map<string, Tag> {
  const byName = new Map<string, Tag>();
  for (const tag of tags) {
    if (byName.has(tag.name)) {
      sink.add('eml-dkim-tag-duplicate', tag.range, `Tag \`${tag.name}=\` occurs twice; a tag list with duplicate tags is invalid as a whole (RFC 6376 §3.2).`);
    } else byName.set(tag.name, tag);
  }
  const missing = required.filter((t) => !byName.has(t));
  if (missing.length > 0) {
    sink.add('eml-dkim-tag-missing', field.nameRange, `${label} lacks the required tag${missing.length > 1 ? 's' : ''} ${missing.map((t) => `\`${t}=\``).join(', ')} (RFC 6376 §3.5).`);
  }
  const a = byName.get('a');
  if (a) {
    if (a.value === 'rsa-sha1') {
      sink.add('eml-dkim-sha1', a.valueRange, 'rsa-sha1 signatures must not be considered valid by verifiers (RFC 8301 §3.1); sign with rsa-sha256 or ed25519-sha256.');
    } else if (!['rsa-sha256', 'ed25519-sha256'].includes(a.value)) {
      sink.add('eml-dkim-tag-value', a.valueRange, `\`${a.value}\` is not a DKIM signing algorithm; use rsa-sha256 or ed25519-sha256 (RFC 6376 §3.5, RFC 8463).`);
    }
  }
  for (const name of ['b', 'bh']) {
    const tag = byName.get(name);
    if (tag && !isBase64(tag.value)) {
      sink.add('eml-dkim-base64', tag.valueRange, tag.value === '' ? `\`${name}=\` is empty: the message was not signed, or the signature was removed (RFC 6376 §3.5).` : `\`${name}=\` must be base64 (letters, digits, +, / and = padding, length a multiple of 4) (RFC 6376 §3.5).`);
    }
  }
  const h = byName.get('h');
  if (h) {
    const names = h.value.split(':').map((n) => n.toLowerCase());
    if (!names.includes('from')) {
      sink.add('eml-dkim-h-from', h.valueRange, 'The signed header fields (h=) must include From (RFC 6376 §5.4).');
    }
    if (names.some((n) => n === '' || !/^[\x21-\x39\x3b-\x7e]+$/.test(n))) {
      sink.add('eml-dkim-tag-value', h.valueRange, '`h=` is a colon-separated list of field names (RFC 6376 §3.5).');
    }
  }
  const d = byName.get('d');
  if (d && !DOMAIN.test(d.value)) {
    sink.add('eml-dkim-tag-value', d.valueRange, `\`${d.value}\` is not a domain name (RFC 6376 §3.5).`);
  }
  const c = byName.get('c');
  if (c && !/^(simple|relaxed)(\/(simple|relaxed))?$/i.test(c.value)) {
    sink.add('eml-dkim-tag-value', c.valueRange, '`c=` is `simple` or `relaxed`, optionally followed by `/simple` or `/relaxed` for the body (RFC 6376 §3.5).');
  }
  const q = byName.get('q');
  // dns/txt is an ABNF literal, so matched case-insensitively (RFC 5234 §2.3); other methods are ignored.
  if (q && !q.value.split(':').some((m) => m.trim().toLowerCase() === 'dns/txt')) {
    sink.add('eml-dkim-tag-value', q.valueRange, 'The only query method defined is `dns/txt` (RFC 6376 §3.5).');
  }
  const t = byName.get('t');
  const x = byName.get('x');
  // RFC 6376 §3.5: t= and x= are 1*12DIGIT, l= is 1*76DIGIT (the same rule `smtpwb verify` applies).
  for (const tag of [t, x]) {
    if (tag && !/^\d{1,12}$/.test(tag.value)) sink.add('eml-dkim-tag-value', tag.valueRange, `\`${tag.name}=\` must be a decimal number of 1 to 12 digits (RFC 6376 §3.5).`);
  }
  const l = byName.get('l');
  if (l && !/^\d{1,76}$/.test(l.value)) sink.add('eml-dkim-tag-value', l.valueRange, '`l=` must be a decimal number of 1 to 76 digits (RFC 6376 §3.5).');
  if (t && x && /^\d+$/.test(t.value) && /^\d+$/.test(x.value) && Number(x.value) <= Number(t.value)) {
    sink.add('eml-dkim-tag-value', x.valueRange, 'The expiration (x=) must be later than the signing time (t=) (RFC 6376 §3.5).');
  }
  return byName;
}

/** Checks a DKIM-Signature field (RFC 6376 §3.5). */
export function checkDkimSignature(text: string, field: HeaderField, sink: ProblemSink): void {
  const tags = parseTagList(text, field.valueRange.start, field.valueRange.end, sink);
  const byName = checkSignatureTags(field, tags, sink, 'DKIM-Signature', DKIM_TAGS.filter((t) => t.required).map((t) => t.tag));
  const v = byName.get('v');
  if (v && v.value !== '1') sink.add('eml-dkim-tag-value', v.valueRange, '`v=` must be `1` (RFC 6376 §3.5).');
  const l = byName.get('l');
  if (l) {
    sink.add('eml-dkim-length', l.range, 'With `l=` only the first part of the body is signed: anyone can append content and the signature still verifies (RFC 6376 §8.2).', {
      fixes: [{ title: 'Remove the l= tag (re-sign the message)', edits: [{ range: { start: l.range.start, end: Math.min(field.valueRange.end, text.charCodeAt(l.range.end) === 59 ? l.range.end + 1 : l.range.end) }, newText: '' }] }],
    });
  }
  const d = byName.get('d');
  const i = byName.get('i');
  if (d && i) {
    const at = i.value.lastIndexOf('@');
    const domain = (at === -1 ? i.value : i.value.slice(at + 1)).toLowerCase();
    const dd = d.value.toLowerCase();
    if (at === -1) {
      sink.add('eml-dkim-tag-value', i.valueRange, `\`i=\` has no @: it is [local-part]@domain (RFC 6376 §3.5).`);
    } else if (domain !== dd && !domain.endsWith(`.${dd}`)) {
      sink.add('eml-dkim-tag-value', i.valueRange, `The domain of i= must be d= (${d.value}) or a subdomain of it (RFC 6376 §3.5).`);
    }
  }
}

/**
 * Replaces comments by spaces and the insides of quoted strings by `x`, keeping offsets, so the RFC
 * 8601 grammar can be matched with simple patterns: no alternation has to be repeated, which could
 * exhaust the regular-expression stack on hostile input.
 */
function blankComments(text: string, start: number, end: number): string {
  let out = '';
  let i = start;
  let last = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const open = i;
      i++;
      while (i < end && text.charCodeAt(i) !== 34) i += text.charCodeAt(i) === 92 ? 2 : 1;
      const close = Math.min(i, end);
      out += text.slice(last, open + 1) + 'x'.repeat(Math.max(0, close - open - 1));
      last = close;
      i++;
    } else if (c === 40) {
      const after = skipComment(text, i, end);
      const stop = after === -1 ? end : after;
      out += text.slice(last, i) + ' '.repeat(stop - i);
      last = stop;
      i = stop;
    } else i++;
  }
  return out + text.slice(last, Math.min(end, Math.max(last, end)));
}

/** Splits at `;` outside quoted strings; returns segment ranges relative to the blanked string. */
function splitSemicolons(s: string): OffsetRange[] {
  const out: OffsetRange[] = [];
  let segStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34) {
      i++;
      while (i < s.length && s.charCodeAt(i) !== 34) i += s.charCodeAt(i) === 92 ? 2 : 1;
    } else if (c === 59) {
      out.push({ start: segStart, end: i });
      segStart = i + 1;
    }
  }
  out.push({ start: segStart, end: s.length });
  return out;
}

export interface AuthResult {
  method: string;
  methodRange: OffsetRange;
  result: string;
  resultRange: OffsetRange;
  properties: Array<{ name: string; range: OffsetRange }>;
}

const VALUE = String.raw`(?:"[^"]*"|[^\s;"]+)`;
const RESINFO = new RegExp(String.raw`^(\s*)([A-Za-z0-9][A-Za-z0-9_-]*)(\s*(?:\/\s*\d+\s*)?=\s*)([A-Za-z0-9][A-Za-z0-9_-]*)`);
const REASON = new RegExp(String.raw`^\s+reason\s*=\s*${VALUE}`, 'i');
const PROP = new RegExp(String.raw`^(\s+)([A-Za-z0-9][A-Za-z0-9_-]*\s*\.\s*[A-Za-z0-9][A-Za-z0-9_.-]*)\s*=\s*${VALUE}`);

/**
 * Parses an Authentication-Results value (RFC 8601 §2.2) starting at `start`. `instance` is true for
 * ARC-Authentication-Results, whose value begins with `i=N;` (RFC 8617 §4.1.1).
 */
export function parseAuthResults(text: string, start: number, end: number, sink?: ProblemSink, instance = false): AuthResult[] {
  const blanked = blankComments(text, start, end);
  const segments = splitSemicolons(blanked);
  const results: AuthResult[] = [];
  let first = 0;
  if (instance) first = 1;
  const idSeg = segments[first];
  if (!idSeg) return results;
  const idText = blanked.slice(idSeg.start, idSeg.end);
  let rest = segments.slice(first + 1);
  if (RESINFO.test(idText) && /=/.test(idText)) {
    // Microsoft 365 writes results without the authserv-id; report it and read the results anyway.
    sink?.add('eml-ar-syntax', trimmed(start + idSeg.start, idText), 'Authentication-Results must start with the authserv-id of the server that made the checks (RFC 8601 §2.2); without it, readers cannot tell whose results these are.');
    rest = segments.slice(first);
  } else if (!/^\s*(?:"[^"]*"|[^\s";]+)(?:\s+\d+)?\s*$/.test(idText)) {
    sink?.add('eml-ar-syntax', { start: start + idSeg.start, end: start + Math.max(idSeg.end, idSeg.start + 1) }, 'Authentication-Results starts with the authserv-id of the server that made the checks, then `;` and the results (RFC 8601 §2.2).');
    return results;
  }
  if (rest.length === 0) {
    sink?.add('eml-ar-syntax', { start: start + idSeg.start, end: start + idSeg.end }, 'Authentication-Results needs at least one result, or `; none` (RFC 8601 §2.2).');
  }
  if (rest.length === 1 && /^\s*none\s*$/i.test(blanked.slice(rest[0].start, rest[0].end))) return results;
  for (const seg of rest) {
    const s = blanked.slice(seg.start, seg.end);
    if (/^\s*$/.test(s)) continue;
    const m = RESINFO.exec(s);
    if (!m) {
      sink?.add('eml-ar-syntax', trimmed(start + seg.start, s), 'Expected `method=result` (RFC 8601 §2.2).');
      continue;
    }
    const methodStart = start + seg.start + m[1].length;
    const resultStart = methodStart + m[2].length + m[3].length;
    const ar: AuthResult = { method: m[2].toLowerCase(), methodRange: { start: methodStart, end: methodStart + m[2].length }, result: m[4].toLowerCase(), resultRange: { start: resultStart, end: resultStart + m[4].length }, properties: [] };
    results.push(ar);
    let pos = m[0].length;
    const reason = REASON.exec(s.slice(pos));
    if (reason) pos += reason[0].length;
    for (;;) {
      const p = PROP.exec(s.slice(pos));
      if (!p) break;
      const ps = start + seg.start + pos + p[1].length;
      ar.properties.push({ name: p[2].replace(/\s+/g, ''), range: { start: ps, end: ps + p[2].length } });
      pos += p[0].length;
    }
    if (!/^\s*$/.test(s.slice(pos))) {
      sink?.add('eml-ar-syntax', trimmed(start + seg.start + pos, s.slice(pos)), 'Expected `reason=…` or `ptype.property=value` after the result (RFC 8601 §2.2).');
    }
    const fact = arMethod(ar.method);
    if (!fact) {
      sink?.add('eml-ar-method-unknown', ar.methodRange, `\`${ar.method}\` is not a registered authentication method (RFC 8601 §2.7, IANA Email Authentication Methods).`);
    } else if (!fact.results.includes(ar.result)) {
      sink?.add('eml-ar-result-invalid', ar.resultRange, `\`${ar.result}\` is not a result of ${ar.method}; it may be ${fact.results.join(', ')} (RFC 8601 §2.7).`);
    }
  }
  return results;
}

function trimmed(offset: number, s: string): OffsetRange {
  const lead = s.length - s.trimStart().length;
  const body = s.trim();
  return { start: offset + lead, end: offset + lead + Math.max(1, body.length) };
}

interface ArcSet {
  seal?: HeaderField;
  signature?: HeaderField;
  results?: HeaderField;
  cv?: Tag;
}

/** Reads the instance number `i=N` of an ARC field. */
function arcInstance(text: string, field: HeaderField, sink: ProblemSink): { value: number; tags: Tag[] } | undefined {
  const tags = field.lname === 'arc-authentication-results' ? parseTagList(text, field.valueRange.start, Math.min(field.valueRange.end, nextSemicolonOrEnd(text, field.valueRange)), undefined) : parseTagList(text, field.valueRange.start, field.valueRange.end, sink);
  const i = tags.find((t) => t.name === 'i');
  if (!i) {
    sink.add('eml-arc-instance', field.nameRange, `${field.name} has no instance tag \`i=\` (RFC 8617 §4.2.1).`);
    return undefined;
  }
  if (!/^\d{1,2}$/.test(i.value) || Number(i.value) < 1 || Number(i.value) > 50) {
    sink.add('eml-arc-instance', i.valueRange, 'The ARC instance must be a number from 1 to 50 (RFC 8617 §4.2.1).');
    return undefined;
  }
  return { value: Number(i.value), tags };
}

function nextSemicolonOrEnd(text: string, range: OffsetRange): number {
  const at = indexOfWithin(text, ';', range.start, range.end);
  return at === -1 ? range.end : at;
}

/** Checks the ARC fields of a header section: complete, numbered sets with consistent cv= (RFC 8617 §4). */
export function checkArc(text: string, headers: HeaderField[], sink: ProblemSink): void {
  const sets = new Map<number, ArcSet>();
  for (const field of headers) {
    const key = field.lname === 'arc-seal' ? 'seal' : field.lname === 'arc-message-signature' ? 'signature' : field.lname === 'arc-authentication-results' ? 'results' : undefined;
    if (!key) continue;
    const instance = arcInstance(text, field, sink);
    if (field.lname === 'arc-authentication-results') parseAuthResults(text, field.valueRange.start, field.valueRange.end, sink, true);
    if (!instance) continue;
    const set = sets.get(instance.value) ?? {};
    if (set[key]) {
      sink.add('eml-arc-instance', field.nameRange, `There are two ${field.name} fields with i=${instance.value} (RFC 8617 §4.2.1).`);
      continue;
    }
    set[key] = field;
    if (key === 'seal') set.cv = instance.tags.find((t) => t.name === 'cv');
    sets.set(instance.value, set);
  }
  if (sets.size === 0) return;
  const max = Math.max(...sets.keys());
  for (let n = 1; n <= max; n++) {
    const set = sets.get(n);
    if (!set) {
      const later = sets.get(Math.min(...[...sets.keys()].filter((k) => k > n)));
      const anchor = later?.seal ?? later?.signature ?? later?.results;
      if (anchor) sink.add('eml-arc-instance', anchor.nameRange, `ARC instance ${n} is missing: instances must run from 1 without gaps (RFC 8617 §4.2.1).`);
      continue;
    }
    const missing = [!set.seal && 'ARC-Seal', !set.signature && 'ARC-Message-Signature', !set.results && 'ARC-Authentication-Results'].filter((x): x is string => typeof x === 'string');
    const anchor = set.seal ?? set.signature ?? set.results;
    if (missing.length > 0 && anchor) {
      sink.add('eml-arc-incomplete', anchor.nameRange, `ARC set i=${n} lacks ${missing.join(' and ')} (RFC 8617 §4.1).`);
    }
    if (set.seal) {
      const cv = set.cv?.value.toLowerCase();
      if (!set.cv) sink.add('eml-arc-cv', set.seal.nameRange, 'ARC-Seal needs a cv= tag (RFC 8617 §4.1.3).');
      else if (n === 1 && cv !== 'none') sink.add('eml-arc-cv', set.cv.valueRange, 'The first ARC-Seal (i=1) must have cv=none (RFC 8617 §4.1.3, §5.2).');
      else if (n > 1 && cv === 'none') sink.add('eml-arc-cv', set.cv.valueRange, `ARC-Seal i=${n} must have cv=pass or cv=fail; cv=none is only for i=1 (RFC 8617 §4.1.3, §5.2).`);
      else if (cv !== 'none' && cv !== 'pass' && cv !== 'fail') sink.add('eml-arc-cv', set.cv.valueRange, 'cv= is none, pass or fail (RFC 8617 §4.1.3).');
    }
  }
}
