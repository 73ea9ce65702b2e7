/**
 * Editor features of the `.eml` language service, all pure functions over the document text with
 * offsets: the outline (symbols), folding ranges and hovers. Every piece of the message that a hover
 * shows (names, values, decoded words, parameters, tags, body text) is data and reaches Markdown only
 * through `common/escape.ts`: prose through `escapeMarkdownData`, exact values through
 * `markdownCodeSpan`, table cells through `markdownTableCell` and body previews inside a
 * `markdownFence`.
 */
import { escapeMarkdownData, markdownCodeSpan, markdownFence, markdownTableCell, visibleText } from '../../../common/escape';
import { OffsetRange, rfcLink } from '../../../common/problem';
import { formatReference } from '../facts/rfc';
import { parseAuthResults, parseTagList, Tag } from './authHeaders';
import { DateTimeValue, formatOffset, parseDateTime } from './dateTime';
import { decodeEncodedWord, decodeHeaderValue, findEncodedWords } from './encodedWords';
import { AR_RESULTS, arcTag, arMethod, dkimTag } from './facts/authTags';
import { headerFact } from './facts/headers';
import { receivedDateStart } from './lint';
import { decodeBytes, parseMimeValue } from './mimeParams';
import { noteInternalError, ProblemSink } from './problems';
import { HeaderField, MimePart, parseMessage, ParsedMessage } from './parser';
import { indexOfWithin, skipComment } from './structured';

export interface EmlSymbol {
  name: string;
  detail: string;
  kind: 'header' | 'part' | 'body';
  range: OffsetRange;
  selectionRange: OffsetRange;
  children: EmlSymbol[];
}

/** A folding range in offsets: `start` is the start of the first line, `end` the end of the last line's text. */
export interface EmlFoldingRange {
  start: number;
  end: number;
  kind: 'header' | 'headers' | 'part' | 'body';
}

export interface EmlHover {
  markdown: string;
  range: OffsetRange;
}

export interface HoverOptions {
  /** The IANA time zone in which dates are also shown (default: the process's zone). */
  timeZone?: string;
}

let cache: { text: string; parsed: ParsedMessage } | undefined;

/** Parses with a one-entry cache, so an editor asking for symbols, folding and hovers parses once. */
function parseCached(text: string): ParsedMessage {
  if (cache && cache.text === text) return cache.parsed;
  const parsed = parseMessage(text);
  cache = { text, parsed };
  return parsed;
}

