/**
 * The one home of escaping. Everything a peer sends (server replies, DNS answers, report files,
 * `.eml` content, HTTPS bodies) and everything a script writes is data: before it reaches a
 * terminal, a log channel, test output or Markdown, it goes through one of these functions.
 * Pure: no I/O, no `vscode`.
 *
 * - `visibleText`: for terminals, logs and plain-text exports. C0 controls other than tab and line
 *   feed, DEL, C1 controls (so every ESC sequence and every 8-bit CSI), lone surrogates and the
 *   invisible or reordering characters (bidi embeddings, overrides and isolates, zero-width marks,
 *   line and paragraph separators, the byte order mark) become visible escapes (`\x1B`, `\u202E`).
 * - `visibleLine`: the same for one line, with line feeds escaped too.
 * - `replaceInvisible`: the same characters, each replaced by a caller's visible form (the transcript
 *   webview's marked placeholders build on it).
 * - `escapeBytes` / `decodeRawEscapes`: the RAW line notation (`\r`, `\n`, `\t`, `\\`, `\xHH`), both ways.
 * - `escapeMarkdown`: user text inside Markdown prose can never format or link anything.
 * - `escapeMarkdownData`: the same for peer data (a DNS answer, a header), with line breaks shown
 *   escaped (`\x0A`) instead of joined, so that the text the peer sent stays visible as sent.
 * - `markdownCodeSpan`: peer data as one inline code span, exact but inert.
 * - `markdownTableCell`: peer data for one cell of a GFM table row: no `|` can split the cell and
 *   no line break can end the row.
 * - `markdownFence`: a code fence that no line of the text it encloses can close.
 * - `escapeHtml`: the five HTML specials, for text nodes and double-quoted attributes.
 * - `jsonText`: JSON for `--json` output, with the same characters written as `\uXXXX` escapes.
 */

// C0 controls except tab (U+0009) and line feed (U+000A), DEL, C1 controls, soft hyphen, Arabic
// letter mark, Mongolian vowel separator, zero-width and directional marks, line and paragraph
// separators, bidi embeddings, overrides and isolates, word joiners and invisible operators, the
// byte order mark, interlinear annotations, and unpaired surrogates.
// eslint-disable-next-line no-control-regex
const INVISIBLE_RE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// The same set plus line feed, for one-line output.
// eslint-disable-next-line no-control-regex
const INVISIBLE_LINE_RE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function hex(code: number, width: number): string {
  return code.toString(16).toUpperCase().padStart(width, '0');
}

function escapeOne(ch: string): string {
  const code = ch.charCodeAt(0);
  return code < 0x100 ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
}

/** Makes control and invisible characters visible (`\x1B`, `\u202E`), keeping tabs and line feeds. */
export function visibleText(text: string): string {
  return String(text).replace(INVISIBLE_RE, escapeOne);
}

/**
 * Replaces each character `visibleText` would escape (tabs and line feeds are kept) with what
 * `replace` returns, for outputs with their own visible form, such as a webview's marked
 * placeholders. None of these characters is an HTML special, so this can run after `escapeHtml`.
 */
export function replaceInvisible(text: string, replace: (ch: string) => string): string {
  return String(text).replace(INVISIBLE_RE, replace);
}

/** Like `visibleText`, but a line feed is escaped too, so the result is exactly one line. */
export function visibleLine(text: string): string {
  return String(text).replace(INVISIBLE_LINE_RE, escapeOne);
}

/**
 * One line of peer text for VS Code's own labels (a quick pick's label, description or detail, a
 * tree item's description): `visibleLine`, and `$(` escaped so that `$(pass)` in a DNS record or
 * a header shows as text, never as a theme icon.
 */
