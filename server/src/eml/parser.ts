/**
 * The `.eml` parser: splits a message into header fields and the MIME tree, keeping the offset range
 * of everything it finds, and recovers from errors at the next header field or boundary. It never
 * throws and runs in time linear in the size of the text (times the nesting depth, which is capped).
 */
import { OffsetRange, Problem } from '../../../common/problem';
import { MimeValue, parseMimeValue } from './mimeParams';
import { ProblemSink } from './problems';
import { isWsp, tokenize } from './structured';

export interface HeaderField {
  /** The name as written (without white space before the colon). */
  name: string;
  /** The name in lower case, for lookups. */
  lname: string;
  /** The whole field from the first character of its name to the end of its last line (line break excluded). */
  range: OffsetRange;
  nameRange: OffsetRange;
  /** The offset of the colon. */
  colon: number;
  /** From after the colon to the end of the field; folding line breaks are inside. */
  valueRange: OffsetRange;
  /** The number of physical lines (1 plus the folded continuation lines). */
  lineCount: number;
}

export interface MimePart {
  /** 'message' for the top level and encapsulated messages (message/rfc822), 'part' for body parts. */
  kind: 'message' | 'part';
  range: OffsetRange;
  headers: HeaderField[];
  /** From the first header field to the end of the last one; empty when there are none. */
  headerRange: OffsetRange;
  /** The empty line between the header section and the body, when there is one. */
  separator?: OffsetRange;
  bodyRange: OffsetRange;
  /** The media type, lower-cased (`text/plain` when Content-Type is absent or invalid, RFC 2045 §5.2). */
  mediaType: string;
  contentType?: MimeValue;
  contentTypeField?: HeaderField;
  /** True when the media type was defaulted rather than given. */
  defaultedType: boolean;
  /** The transfer encoding, lower-cased; `7bit` when absent (RFC 2045 §6.1). */
  encoding: string;
  encodingField?: HeaderField;
  boundary?: string;
  preamble?: OffsetRange;
  epilogue?: OffsetRange;
  /** Each boundary delimiter line of a multipart, including the close delimiter. */
  delimiters: Array<{ range: OffsetRange; close: boolean }>;
  children: MimePart[];
  /** 0 for the message itself; each multipart or message/rfc822 level adds one. */
  depth: number;
}

export interface ParsedMessage {
  text: string;
  root: MimePart;
  /** Every part in document order, the root first. */
  parts: MimePart[];
  /** The line ending most lines use. */
  lineEnding: 'crlf' | 'lf';
  /** Lexical and structural problems: line endings, header syntax, MIME structure and parameters. */
  problems: Problem[];
  /** The byte range of an mbox `From ` line before the message, when there is one. */
  mboxFromLine?: OffsetRange;
  /** Where the line breaks are, to count them in a range without reading it again. */
  lineBreaks: LineBreaks;
}

/**
 * The line feeds of a message, found by the one scan of its lines. When every CR is part of a CRLF
 * and every LF of one (or there is no CR at all), the number of CR and LF characters in any range
 * follows from the LF offsets alone, by binary search (see lineBreakCharacters).
 */
export interface LineBreaks {
  /** The offset of every LF, ascending. */
  lf: number[];
  /** Every CR is followed by LF, and every LF follows a CR. */
  crlfOnly: boolean;
  /** The text holds no CR. */
  noCr: boolean;
}

