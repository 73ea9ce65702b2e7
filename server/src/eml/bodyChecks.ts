/**
 * Checks that a leaf body agrees with its Content-Transfer-Encoding (RFC 2045 §6): no 8-bit data
 * under 7bit, quoted-printable or base64 (§2.7, §6.7, §6.8); valid base64 characters and padding
 * (§6.8); valid quoted-printable escapes and line lengths (§6.7). Each scan reads character codes
 * in place, so a large attachment costs one pass and no copies.
 */
import { OffsetRange } from '../../../common/problem';
import { lineBreakCharacters, LineBreaks, MimePart } from './parser';
import { ProblemSink } from './problems';

const NON_ASCII = /[^\x00-\x7f]/;

/** Reports the first non-ASCII character of a range and how many there are in total. */
function check8bit(text: string, range: OffsetRange, encoding: string, sink: ProblemSink, topLevelWithoutMime: boolean): void {
  // One regular-expression scan settles the usual all-ASCII case.
  if (!NON_ASCII.test(text.slice(range.start, range.end))) return;
  let first = -1;
  let count = 0;
  for (let i = range.start; i < range.end; i++) {
    const c = text.charCodeAt(i);
    // U+FFFD is reported on its own as a decoding accident (eml-replacement-char).
    if (c > 127 && c !== 0xfffd) {
      if (first === -1) first = i;
      count++;
    }
  }
  if (first === -1) return;
  let runEnd = first;
  while (runEnd < range.end && text.charCodeAt(runEnd) > 127 && text.charCodeAt(runEnd) !== 0xfffd) runEnd++;
  const where = topLevelWithoutMime ? 'a message without MIME, whose body must be US-ASCII (RFC 5322 §2.3)' : `a part encoded as ${encoding}`;
  sink.add('eml-8bit-in-7bit', { start: first, end: runEnd }, `${count} non-ASCII character${count === 1 ? '' : 's'} in ${where}; declare \`Content-Transfer-Encoding: 8bit\` (and send with 8BITMIME) or encode the part (RFC 2045 §2.7).`);
}

const BASE64_OUTSIDE = /[^A-Za-z0-9+/=\r\n]/;
const BASE64_DATA = /[A-Za-z0-9+/]/;

/** Counts the occurrences of one character with indexOf, which scans much faster than a JS loop. */
function countChar(s: string, ch: string): number {
  let n = 0;
  let at = s.indexOf(ch);
  while (at !== -1) {
    n++;
    at = s.indexOf(ch, at + 1);
  }
  return n;
}

/**
 * Checks a base64 body (RFC 2045 §6.8). The common case — only alphabet characters and line breaks —
 * is decided with one regular-expression scan and indexOf counts; anything else takes the detailed
 * character loop that finds and counts the offending characters.
 */
function checkBase64(text: string, range: OffsetRange, sink: ProblemSink, breaks?: LineBreaks): void {
  const body = text.slice(range.start, range.end);
  if (BASE64_OUTSIDE.test(body)) {
    checkBase64Slow(text, range, sink);
    return;
  }
  const padAt = body.indexOf('=');
  let pad = 0;
  if (padAt !== -1) {
    const tail = body.slice(padAt);
    const after = tail.search(BASE64_DATA);
    if (after !== -1) {
      sink.add('eml-base64-padding', { start: range.start + padAt, end: range.start + padAt + after + 1 }, 'Base64 data continues after the `=` padding, which may only end the data (RFC 2045 §6.8).');
      return;
    }
    pad = countChar(tail, '=');
  }
  const lineBreaks = (breaks && lineBreakCharacters(breaks, range.start, range.end)) ?? countChar(body, '\n') + countChar(body, '\r');
  const data = body.length - lineBreaks - pad;
  reportBase64Length(text, range, data, pad, padAt === -1 ? -1 : range.start + padAt, sink);
}

function reportBase64Length(text: string, range: OffsetRange, data: number, pad: number, padStart: number, sink: ProblemSink): void {
  const total = data + pad;
  if (total === 0) return;
  if (total % 4 !== 0 || pad > 2 || (pad > 0 && data % 4 === 0)) {
    const at = padStart !== -1 ? padStart : lastDataChar(text, range);
    sink.add('eml-base64-padding', { start: at, end: Math.min(range.end, at + Math.max(1, pad)) }, `The base64 data has ${data} characters and ${pad} padding; the total must be a multiple of 4 with at most two \`=\` (RFC 2045 §6.8). The last bytes will be lost or rejected.`);
  }
}

