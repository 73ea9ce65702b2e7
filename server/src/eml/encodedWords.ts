/**
 * Finds and checks RFC 2047 encoded words (`=?charset?B|Q?encoded-text?=`) in header field values.
 */
import type libmimeType from 'libmime';
import { OffsetRange } from '../../../common/problem';
import { isKnownCharset } from './facts/charsets';
import { ProblemSink } from './problems';
import { indexOfWithin } from './structured';

let libmimeModule: typeof libmimeType | undefined;

/**
 * libmime, loaded when an encoded word is first decoded: loading it builds iconv-lite's codec tables
 * (20–30 ms), which the CLI and the language server should not pay at start-up. The bundler keeps
 * the module in the bundle and evaluates it on this first call.
 */
function libmime(): typeof libmimeType {
  if (!libmimeModule) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require('libmime') as typeof libmimeType & { default?: typeof libmimeType };
    libmimeModule = loaded.default ?? loaded;
  }
  return libmimeModule;
}

export interface EncodedWord {
  range: OffsetRange;
  charset: string;
  encoding: 'B' | 'Q';
  encodedText: string;
  /** False when the word has a syntax error; it is then not decoded by readers. */
  valid: boolean;
}

const STRICT = /=\?([^?\s()<>@,;:"/[\]=]+)\?([BbQq])\?([^?\s]*)\?=/y;
const LOOSE = /=\?[^?\r\n]{0,80}\?[^?\r\n]{0,4}\?[^\r\n]{0,200}?\?=/y;

/** True when a B-encoded text is valid base64 (RFC 2047 §4.1). */
function validBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

/** True when a Q-encoded text uses only the allowed characters and valid escapes (RFC 2047 §4.2). */
function validQ(s: string): boolean {
  // A loop rather than a repeated regular-expression group, which can exhaust the stack on long input.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 61) {
      if (!/^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) return false;
      i += 2;
    } else if (c < 33 || c > 126 || c === 63) return false;
  }
  return true;
}

/** Finds the encoded words in `text[start, end)`; with a sink, reports their problems (RFC 2047 §2–§5). */
export function findEncodedWords(text: string, start: number, end: number, sink?: ProblemSink): EncodedWord[] {
  const words: EncodedWord[] = [];
  let pos = indexOfWithin(text, '=?', start, end);
  while (pos !== -1 && pos < end) {
    STRICT.lastIndex = pos;
    const m = STRICT.exec(text);
    if (m && m.index === pos && pos + m[0].length <= end) {
      const range = { start: pos, end: pos + m[0].length };
      const charset = m[1];
      const encoding = m[2].toUpperCase() as 'B' | 'Q';
      const encodedText = m[3];
      let valid = encoding === 'B' ? validBase64(encodedText) : validQ(encodedText);
      if (!valid) {
        sink?.add('eml-ew-syntax', range, encoding === 'B' ? 'The text of this B-encoded word is not valid base64 (RFC 2047 §4.1).' : 'The text of this Q-encoded word has characters or `=` escapes that Q encoding does not allow (RFC 2047 §4.2).');
      }
      if (m[0].length > 75) {
        sink?.add('eml-ew-too-long', range, `This encoded word is ${m[0].length} characters long; RFC 2047 §2 limits each to 75. Split it into several words separated by folding white space.`);
      }
      // RFC 2231 §5 adds an optional `*language` suffix to the charset.
      const bareCharset = charset.split('*')[0];
      if (!isKnownCharset(bareCharset)) {
        sink?.add('eml-ew-charset', { start: pos + 2, end: pos + 2 + charset.length }, `Charset \`${bareCharset}\` is not registered; readers may not decode this word (RFC 2047 §2).`);
        valid = false;
      }
      words.push({ range, charset: bareCharset, encoding, encodedText, valid });
      pos = indexOfWithin(text, '=?', range.end, end);
      continue;
    }
    LOOSE.lastIndex = pos;
    const loose = LOOSE.exec(text);
    if (loose && loose.index === pos && pos + loose[0].length <= end) {
      const range = { start: pos, end: pos + loose[0].length };
      sink?.add('eml-ew-syntax', range, 'This looks like an encoded word but is not `=?charset?B?…?=` or `=?charset?Q?…?=` without spaces (RFC 2047 §2); readers will show it as it is.');
      words.push({ range, charset: '', encoding: 'Q', encodedText: '', valid: false });
      pos = indexOfWithin(text, '=?', range.end, end);
      continue;
    }
    pos = indexOfWithin(text, '=?', pos + 2, end);
  }
  return words;
}

/** Decodes one encoded word; returns undefined when it cannot be decoded. */
export function decodeEncodedWord(word: EncodedWord): string | undefined {
  if (!word.valid) return undefined;
  try {
    return libmime().decodeWord(word.charset, word.encoding, word.encodedText);
  } catch {
    return undefined;
  }
}

/** Decodes all encoded words of a header value the way readers display it. */
export function decodeHeaderValue(value: string): string {
  try {
    return libmime().decodeWords(value.replace(/\r?\n(?=[ \t])/g, ''));
  } catch {
    return value;
  }
}