function unfold(text: string, range: OffsetRange): string {
  return text.slice(range.start, range.end).replace(/\r?\n(?=[ \t])/g, '').replace(/\s+/g, ' ').trim();
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function partSize(part: MimePart): string {
  const length = part.bodyRange.end - part.bodyRange.start;
  if (part.encoding === 'base64') return `${formatSize(length)} (≈${formatSize(Math.floor((length * 3) / 4 * (76 / 78)))} decoded)`;
  return formatSize(length);
}

function fileName(part: MimePart, text: string): string | undefined {
  const name = part.contentType?.params.get('name')?.value;
  // The disposition's filename (RFC 2183), read by the same parameter parser as the linter's, so
  // RFC 2231 continuations and charsets (filename*0*=, filename*=iso-8859-1'') are honoured.
  const disposition = part.headers.find((h) => h.lname === 'content-disposition');
  const filename = disposition ? parseMimeValue(text, disposition.valueRange.start, disposition.valueRange.end, new ProblemSink(), 'disposition').params.get('filename')?.value : undefined;
  const chosen = filename ?? name;
  return chosen ? decodeHeaderValue(chosen) : undefined;
}

/** The first line of a range (without its line break), used as the selection of body and tree nodes. */
function firstLine(text: string, range: OffsetRange): OffsetRange {
  const nl = text.indexOf('\n', range.start);
  let end = nl === -1 || nl > range.end ? range.end : nl;
  if (end > range.start && text.charCodeAt(end - 1) === 13) end--;
  return { start: range.start, end };
}

function headerSymbol(text: string, field: HeaderField): EmlSymbol {
  // The outline shows 80 characters, so only the start of a long value is unfolded and decoded.
  const value = unfold(text, { start: field.valueRange.start, end: Math.min(field.valueRange.end, field.valueRange.start + 2000) });
  const decoded = value.includes('=?') ? decodeHeaderValue(value) : value;
  return { name: field.name, detail: truncate(decoded, 80), kind: 'header', range: { ...field.range }, selectionRange: { ...field.nameRange }, children: [] };
}

function partSymbol(text: string, part: MimePart, isRoot: boolean): EmlSymbol[] {
  const headers = part.headers.map((h) => headerSymbol(text, h));
  const children: EmlSymbol[] = [];
  for (const child of part.children) children.push(...partSymbol(text, child, false));
  if (part.children.length === 0 && part.bodyRange.end > part.bodyRange.start) {
    children.push({
      name: 'body',
      detail: `${part.encoding}, ${partSize(part)}`,
      kind: 'body',
      range: { ...part.bodyRange },
      selectionRange: firstLine(text, part.bodyRange),
      children: [],
    });
  }
  if (isRoot) {
    if (part.children.length === 0) return [...headers, ...children];
    // The root's MIME tree gets one node so the outline shows the structure next to the headers.
    const name = part.mediaType;
    return [...headers, { name, detail: `${part.children.length} part${part.children.length === 1 ? '' : 's'}, ${formatSize(part.bodyRange.end - part.bodyRange.start)}`, kind: 'part', range: { ...part.bodyRange }, selectionRange: firstLine(text, part.bodyRange), children }];
  }
  const file = fileName(part, text);
  let name = file ? `${part.mediaType} “${file}”` : part.mediaType;
  let detail = part.children.length > 0 ? `${part.children.length} part${part.children.length === 1 ? '' : 's'}` : `${part.encoding}, ${partSize(part)}`;
  if (part.kind === 'message') {
    // An encapsulated message (message/rfc822) is named by its subject, like a mail program lists it.
    const subject = part.headers.find((h) => h.lname === 'subject');
    name = subject ? `message “${truncate(decodeHeaderValue(unfold(text, subject.valueRange)), 60)}”` : 'message';
    detail = `${part.mediaType}, ${formatSize(part.range.end - part.range.start)}`;
  }
  const selection = part.contentTypeField?.range ?? { start: part.range.start, end: part.range.start };
  return [{ name, detail, kind: 'part', range: { ...part.range }, selectionRange: { ...selection }, children: [...headers, ...children] }];
}

/** The outline: header fields, then the MIME tree with content type, encoding and size of each part. */
export function emlSymbols(text: string): EmlSymbol[] {
  try {
    const parsed = parseCached(text);
    return partSymbol(text, parsed.root, true);
  } catch (error) {
    noteInternalError(error);
    return [];
  }
}

function lineEndBefore(text: string, offset: number, floor: number): number {
  let e = offset;
  while (e > floor && (text.charCodeAt(e - 1) === 10 || text.charCodeAt(e - 1) === 13)) e--;
  return e;
}

/** Folding ranges, in offsets: the header section, each folded field, each part and each body. */
export function emlFolding(text: string): EmlFoldingRange[] {
  try {
    const parsed = parseCached(text);
    const out: EmlFoldingRange[] = [];
    const spansLines = (start: number, end: number): boolean => {
      const nl = text.indexOf('\n', start);
      return nl !== -1 && nl < end;
    };
    for (const part of parsed.parts) {
      const h = part.headerRange;
      if (part.headers.length > 1 && spansLines(h.start, h.end)) out.push({ start: part.headers[0].range.start, end: h.end, kind: 'headers' });
      for (const f of part.headers) if (f.lineCount > 1) out.push({ start: f.range.start, end: f.range.end, kind: 'header' });
      if (part !== parsed.root) {
        const end = lineEndBefore(text, part.range.end, part.range.start);
        if (spansLines(part.range.start, end)) out.push({ start: part.range.start, end, kind: 'part' });
      }
      if (part.children.length === 0) {
        const end = lineEndBefore(text, part.bodyRange.end, part.bodyRange.start);
        if (spansLines(part.bodyRange.start, end)) out.push({ start: part.bodyRange.start, end, kind: 'body' });
      }
    }
    out.sort((a, b) => a.start - b.start || b.end - a.end);
    return out;
  } catch (error) {
    noteInternalError(error);
    return [];
  }
}

function inRange(offset: number, range: OffsetRange): boolean {
  return offset >= range.start && offset <= range.end;
}

/** Shows what is under the cursor: encoded words decoded, dates in UTC and local time, tags explained. */
export function emlHover(text: string, offset: number, options: HoverOptions = {}): EmlHover | undefined {
  try {
    return hover(text, offset, options);
  } catch (error) {
    noteInternalError(error);
    return undefined;
  }
}

function hover(text: string, offset: number, options: HoverOptions): EmlHover | undefined {
  const parsed = parseCached(text);
  for (const part of parsed.parts) {
    if (!inRange(offset, part.headerRange) && !(part.headers.length > 0 && inRange(offset, { start: part.headers[0].range.start, end: part.headerRange.end }))) continue;
    const field = part.headers.find((f) => inRange(offset, f.range));
    if (field) return hoverField(text, parsed, field, offset, options);
  }
  // Bodies and boundaries: the deepest leaf whose body holds the offset.
  for (const part of parsed.parts) {
    if (part.delimiters.length === 0 || offset < part.delimiters[0].range.start || offset > part.range.end) continue;
    for (let index = 0; index < part.delimiters.length; index++) {
      const d = part.delimiters[index];
      if (inRange(offset, d.range)) {
        return { range: d.range, markdown: d.close ? `**Close delimiter** of ${markdownCodeSpan(part.mediaType)}: ends its ${part.children.length} part${part.children.length === 1 ? '' : 's'} (${link(2046, '5.1.1')}).` : `**Boundary delimiter** of ${markdownCodeSpan(part.mediaType)}: starts part ${index + 1} of ${part.children.length} (${link(2046, '5.1.1')}).` };
      }
    }
  }
  let leaf: MimePart | undefined;
  for (const part of parsed.parts) {
    if (part.children.length === 0 && offset >= part.bodyRange.start && offset < Math.max(part.bodyRange.end, part.bodyRange.start + 1)) leaf = part;
  }
  if (leaf && (leaf.encoding === 'base64' || leaf.encoding === 'quoted-printable')) return hoverBody(text, leaf);
  return undefined;
}

function link(rfc: number, section: string): string {
  return `[${formatReference({ rfc, section })}](${rfcLink(rfc, section)})`;
}

function hoverField(text: string, parsed: ParsedMessage, field: HeaderField, offset: number, options: HoverOptions): EmlHover | undefined {
  const fact = headerFact(field.lname);
  if (offset <= field.nameRange.end && offset >= field.nameRange.start) {
    if (fact) {
      const once = fact.once ? ' May occur at most once.' : '';
      const required = fact.required ? ' Required.' : '';
      return { range: field.nameRange, markdown: `**${fact.name}** — ${fact.description}${required}${once}\n\nDefined in ${link(fact.rfc, fact.section)}.` };
    }
    return { range: field.nameRange, markdown: `**${escapeMarkdownData(field.name)}** — an optional field not defined by a standard the linter knows; readers that do not know it ignore it (${link(5322, '3.6.8')}).` };
  }
  // Only the neighbourhood of the cursor is searched: an encoded word is at most a few hundred characters.
  const words = findEncodedWords(text, Math.max(field.valueRange.start, offset - 400), Math.min(field.valueRange.end, offset + 400));
  const word = words.find((w) => offset >= w.range.start && offset < w.range.end);
  if (word) {
    const decoded = decodeEncodedWord(word);
    const long = field.valueRange.end - field.valueRange.start > 4000;
    const all = long ? '(too long to show)' : decodeHeaderValue(unfold(text, field.valueRange));
    return {
      range: word.range,
      markdown: decoded === undefined ? `**Encoded word** that readers cannot decode (${link(2047, '2')}).` : `**Encoded word** (${escapeMarkdownData(word.charset)}, ${word.encoding === 'B' ? 'base64' : 'quoted-printable'}): ${markdownCodeSpan(decoded)}\n\nWhole field: ${escapeMarkdownData(all)} (${link(2047, '2')})`,
    };
  }
  const kind = fact?.kind;
  if (kind === 'date') {
    const value = parseDateTime(text, field.valueRange.start, field.valueRange.end);
    if (value) return { range: value.range, markdown: dateMarkdown(field.name, value, options) };
  }
  if (kind === 'received') return hoverReceived(text, parsed, field);
  if (kind === 'dkim' || field.lname === 'arc-seal' || field.lname === 'arc-message-signature') {
    const tags = parseTagList(text, field.valueRange.start, field.valueRange.end);
    const tag = tags.find((t) => inRange(offset, t.range));
    if (tag) return tagHover(tag, kind === 'dkim' ? 'dkim' : 'arc');
  }
  if (kind === 'auth-results' || field.lname === 'arc-authentication-results') {
    if (field.lname === 'arc-authentication-results') {
      const semi = indexOfWithin(text, ';', field.valueRange.start, field.valueRange.end);
      if (semi !== -1 && offset < semi) {
        const tag = parseTagList(text, field.valueRange.start, semi).find((t) => inRange(offset, t.range));
        if (tag) return tagHover(tag, 'arc');
      }
    }
    const results = parseAuthResults(text, field.valueRange.start, field.valueRange.end, undefined, field.lname === 'arc-authentication-results');
    for (const r of results) {
      const fact = arMethod(r.method);
      if (inRange(offset, r.methodRange)) return { range: r.methodRange, markdown: `**${escapeMarkdownData(r.method)}** — ${fact ? fact.meaning : 'an authentication method that is not registered.'}\n\nResult ${markdownCodeSpan(r.result)}: ${AR_RESULTS[r.result] ?? 'a method-specific result.'} (${link(8601, '2.7')})` };
      if (inRange(offset, r.resultRange)) return { range: r.resultRange, markdown: `**${escapeMarkdownData(`${r.method}=${r.result}`)}** — ${AR_RESULTS[r.result] ?? 'a method-specific result.'} (${link(8601, '2.7')})` };
      const prop = r.properties.find((p) => inRange(offset, p.range));
      if (prop) return { range: prop.range, markdown: `**${escapeMarkdownData(prop.name)}** — ${propertyMeaning(prop.name)} (${link(8601, '2.3')})` };
    }
  }
  if (kind === 'content-disposition') {
    const value = parseMimeValue(text, field.valueRange.start, field.valueRange.end, new ProblemSink(), 'disposition');
    const params = [...value.params.values()].map(parameterLine);
    return { range: field.valueRange, markdown: `**${value.type ? escapeMarkdownData(value.type) : 'unknown'}** — ${value.type === 'inline' ? 'shown in the message body' : value.type === 'attachment' ? 'offered as a separate file' : 'an unknown disposition, treated as attachment'}${params.length ? `\n\n${params.join('\n')}` : ''}\n\n${link(2183, '2')}` };
  }
  if (kind === 'content-type') {
    const part = parsed.parts.find((p) => p.contentTypeField === field);
    if (part?.contentType) {
      const params = [...part.contentType.params.values()].map(parameterLine);
      return { range: field.valueRange, markdown: `**${escapeMarkdownData(part.mediaType)}**${params.length ? `\n\n${params.join('\n')}` : ''}\n\n${link(2045, '5.1')}` };
    }
  }
  return undefined;
}

/** One MIME parameter as a list item: the name as an exact code span, the decoded value as inert prose. */
function parameterLine(p: { name: string; value: string; extended: boolean; charset?: string }): string {
  const origin = p.extended ? ` (RFC 2231${p.charset ? `, ${escapeMarkdownData(p.charset)}` : ''})` : '';
  return `- ${markdownCodeSpan(p.name)} = ${escapeMarkdownData(p.value)}${origin}`;
}

function propertyMeaning(name: string): string {
  const known: Record<string, string> = {
    'smtp.mailfrom': 'the envelope sender (MAIL FROM) that was checked',
    'smtp.helo': 'the HELO/EHLO name that was checked',
    'smtp.auth': 'the authenticated identity of the submitting client',
    'header.from': 'the domain of the From field',
    'header.d': 'the signing domain (d=) of the DKIM signature',
    'header.i': 'the agent or user identifier (i=) of the DKIM signature',
    'header.s': 'the selector (s=) of the DKIM signature',
    'header.b': 'the first characters of the DKIM signature (b=), to tell signatures apart',
    'policy.iprev': 'the IP address whose reverse DNS was checked',
  };
  return known[name.toLowerCase()] ?? 'a property of the checked message or session';
}

function tagHover(tag: Tag, family: 'dkim' | 'arc'): EmlHover {
  const fact = family === 'dkim' ? dkimTag(tag.name) : arcTag(tag.name) ?? dkimTag(tag.name);
  let extra = '';
  if ((tag.name === 't' || tag.name === 'x') && /^\d{1,12}$/.test(tag.value)) extra = `\n\n\`${tag.value}\` = ${new Date(Number(tag.value) * 1000).toISOString().replace('.000Z', 'Z')}`;
  if (tag.name === 'h') extra = `\n\nSigned fields: ${tag.value.split(':').map((n) => markdownCodeSpan(n)).join(', ')}`;
  const meaning = fact ? fact.meaning : 'A tag this signature defines no meaning for; verifiers ignore unknown tags.';
  return { range: tag.range, markdown: `**${escapeMarkdownData(tag.name)}=** — ${meaning}${extra}\n\n${family === 'dkim' ? link(6376, '3.5') : link(8617, '4.1')}` };
}

function formatInZone(epochMs: number, timeZone: string): string {
  const fmt = new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZoneName: 'shortOffset', weekday: 'short' });
  const parts = Object.fromEntries(fmt.formatToParts(new Date(epochMs)).map((p) => [p.type, p.value]));
  return `${parts.weekday} ${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} (${parts.timeZoneName})`;
}