/** The number of LF offsets below `at`. */
function lfBefore(lf: readonly number[], at: number): number {
  let lo = 0;
  let hi = lf.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (lf[mid] < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The number of CR and LF characters in text[start, end), or undefined when the line endings are
 * mixed and only reading the range can tell.
 */
export function lineBreakCharacters(breaks: LineBreaks, start: number, end: number): number | undefined {
  const lfs = lfBefore(breaks.lf, end) - lfBefore(breaks.lf, start);
  if (breaks.noCr) return lfs;
  if (!breaks.crlfOnly) return undefined;
  // Each CR stands just before an LF: the CRs in [start, end) are the LFs in [start + 1, end + 1).
  return lfs + lfBefore(breaks.lf, end + 1) - lfBefore(breaks.lf, start + 1);
}

export interface ParseOptions {
  /** The message is the DATA of a `.smtp` script: its lines are joined with CRLF on sending. */
  embedded?: boolean;
}

/** Depth from which MIME nesting is reported; many readers stop around here. */
const MIME_DEPTH_WARNING = 20;
/** Depth below which the parser stops descending, so hostile input cannot exhaust the stack. */
const MIME_DEPTH_LIMIT = 60;

interface Line {
  contentEnd: number;
  next: number;
}

/** Finds the end of the line starting at `pos`, bounded by `end`. Both LF and CRLF end a line. */
function lineAt(text: string, pos: number, end: number): Line {
  const nl = text.indexOf('\n', pos);
  if (nl === -1 || nl >= end) return { contentEnd: end, next: end };
  const contentEnd = nl > pos && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
  return { contentEnd, next: nl + 1 };
}

/** ftext of RFC 5322 §3.6.8: printable US-ASCII except colon. */
function isFtext(c: number): boolean {
  return c >= 33 && c <= 126 && c !== 58;
}

/** Where a header field name ends and its colon is, for a line that looks like a field. */
function fieldShape(text: string, pos: number, contentEnd: number): { colon: number; nameEnd: number; valid: boolean } {
  let colon = -1;
  for (let i = pos; i < contentEnd; i++) {
    if (text.charCodeAt(i) === 58) {
      colon = i;
      break;
    }
  }
  if (colon === -1) return { colon, nameEnd: contentEnd, valid: false };
  let nameEnd = colon;
  while (nameEnd > pos && isWsp(text.charCodeAt(nameEnd - 1))) nameEnd--;
  let valid = nameEnd > pos;
  for (let i = pos; i < nameEnd && valid; i++) if (!isFtext(text.charCodeAt(i))) valid = false;
  return { colon, nameEnd, valid };
}

interface HeaderBlock {
  headers: HeaderField[];
  headerRange: OffsetRange;
  separator?: OffsetRange;
  bodyStart: number;
}

/** Parses the header section of a message or body part (RFC 5322 §2.2, §3.6; RFC 2045 §3). */
function parseHeaders(text: string, start: number, end: number, sink: ProblemSink): HeaderBlock {
  const headers: HeaderField[] = [];
  let field: HeaderField | undefined;
  let pos = start;
  let separator: OffsetRange | undefined;
  let bodyStart = end;
  let lastFieldLike = -2; // not computed yet
  let headerEnd = start;
  while (pos < end) {
    const line = lineAt(text, pos, end);
    if (line.contentEnd === pos) {
      // The first empty line ends the header section (RFC 5322 §2.1).
      separator = { start: pos, end: line.next };
      bodyStart = line.next;
      break;
    }
    const c = text.charCodeAt(pos);
    if (c === 32 || c === 9) {
      // A line starting with white space continues the previous field (folding, RFC 5322 §2.2.3).
      if (field) {
        field.range.end = line.contentEnd;
        field.valueRange.end = line.contentEnd;
        field.lineCount++;
        let blank = true;
        for (let i = pos; i < line.contentEnd && blank; i++) if (!isWsp(text.charCodeAt(i))) blank = false;
        if (blank) {
          sink.add('eml-header-empty-continuation', { start: pos, end: line.contentEnd }, 'This folded line holds only white space; RFC 5322 §4.2 lists it as obsolete and many readers take it as the end of the header section.');
        }
      } else {
        sink.add('eml-header-leading-whitespace', { start: pos, end: line.contentEnd }, 'An indented line continues a header field, but no field precedes it (RFC 5322 §2.2.3).');
      }
      headerEnd = line.contentEnd;
      pos = line.next;
      continue;
    }
    const shape = fieldShape(text, pos, line.contentEnd);
    // A line whose text before the colon holds white space reads like prose, not like a damaged
    // field name; such lines and lines without a colon may be the start of the body.
    let prose = shape.colon === -1;
    for (let i = pos; i < shape.nameEnd && !prose; i++) if (isWsp(text.charCodeAt(i))) prose = true;
    if (!shape.valid && prose) {
      if (lastFieldLike === -2) lastFieldLike = findLastFieldLike(text, line.next, end);
      if (lastFieldLike < pos) {
        // No header field follows before the body: the body starts here without the empty line.
        sink.add('eml-missing-separator', { start: pos, end: line.contentEnd }, 'The body starts here without an empty line after the header section (RFC 5322 §2.1); readers may take this line as a broken header field.', {
          fixes: [{ title: 'Insert an empty line before the body', edits: [{ range: { start: pos, end: pos }, newText: text.charCodeAt(pos - 1) === 10 && text.charCodeAt(pos - 2) !== 13 ? '\n' : '\r\n' }], preferred: true }],
        });
        bodyStart = pos;
        break;
      }
    }
    if (shape.colon === -1) {
      sink.add('eml-header-syntax', { start: pos, end: line.contentEnd }, 'This line in the header section has no colon, so it is not a header field (RFC 5322 §2.2).');
      field = undefined;
      headerEnd = line.contentEnd;
      pos = line.next;
      continue;
    }
    if (shape.nameEnd === pos) {
      sink.add('eml-header-syntax', { start: pos, end: line.contentEnd }, 'A header field needs a name before the colon (RFC 5322 §2.2).');
      field = undefined;
      headerEnd = line.contentEnd;
      pos = line.next;
      continue;
    }
    const name = text.slice(pos, shape.nameEnd);
    if (!shape.valid) {
      sink.add('eml-header-name-invalid', { start: pos, end: shape.nameEnd }, `Field name \`${name}\` may only hold printable US-ASCII characters other than colon and space (RFC 5322 §3.6.8).`);
    } else if (shape.nameEnd < shape.colon) {
      sink.add('eml-header-space-before-colon', { start: shape.nameEnd, end: shape.colon }, 'White space between a field name and its colon is obsolete syntax (RFC 5322 §4.5); some readers do not recognise the field.', {
        fixes: [{ title: 'Remove the white space before the colon', edits: [{ range: { start: shape.nameEnd, end: shape.colon }, newText: '' }], preferred: true }],
      });
    }
    field = {
      name,
      lname: name.toLowerCase(),
      range: { start: pos, end: line.contentEnd },
      nameRange: { start: pos, end: shape.nameEnd },
      colon: shape.colon,
      valueRange: { start: shape.colon + 1, end: line.contentEnd },
      lineCount: 1,
    };
    headers.push(field);
    headerEnd = line.contentEnd;
    pos = line.next;
  }
  return { headers, headerRange: { start, end: headers.length > 0 || headerEnd > start ? headerEnd : start }, separator, bodyStart };
}

/** Returns the start of the last line that looks like a header field before the first empty line. */
function findLastFieldLike(text: string, from: number, end: number): number {
  let last = -1;
  let pos = from;
  while (pos < end) {
    const line = lineAt(text, pos, end);
    if (line.contentEnd === pos) break;
    const c = text.charCodeAt(pos);
    if (c !== 32 && c !== 9 && fieldShape(text, pos, line.contentEnd).valid) last = pos;
    pos = line.next;
  }
  return last;
}

/** Reads the transfer encoding token of a Content-Transfer-Encoding field, ignoring comments. */
function encodingOf(text: string, field: HeaderField): string {
  const { tokens } = tokenize(text, field.valueRange.start, field.valueRange.end);
  if (tokens.length === 0) return '';
  return text.slice(tokens[0].start, tokens[tokens.length - 1].end).toLowerCase();
}

/** True for the RFC 2046 §5.1.1 bchars. */
function isBchar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 39 || c === 40 || c === 41 || c === 43 || c === 95 || c === 44 || c === 45 || c === 46 || c === 47 || c === 58 || c === 61 || c === 63 || c === 32;
}

class Parser {
  readonly sink = new ProblemSink();
  readonly parts: MimePart[] = [];
  private depthReported = false;

  constructor(private readonly text: string) {}

  parsePart(start: number, end: number, depth: number, kind: 'message' | 'part', defaultType: string): MimePart {
    const text = this.text;
    const block = parseHeaders(text, start, end, this.sink);
    const part: MimePart = {
      kind,
      range: { start, end },
      headers: block.headers,
      headerRange: block.headerRange,
      separator: block.separator,
      bodyRange: { start: Math.min(block.bodyStart, end), end },
      mediaType: defaultType,
      defaultedType: true,
      encoding: '7bit',
      delimiters: [],
      children: [],
      depth,
    };
    this.parts.push(part);
    for (const field of block.headers) {
      if (field.lname === 'content-type' && !part.contentTypeField) {
        part.contentTypeField = field;
        const value = parseMimeValue(text, field.valueRange.start, field.valueRange.end, this.sink, 'content-type');
        part.contentType = value;
        if (value.valid) {
          part.mediaType = `${value.type}/${value.subtype}`;
          part.defaultedType = false;
        } else {
          // An invalid Content-Type is taken as text/plain (RFC 2045 §5.2).
          part.mediaType = 'text/plain';
        }
      } else if (field.lname === 'content-transfer-encoding' && !part.encodingField) {
        part.encodingField = field;
        part.encoding = encodingOf(text, field) || '7bit';
      }
    }
    if (depth > MIME_DEPTH_WARNING && !this.depthReported && (part.mediaType.startsWith('multipart/') || part.mediaType === 'message/rfc822')) {
      this.depthReported = true;
      this.sink.add('eml-mime-depth', part.contentTypeField?.range ?? { start, end: start }, `MIME parts are nested ${depth} levels deep; many readers stop well before ${MIME_DEPTH_LIMIT} (RFC 2046 §5.1 sets no limit, but implementations do).`);
    }
    if (depth >= MIME_DEPTH_LIMIT) return part;
    if (part.contentType && part.contentType.type === 'multipart') {
      const boundaryParam = part.contentType.params.get('boundary');
      if (!boundaryParam || boundaryParam.value === '') {
        this.sink.add('eml-multipart-no-boundary', part.contentType.typeRange, `\`${part.mediaType}\` needs a boundary parameter to separate its parts (RFC 2046 §5.1.1).`);
      } else {
        this.checkBoundarySyntax(boundaryParam.value, boundaryParam.valueRange);
        part.boundary = boundaryParam.value;
        this.splitMultipart(part, boundaryParam.valueRange);
      }
    } else if ((part.mediaType === 'message/rfc822' || part.mediaType === 'message/global') && (part.encoding === '7bit' || part.encoding === '8bit' || part.encoding === 'binary')) {
      if (part.bodyRange.start < end) part.children.push(this.parsePart(part.bodyRange.start, end, depth + 1, 'message', 'text/plain'));
    }
    return part;
  }

  private checkBoundarySyntax(boundary: string, range: OffsetRange): void {
    let bad = boundary.length > 70 || boundary.endsWith(' ');
    for (let i = 0; i < boundary.length && !bad; i++) if (!isBchar(boundary.charCodeAt(i))) bad = true;
    if (bad) {
      this.sink.add('eml-boundary-syntax', range, 'A boundary has 1 to 70 characters from the bchars set and does not end with a space (RFC 2046 §5.1.1).');
    }
  }

  /** Finds the delimiter lines of a multipart body and parses each part between them (RFC 2046 §5.1.1). */
  private splitMultipart(part: MimePart, boundaryRange: OffsetRange): void {
    const text = this.text;
    const delimiter = `--${part.boundary}`;
    const bodyStart = part.bodyRange.start;
    const end = part.bodyRange.end;
    const found: Array<{ start: number; contentEnd: number; next: number; close: boolean }> = [];
    let search = bodyStart;
    // Search a view of this body only, so sibling multiparts never scan the rest of the document.
    const body = text.slice(bodyStart, end);
    while (search < end) {
      const found0 = body.indexOf(delimiter, search - bodyStart);
      const at = found0 === -1 ? -1 : found0 + bodyStart;
      if (at === -1 || at + delimiter.length > end) break;
      search = at + delimiter.length;
      if (at !== bodyStart && text.charCodeAt(at - 1) !== 10) continue;
      let j = at + delimiter.length;
      let close = false;
      if (j + 1 < end + 1 && text.charCodeAt(j) === 45 && text.charCodeAt(j + 1) === 45 && j + 2 <= end) {
        close = true;
        j += 2;
      }
      // Transport padding (white space) may follow the boundary (RFC 2046 §5.1.1).
      while (j < end && isWsp(text.charCodeAt(j))) j++;
      let next: number;
      if (j >= end) next = end;
      else if (text.charCodeAt(j) === 10) next = j + 1;
      else if (text.charCodeAt(j) === 13 && text.charCodeAt(j + 1) === 10 && j + 1 < end) next = j + 2;
      else continue; // A longer boundary that starts with this one, or text after it.
      found.push({ start: at, contentEnd: j, next, close });
      search = next;
    }
    const lineBreakBefore = (offset: number, floor: number): number => {
      let e = offset;
      if (e > floor && text.charCodeAt(e - 1) === 10) {
        e--;
        if (e > floor && text.charCodeAt(e - 1) === 13) e--;
      }
      return e;
    };
    if (found.length === 0) {
      this.sink.add('eml-boundary-missing', boundaryRange, `The boundary \`${part.boundary}\` never appears as \`--${part.boundary}\` at the start of a line in the body (RFC 2046 §5.1.1).`);
      return;
    }
    const first = found[0];
    if (first.start > bodyStart) part.preamble = { start: bodyStart, end: lineBreakBefore(first.start, bodyStart) };
    let closed = false;
    for (let i = 0; i < found.length; i++) {
      const d = found[i];
      part.delimiters.push({ range: { start: d.start, end: d.contentEnd }, close: d.close });
      if (closed) {
        this.sink.add('eml-part-after-close', { start: d.start, end: d.contentEnd }, 'This boundary comes after the close delimiter: what follows is epilogue, and readers ignore it (RFC 2046 §5.1.1).');
        continue;
      }
      if (d.close) {
        closed = true;
        if (d.next < end) part.epilogue = { start: d.next, end };
        continue;
      }
      const partStart = d.next;
      const nextDelim = found[i + 1];
      const partEnd = nextDelim ? Math.max(partStart, lineBreakBefore(nextDelim.start, partStart)) : end;
      const childDefault = part.mediaType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
      part.children.push(this.parsePart(partStart, partEnd, part.depth + 1, 'part', childDefault));
    }
    if (!closed) {
      this.sink.add('eml-boundary-unclosed', boundaryRange, `The close delimiter \`--${part.boundary}--\` never appears, so the last part runs to the end (RFC 2046 §5.1.1).`, {
        fixes: [{ title: 'Append the close delimiter', edits: [{ range: { start: end, end }, newText: `${end > 0 && text.charCodeAt(end - 1) !== 10 ? '\r\n' : ''}--${part.boundary}--\r\n` }] }],
      });
    }
    if (part.children.length === 0) {
      this.sink.add('eml-multipart-empty', boundaryRange, 'This multipart has no body parts: a multipart needs at least one (RFC 2046 §5.1.1).');
    }
  }
}

/**
 * Scans the whole text once for line endings, NUL and bare CR, and line lengths (RFC 5322 §2.1.1,
 * §2.3). A file that uses LF throughout is taken as a message stored with the local line ending, which
 * is normal on disk; only a mix of CRLF and LF, or a CR on its own, is reported.
 */
function scanLines(text: string, sink: ProblemSink, embedded: boolean): { lineEnding: 'crlf' | 'lf'; lineBreaks: LineBreaks } {
  const lf: number[] = [];
  const bareLf: number[] = [];
  const crlf: number[] = [];
  let crlfCount = 0;
  let lfCount = 0;
  let pos = 0;
  const length = text.length;
  while (pos <= length) {
    let nl = text.indexOf('\n', pos);
    const lineEnd = nl === -1 ? length : nl;
    let contentEnd = lineEnd;
    if (nl !== -1) {
      lf.push(nl);
      if (lineEnd > pos && text.charCodeAt(lineEnd - 1) === 13) {
        contentEnd = lineEnd - 1;
        crlfCount++;
        if (crlf.length < 1000) crlf.push(contentEnd);
      } else {
        lfCount++;
        if (bareLf.length < 1000) bareLf.push(lineEnd);
      }
    }
    const chars = contentEnd - pos;
    if (chars > 78) {
      // RFC 5322 §2.1.1 counts 998 octets: measure the UTF-8 length only of lines that could exceed it.
      const octets = chars > 332 ? utf8Length(text, pos, contentEnd) : chars;
      if (octets > 998) {
        sink.add('eml-line-too-long', { start: pos + 998 > contentEnd ? pos : Math.min(pos + 998, contentEnd), end: contentEnd }, `This line is ${octets} octets long; lines must not exceed 998 octets (RFC 5322 §2.1.1). Mail servers may break or reject it.`);
      } else {
        sink.add('eml-line-over-78', { start: pos + 78, end: contentEnd }, `This line is ${chars} characters long; RFC 5322 §2.1.1 recommends at most 78.`);
      }
    }
    if (nl === -1) break;
    pos = nl + 1;
    nl = -1;
  }
  const lineEnding = crlfCount >= lfCount && crlfCount > 0 ? 'crlf' : 'lf';
  if (!embedded) {
    if (lineEnding === 'crlf') {
      for (const at of bareLf) {
        sink.add('eml-bare-lf', { start: at, end: at + 1 }, 'A bare LF in a message that uses CRLF line endings (RFC 5322 §2.3); servers treat it differently, which can change or break the message.', {
          fixes: [{ title: 'Replace with CRLF', edits: [{ range: { start: at, end: at + 1 }, newText: '\r\n' }], preferred: true }],
        });
      }
    } else {
      for (const at of crlf) {
        sink.add('eml-mixed-line-endings', { start: at, end: at + 2 }, `This line ends with CRLF while ${lfCount} other lines end with LF; mixed line endings change when the file is converted for sending (RFC 5322 §2.3).`, {
          fixes: [{ title: 'Use LF like the rest of the file', edits: [{ range: { start: at, end: at + 2 }, newText: '\n' }], preferred: true }],
        });
      }
    }
  }
  // A CR not followed by LF (RFC 5322 §2.3: CR and LF only occur together as CRLF).
  let cr = text.indexOf('\r');
  const noCr = cr === -1;
  let bareCr = false;
  while (cr !== -1) {
    if (text.charCodeAt(cr + 1) !== 10) {
      bareCr = true;
      sink.add('eml-bare-cr', { start: cr, end: cr + 1 }, 'A CR that is not followed by LF; CR and LF must only occur together as CRLF (RFC 5322 §2.3).', {
        fixes: [{ title: 'Replace with CRLF', edits: [{ range: { start: cr, end: cr + 1 }, newText: '\r\n' }] }],
      });
    }
    cr = text.indexOf('\r', cr + 1);
  }
  let nul = text.indexOf('\0');
  while (nul !== -1) {
    sink.add('eml-nul', { start: nul, end: nul + 1 }, 'A NUL character; it must not appear in a message (RFC 5322 §2.3, RFC 2045 §2.7) and many servers reject or truncate it.', {
      fixes: [{ title: 'Remove the NUL character', edits: [{ range: { start: nul, end: nul + 1 }, newText: '' }] }],
    });
    nul = text.indexOf('\0', nul + 1);
  }
  return { lineEnding, lineBreaks: { lf, noCr, crlfOnly: !bareCr && lfCount === 0 } };
}

/** The UTF-8 length of `text[start, end)`; lone surrogates count as the three octets of U+FFFD. */
function utf8Length(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n++;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Parses a message into header fields and its MIME tree, with the problems found on the way. */
export function parseMessage(text: string, options: ParseOptions = {}): ParsedMessage {
  const parser = new Parser(text);
  const { lineEnding, lineBreaks } = scanLines(text, parser.sink, options.embedded === true);
  let start = 0;
  let mboxFromLine: OffsetRange | undefined;
  // Files saved from an mbox folder start with a `From ` separator line that is not part of the message.
  if (text.startsWith('From ') && !/^From[ \t]*:/.test(text.slice(0, 64))) {
    const line = lineAt(text, 0, text.length);
    mboxFromLine = { start: 0, end: line.contentEnd };
    start = line.next;
  }
  const root = parser.parsePart(start, text.length, 0, 'message', 'text/plain');
  root.range = { start: 0, end: text.length };
  return { text, root, parts: parser.parts, lineEnding, problems: clampProblems(parser.sink.problems, text.length), mboxFromLine, lineBreaks };
}

/** Keeps every problem range inside the text, so a problem at the very end never points past it. */
export function clampProblems(problems: Problem[], length: number): Problem[] {
  for (const p of problems) {
    p.range.start = Math.max(0, Math.min(p.range.start, length));
    p.range.end = Math.max(p.range.start, Math.min(p.range.end, length));
  }
  return problems;
}