function checkBase64Slow(text: string, range: OffsetRange, sink: ProblemSink): void {
  let data = 0;
  let pad = 0;
  let badFirst = -1;
  let badCount = 0;
  let afterPad = -1;
  let padStart = -1;
  for (let i = range.start; i < range.end; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47) {
      if (pad > 0 && afterPad === -1) afterPad = i;
      data++;
    } else if (c === 61) {
      if (pad === 0) padStart = i;
      pad++;
    } else if (c === 13 || c === 10 || c === 32 || c === 9) {
      continue;
    } else {
      if (badFirst === -1) badFirst = i;
      badCount++;
    }
  }
  if (badFirst !== -1) {
    sink.add('eml-base64-char', { start: badFirst, end: badFirst + 1 }, `${badCount} character${badCount === 1 ? '' : 's'} outside the base64 alphabet (A–Z, a–z, 0–9, +, /, =); decoders skip them, so the data is probably damaged (RFC 2045 §6.8).`);
  }
  if (afterPad !== -1) {
    sink.add('eml-base64-padding', { start: padStart, end: afterPad + 1 }, 'Base64 data continues after the `=` padding, which may only end the data (RFC 2045 §6.8).');
    return;
  }
  reportBase64Length(text, range, data, pad, padStart, sink);
}

function lastDataChar(text: string, range: OffsetRange): number {
  let i = range.end - 1;
  while (i > range.start) {
    const c = text.charCodeAt(i);
    if (c !== 13 && c !== 10 && c !== 32 && c !== 9) break;
    i--;
  }
  return Math.max(range.start, i);
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Checks a quoted-printable body (RFC 2045 §6.7): escapes and line lengths. */
function checkQuotedPrintable(text: string, range: OffsetRange, sink: ProblemSink): void {
  let lineStart = range.start;
  for (let i = range.start; i <= range.end; i++) {
    const c = i < range.end ? text.charCodeAt(i) : 10;
    if (c === 10 || i === range.end) {
      let contentEnd = i;
      if (contentEnd > lineStart && text.charCodeAt(contentEnd - 1) === 13) contentEnd--;
      if (contentEnd - lineStart > 76) {
        sink.add('eml-qp-line-length', { start: lineStart + 76, end: contentEnd }, `This quoted-printable line is ${contentEnd - lineStart} characters long; encoded lines must not exceed 76 (RFC 2045 §6.7 rule 5). Use soft line breaks (\`=\` at the end of a line).`);
      }
      lineStart = i + 1;
      continue;
    }
    if (c === 61) {
      const a = i + 1 < range.end ? text.charCodeAt(i + 1) : -1;
      const b = i + 2 < range.end ? text.charCodeAt(i + 2) : -1;
      if (isHex(a) && isHex(b)) {
        i += 2;
        continue;
      }
      // A soft line break: `=` then optional transport padding then the line break (rule 3 and 5).
      let j = i + 1;
      while (j < range.end && (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9)) j++;
      if (j >= range.end || text.charCodeAt(j) === 10 || (text.charCodeAt(j) === 13 && text.charCodeAt(j + 1) === 10)) continue;
      sink.add('eml-qp-escape', { start: i, end: Math.min(range.end, i + 3) }, 'In quoted-printable, `=` starts an escape of two hex digits (`=3D` for `=` itself) or a soft line break (RFC 2045 §6.7 rule 1).', {
        fixes: [{ title: 'Escape as `=3D`', edits: [{ range: { start: i, end: i + 1 }, newText: '=3D' }], preferred: true }],
      });
    }
  }
}

const IDENTITY = new Set(['7bit', '8bit', 'binary']);

/**
 * The message types of RFC 6532 §3.7 and RFC 6533 §6 that carry UTF-8 content and, unlike
 * message/rfc822, may be sent with any transfer encoding, so the composite rule of RFC 2045 §6.4
 * does not apply to them.
 */
const ANY_ENCODING_MESSAGE_TYPES: ReadonlySet<string> = new Set(['message/global', 'message/global-headers', 'message/global-delivery-status', 'message/global-disposition-notification']);
const KNOWN_ENCODINGS = new Set(['7bit', '8bit', 'binary', 'quoted-printable', 'base64']);

/** Checks the transfer encoding of a part and its body. */
export function checkPartBody(text: string, part: MimePart, hasMime: boolean, sink: ProblemSink, breaks?: LineBreaks): void {
  const encoding = part.encoding;
  const field = part.encodingField;
  if (field && !KNOWN_ENCODINGS.has(encoding) && !encoding.startsWith('x-')) {
    sink.add('eml-cte-unknown', field.valueRange, `\`${encoding}\` is not a transfer encoding; use 7bit, 8bit, binary, quoted-printable or base64 (RFC 2045 §6.1).`);
    return;
  }
  const composite = part.mediaType.startsWith('multipart/') || part.mediaType.startsWith('message/');
  if (composite) {
    if (field && !IDENTITY.has(encoding) && !ANY_ENCODING_MESSAGE_TYPES.has(part.mediaType)) {
      sink.add('eml-cte-composite', field.valueRange, `A ${part.mediaType} part must not be encoded as ${encoding}; only 7bit, 8bit or binary are allowed (RFC 2045 §6.4).`);
    }
    if (part.children.length > 0) return;
  }
  const body = part.bodyRange;
  if (body.end <= body.start) return;
  if (encoding === 'base64') {
    checkBase64(text, body, sink, breaks);
  } else if (encoding === 'quoted-printable') {
    checkQuotedPrintable(text, body, sink);
    check8bit(text, body, encoding, sink, false);
  } else if (encoding === '7bit') {
    check8bit(text, body, encoding, sink, !hasMime && part.kind === 'message' && part.depth === 0);
  }
}