function dateMarkdown(name: string, value: DateTimeValue, options: HoverOptions): string {
  const utc = new Date(value.epochMs).toISOString().replace('T', ' ').replace('.000Z', ' UTC');
  let zone = options.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  let local: string;
  try {
    local = formatInZone(value.epochMs, zone);
  } catch {
    zone = 'UTC';
    local = formatInZone(value.epochMs, 'UTC');
  }
  return `**${escapeMarkdownData(name)}**\n\n- UTC: ${utc}\n- ${zone}: ${local}\n- Written with offset ${formatOffset(value.offsetMinutes)}\n\n${link(5322, '3.3')}`;
}

interface Hop {
  field: HeaderField;
  from?: string;
  by?: string;
  date?: DateTimeValue;
}

function blankComments(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    if (s[i] === '(') {
      const after = skipComment(s, i, s.length);
      const stop = after === -1 ? s.length : after;
      out += ' '.repeat(stop - i);
      i = stop;
    } else out += s[i++];
  }
  return out;
}

function formatDelay(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${sign}${s} s`;
  const m = Math.floor(s / 60);
  s %= 60;
  if (m < 60) return `${sign}${m} min ${s} s`;
  return `${sign}${Math.floor(m / 60)} h ${m % 60} min`;
}

function hoverReceived(text: string, parsed: ParsedMessage, field: HeaderField): EmlHover {
  const owner = parsed.parts.find((p) => p.headers.includes(field)) ?? parsed.root;
  const hops: Hop[] = owner.headers
    .filter((h) => h.lname === 'received')
    .map((h) => {
      const semi = receivedDateStart(text, h);
      const head = blankComments(text.slice(h.valueRange.start, semi === -1 ? h.valueRange.end : semi));
      const from = /(?:^|\s)from\s+([^\s;]+)/i.exec(head)?.[1];
      const by = /(?:^|\s)by\s+([^\s;]+)/i.exec(head)?.[1];
      const date = semi === -1 ? undefined : parseDateTime(text, semi + 1, h.valueRange.end);
      return { field: h, from, by, date };
    })
    .reverse();
  const rows = hops.map((hop, i) => {
    const prev = i > 0 ? hops[i - 1].date : undefined;
    const delay = hop.date && prev ? formatDelay(hop.date.epochMs - prev.epochMs) + (hop.date.epochMs < prev.epochMs ? ' ⚠ clock skew' : '') : '';
    const when = hop.date ? new Date(hop.date.epochMs).toISOString().slice(11, 19) + ' UTC' : '?';
    const mark = hop.field === field ? '**→**' : '';
    return `| ${mark}${i + 1} | ${hop.from === undefined ? '—' : markdownTableCell(hop.from)} | ${hop.by === undefined ? '—' : markdownTableCell(hop.by)} | ${when} | ${delay} |`;
  });
  const first = hops.find((h) => h.date)?.date;
  const last = [...hops].reverse().find((h) => h.date)?.date;
  const total = first && last && hops.length > 1 ? `\n\nTotal: ${formatDelay(last.epochMs - first.epochMs)} over ${hops.length} hops.` : '';
  return { range: field.range, markdown: `**Received chain** (oldest first)\n\n| # | from | by | time | delay |\n|---|---|---|---|---|\n${rows.join('\n')}${total}\n\n${link(5321, '4.4')}` };
}

