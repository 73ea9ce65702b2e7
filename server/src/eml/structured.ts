/**
 * The lexical tokens of structured header fields (RFC 5322 §3.2): atoms, quoted strings, comments,
 * domain literals and specials, each with its offsets in the document. Folding line breaks count as
 * white space (RFC 5322 §3.2.2), so field values are tokenized in place without unfolding copies.
 */

export type TokenKind = 'atom' | 'quoted' | 'literal' | 'special' | 'error';

export interface Token {
  kind: TokenKind;
  start: number;
  end: number;
  /** True when white space or a comment separates this token from the previous one. */
  spaced: boolean;
}

export interface TokenizeResult {
  tokens: Token[];
  comments: Array<{ start: number; end: number }>;
  /** The first lexical error (unclosed quoted string, comment or literal), if any. */
  error?: { start: number; end: number; message: string };
}

export function isWsp(c: number): boolean {
  return c === 32 || c === 9;
}

/** White space inside a field value: WSP plus the CR and LF of folding. */
export function isFws(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

/**
 * atext (RFC 5322 §3.2.3) extended with non-ASCII characters as RFC 6532 §3.2 allows UTF-8 in atext.
 */
function isAtext(c: number): boolean {
  if (c >= 128) return true;
  if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return true;
  // ! # $ % & ' * + - / = ? ^ _ ` { | } ~
  return c === 33 || (c >= 35 && c <= 39) || c === 42 || c === 43 || c === 45 || c === 47 || c === 61 || c === 63 || (c >= 94 && c <= 96) || (c >= 123 && c <= 126);
}

/** Skips a comment starting at `pos` (which holds `(`); returns the offset after it or -1 if unclosed. */
export function skipComment(text: string, pos: number, end: number): number {
  let depth = 0;
  for (let i = pos; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) i++; // quoted-pair (RFC 5322 §3.2.1)
    else if (c === 40) depth++;
    else if (c === 41) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** Skips folding white space and comments (CFWS, RFC 5322 §3.2.2); stops at an unclosed comment. */
export function skipCfws(text: string, pos: number, end: number): number {
  let i = pos;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (isFws(c)) i++;
    else if (c === 40) {
      const after = skipComment(text, i, end);
      if (after === -1) return i;
      i = after;
    } else break;
  }
  return i;
}

/** Tokenizes `text[start, end)` as a structured field body. Never throws; runs in linear time. */
export function tokenize(text: string, start: number, end: number): TokenizeResult {
  const tokens: Token[] = [];
  const comments: Array<{ start: number; end: number }> = [];
  let error: TokenizeResult['error'];
  let spaced = false;
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (isFws(c)) {
      spaced = true;
      i++;
      continue;
    }
    if (c === 40) {
      const after = skipComment(text, i, end);
      if (after === -1) {
        error ??= { start: i, end, message: 'This comment is never closed with `)`.' };
        comments.push({ start: i, end });
        break;
      }
      comments.push({ start: i, end: after });
      spaced = true;
      i = after;
      continue;
    }
    if (c === 34) {
      // quoted-string (RFC 5322 §3.2.4).
      let j = i + 1;
      let closed = false;
      while (j < end) {
        const d = text.charCodeAt(j);
        if (d === 92) j += 2;
        else if (d === 34) {
          closed = true;
          j++;
          break;
        } else j++;
      }
      if (!closed) {
        error ??= { start: i, end, message: 'This quoted string is never closed with `"`.' };
        tokens.push({ kind: 'error', start: i, end, spaced });
        break;
      }
      tokens.push({ kind: 'quoted', start: i, end: Math.min(j, end), spaced });
      spaced = false;
      i = j;
      continue;
    }
    if (c === 91) {
      // domain-literal (RFC 5322 §3.4.1).
      const close = indexOfWithin(text, ']', i, end);
      if (close === -1) {
        error ??= { start: i, end, message: 'This domain literal is never closed with `]`.' };
        tokens.push({ kind: 'error', start: i, end, spaced });
        break;
      }
      tokens.push({ kind: 'literal', start: i, end: close + 1, spaced });
      spaced = false;
      i = close + 1;
      continue;
    }
    if (isAtext(c)) {
      let j = i + 1;
      while (j < end && isAtext(text.charCodeAt(j))) j++;
      tokens.push({ kind: 'atom', start: i, end: j, spaced });
      spaced = false;
      i = j;
      continue;
    }
    // specials and anything else (control characters) are single-character tokens.
    tokens.push({ kind: c < 32 || c === 127 ? 'error' : 'special', start: i, end: i + 1, spaced });
    spaced = false;
    i++;
  }
  return { tokens, comments, error };
}

/**
 * `indexOf` limited to `text[from, end)`. Searching a slice (which V8 shares with the original
 * string, without copying) keeps repeated searches over small ranges from scanning to the end of a
 * large document, which would make them quadratic.
 */
export function indexOfWithin(text: string, needle: string, from: number, end: number): number {
  if (from >= end) return -1;
  const at = text.slice(from, end).indexOf(needle);
  return at === -1 ? -1 : from + at;
}

/** True when the token is the special character `ch`. */
export function isSpecial(text: string, token: Token | undefined, ch: string): boolean {
  return token !== undefined && token.kind === 'special' && text.charCodeAt(token.start) === ch.charCodeAt(0);
}

/** Finds the first encoded word (`=?…?=`) in a range, or -1. */
export function findEncodedWord(text: string, start: number, end: number): number {
  // Search only inside the range: an unbounded indexOf would make many small calls quadratic.
  for (let i = start; i + 1 < end; i++) {
    if (text.charCodeAt(i) === 61 && text.charCodeAt(i + 1) === 63) {
      for (let j = i + 2; j + 1 < end; j++) if (text.charCodeAt(j) === 63 && text.charCodeAt(j + 1) === 61) return i;
      return -1;
    }
  }
  return -1;
}