export function iconInertLine(text: string): string {
  return visibleLine(text).replace(/\$\(/g, '\\$(');
}

/**
 * JSON text for machine-readable output (`--json`) that a terminal can show safely: the same value
 * as `JSON.stringify(value, null, indent)` gives, with every character `visibleText` would escape
 * written as a JSON `\uxxxx` escape (lower-case hex, as JSON.stringify writes). JSON.stringify
 * already escapes C0 controls and lone surrogates, but leaves DEL, C1 controls (an 8-bit CSI starts
 * an escape sequence on some terminals) and the bidi and invisible characters raw. Outside strings
 * JSON text is ASCII, so only strings change, and a JSON parser reads back exactly the same data
 * (RFC 8259 §7).
 */
export function jsonText(value: unknown, indent?: number): string {
  return (JSON.stringify(value, null, indent) ?? 'null').replace(INVISIBLE_RE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** True when `visibleText` would change the text. */
export function hasInvisible(text: string): boolean {
  INVISIBLE_RE.lastIndex = 0;
  const found = INVISIBLE_RE.test(text);
  INVISIBLE_RE.lastIndex = 0;
  return found;
}

/**
 * Shows bytes as a RAW line writes them: printable ASCII as is, CR, LF, tab and backslash as
 * `\r`, `\n`, `\t`, `\\`, every other octet as `\xHH`. The inverse of `decodeRawEscapes`.
 */
export function escapeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    if (b === 13) out += '\\r';
    else if (b === 10) out += '\\n';
    else if (b === 9) out += '\\t';
    else if (b === 92) out += '\\\\';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += '\\x' + hex(b, 2);
  }
  return out;
}

function isHexDigit(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
}

/**
 * Decodes the escapes of a RAW payload: `\r`, `\n`, `\t`, `\\` and `\xHH` (either case of `x`).
 * An unknown escape is kept as written. Returns bytes, since `\xHH` can produce any octet.
 */
export function decodeRawEscapes(text: string): Buffer {
  const utf8 = Buffer.from(text, 'utf8');
  const bytes: number[] = [];
  for (let i = 0; i < utf8.length; i++) {
    const b = utf8[i];
    if (b !== 0x5c || i + 1 >= utf8.length) {
      bytes.push(b);
      continue;
    }
    const n = utf8[i + 1];
    if (n === 0x72) {
      bytes.push(13);
      i++;
    } else if (n === 0x6e) {
      bytes.push(10);
      i++;
    } else if (n === 0x74) {
      bytes.push(9);
      i++;
    } else if (n === 0x5c) {
      bytes.push(0x5c);
      i++;
    } else if ((n === 0x78 || n === 0x58) && isHexDigit(utf8[i + 2]) && isHexDigit(utf8[i + 3])) {
      bytes.push(parseInt(String.fromCharCode(utf8[i + 2], utf8[i + 3]), 16));
      i += 3;
    } else {
      bytes.push(b);
    }
  }
  return Buffer.from(bytes);
}

/**
 * Escapes text for Markdown prose (CommonMark §2.4: any ASCII punctuation may be backslash-escaped),
 * so that user text can never format, link or embed HTML. Line breaks become spaces, so the result
 * is one line, and invisible characters are made visible. Characters that act anywhere in a line
 * (emphasis, code spans, link and image brackets, HTML, entities, headings, tables, strike-through)
 * are always escaped; with `[` and `]` escaped, `(`, `)` and `!` cannot form a link or an image.
 * Those that only act at the start of a block (`-`, `+`, `=` as list markers, breaks or setext
 * underlines, and `.` or `)` after digits as ordered-list markers, CommonMark §4.1, §4.3, §5.2) are
 * escaped where they start the text, and `$(` is escaped so that VS Code shows no theme icon. So
 * prose such as `dot-stuffing`, `example.test` or `5.1.1` stays readable in the Markdown source.
 */
export function escapeMarkdown(text: string): string {
  return visibleLine(String(text).replace(/\r\n|\r|\n/g, ' '))
    .replace(/[\\`*_[\]#<>|~&]/g, (c) => '\\' + c)
    // VS Code renders `$(name)` as an icon where a Markdown string supports theme icons.
    .replace(/\$\(/g, '\\$(')
    .replace(/^(\s*)([-+=])(?=[\s\-+=]|$)/, '$1\\$2')
    .replace(/^(\s*\d{1,9})([.)])(?=\s|$)/, '$1\\$2');
}

/**
 * Escapes peer data for Markdown prose: like `escapeMarkdown`, but a line feed, carriage return or
 * any other control character is shown escaped (`\x0A`, `\x0D`), never turned into a space, so a
 * record with a line break reads differently from one with a space, and the result is one line.
 */
export function escapeMarkdownData(text: string): string {
  return escapeMarkdown(visibleLine(text));
}

/**
 * Peer data as one inline code span (CommonMark §6.1): control and invisible characters are made
 * visible (`visibleLine`, so the span stays on one line), and the span is delimited by a run of
 * backticks longer than any run inside it, padded with a space when the text starts or ends with a
 * backtick or a space. Inside a code span nothing formats, links or embeds HTML, and the text is
 * shown exactly, backticks included.
 */
export function markdownCodeSpan(text: string): string {
  const body = visibleLine(text);
  if (body === '') return '` `';
  const fence = '`'.repeat(longestBacktickRun(body) + 1);
  const pad = /^[` ]|[` ]$/.test(body) ? ' ' : '';
  return `${fence}${pad}${body}${pad}${fence}`;
}

/**
 * Peer data for one cell of a GitHub Flavored Markdown table row (GFM §4.10), inert like
 * `escapeMarkdownData`. A table row is split at every unescaped `|` before anything else is parsed,
 * even inside a code span, so each `|` is written `\|` (the only way a cell can hold one), and a line
 * break would end the row, so line feeds and carriage returns are shown escaped (`\x0A`). The result
 * is one line that reads as exactly one cell.
 */
export function markdownTableCell(text: string): string {
  // escapeMarkdown writes every `|` as `\|`, and visibleLine shows every line break escaped.
  return escapeMarkdownData(text);
}

/**
 * A fence of backticks for a fenced code block (CommonMark §4.5) that no line of `text` can close:
 * longer than any run of backticks in it, and at least three.
 */
export function markdownFence(text: string): string {
  return '`'.repeat(Math.max(3, longestBacktickRun(text) + 1));
}

function longestBacktickRun(text: string): number {
  let longest = 0;
  for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return longest;
}

const HTML_SPECIALS: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes the five HTML specials, for a text node or a double-quoted attribute value. */
export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => HTML_SPECIALS[c]);
}