const PREVIEW_BYTES = 600;

/** Decodes the start of a quoted-printable body (RFC 2045 §6.7). */
function decodeQpStart(text: string, range: OffsetRange, limit: number): Uint8Array {
  const bytes: number[] = [];
  let i = range.start;
  while (i < range.end && bytes.length < limit) {
    const c = text.charCodeAt(i);
    if (c === 61) {
      const hex = text.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 3;
        continue;
      }
      let j = i + 1;
      while (j < range.end && (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9)) j++;
      if (text.charCodeAt(j) === 13) j++;
      if (text.charCodeAt(j) === 10) {
        i = j + 1;
        continue;
      }
      bytes.push(61);
      i++;
    } else if (c === 13 && text.charCodeAt(i + 1) === 10) {
      bytes.push(13, 10);
      i += 2;
    } else {
      if (c < 128) bytes.push(c);
      else bytes.push(...Buffer.from(text[i], 'utf8'));
      i++;
    }
  }
  return Uint8Array.from(bytes);
}

function decodeBase64Start(text: string, range: OffsetRange, limit: number): Uint8Array {
  let chars = '';
  const want = Math.ceil(limit / 3) * 4;
  for (let i = range.start; i < range.end && chars.length < want; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 61) chars += text[i];
  }
  return Uint8Array.from(Buffer.from(chars.slice(0, chars.length - (chars.length % 4)), 'base64'));
}

function sniff(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.slice(0, 8)).toString('latin1');
  if (head.startsWith('%PDF')) return 'a PDF document';
  if (head.startsWith('\x89PNG')) return 'a PNG image';
  if (head.startsWith('\xff\xd8\xff')) return 'a JPEG image';
  if (head.startsWith('GIF8')) return 'a GIF image';
  if (head.startsWith('PK\x03\x04')) return 'a ZIP archive (or an Office document)';
  return undefined;
}

function hoverBody(text: string, part: MimePart): EmlHover {
  const bytes = part.encoding === 'base64' ? decodeBase64Start(text, part.bodyRange, PREVIEW_BYTES) : decodeQpStart(text, part.bodyRange, PREVIEW_BYTES);
  const charset = part.contentType?.params.get('charset')?.value ?? (part.mediaType.startsWith('text/') ? 'us-ascii' : '');
  const range = { ...part.bodyRange };
  const title = `**${escapeMarkdownData(part.mediaType)}**, ${escapeMarkdownData(part.encoding)}, ${partSize(part)}`;
  const isText = part.mediaType.startsWith('text/') || part.mediaType === 'message/rfc822' || part.mediaType.endsWith('+xml') || part.mediaType === 'application/json';
  if (isText) {
    // The decoded text is shown exactly, in a fence none of its lines can close, with control and
    // invisible characters made visible; CRLF line ends are shown as the line breaks they are.
    const decoded = visibleText(decodeBytes(bytes, charset || 'utf-8').replace(/\r\n/g, '\n'));
    const fence = markdownFence(decoded);
    return { range, markdown: `${title} — decoded start:\n\n${fence}text\n${decoded}${bytes.length >= PREVIEW_BYTES ? '\n…' : ''}\n${fence}` };
  }
  const kind = sniff(bytes);
  const hex = Buffer.from(bytes.slice(0, 32)).toString('hex').replace(/(..)/g, '$1 ').trim();
  return { range, markdown: `${title}${kind ? ` — looks like ${kind}` : ''}\n\nFirst bytes: \`${hex}\`` };
}
