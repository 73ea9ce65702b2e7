/**
 * The syntax tree of a `.smtp` script. Every node carries offsets into the document (UTF-16 code
 * units, half-open), so analysers, hovers and quick fixes can point at exact places. The tree is
 * what the parser returns even for broken input: a line it cannot make sense of becomes an
 * `unknown`-verb command or a node with problems attached, never an exception.
 */
import type { OffsetRange } from '../../../common/problem';

export type { OffsetRange };

/** A piece of text with its range in the document. */
export interface Token {
  text: string;
  range: OffsetRange;
}

/** A `{{…}}` reference found in a line. */
export interface VariableReference {
  /** The user variable's name, or the built-in's name without `$` when `builtin` is true. */
  name: string;
  builtin: boolean;
  /** The built-in's argument (`{{$env HOME}}` → `HOME`), if any. */
  argument?: Token;
  /** The whole `{{…}}` range. */
  range: OffsetRange;
  /** The range of the name inside the braces. */
  nameRange: OffsetRange;
}

export interface LineBase {
  /** 0-based line number of the node's first line. */
  line: number;
  /** The node's whole range, from its first character to the end of its last line (without EOL). */
  range: OffsetRange;
  /** The references to variables inside the node's own text (bodies included). */
  references: VariableReference[];
}

export interface CommentNode extends LineBase {
  kind: 'comment';
  text: string;
}

/** `# @key value`: session metadata. */
export interface MetadataNode extends LineBase {
  kind: 'metadata';
  key: Token;
  value?: Token;
}

/** `@name = value`. */
export interface VariableNode extends LineBase {
  kind: 'variable';
  name: Token;
  /** Absent when the line has no `=`. */
  value?: Token;
}

export interface ConnectNode extends LineBase {
  kind: 'connect';
  keyword: Token;
  url?: Token;
}

export interface TlsOptionNode {
  key: Token;
  value?: Token;
  range: OffsetRange;
}

export interface TlsNode extends LineBase {
  kind: 'tls';
  keyword: Token;
  options: TlsOptionNode[];
}

export interface AuthNode extends LineBase {
  kind: 'auth';
  keyword: Token;
  mechanism?: Token;
  /** The words after the mechanism: normally the user and the secret. */
  args: Token[];
}

export type ExpectPatternNode =
  | { kind: 'code'; code: number; range: OffsetRange }
  | { kind: 'class'; class: 2 | 3 | 4 | 5; range: OffsetRange }
  | { kind: 'enhanced'; code: string; range: OffsetRange };

export interface ExpectNode extends LineBase {
  kind: 'expect';
  keyword: Token;
  codes: ExpectPatternNode[];
  enhanced: ExpectPatternNode[];
  text?: { kind: 'substring'; value: string; range: OffsetRange } | { kind: 'regex'; source: string; flags: string; range: OffsetRange };
}

export interface RawNode extends LineBase {
  kind: 'raw';
  keyword: Token;
  /** The text after `RAW `, escapes not yet decoded. */
  payload: Token;
}

/** A `KEY[=VALUE]` parameter of MAIL or RCPT (RFC 5321 §4.1.2, esmtp-param). */
export interface ParameterNode {
  name: Token;
  value?: Token;
  range: OffsetRange;
}

/** The `<path>` of MAIL FROM or RCPT TO. */
export interface PathNode {
  /** The address without its brackets (empty for the null path `<>`). */
  address: Token;
  /** The path as written, brackets included when present. */
  range: OffsetRange;
  bracketed: boolean;
}

export interface CommandNode extends LineBase {
  kind: 'command';
  /** The verb, upper-cased in `verb.text`'s normalised copy `name`. */
  verbToken: Token;
  name: string;
  /** Everything after the verb and its separating blank, as written. */
  argument?: Token;
  /** For MAIL and RCPT: the `FROM:`/`TO:` keyword. */
  pathKeyword?: Token;
  path?: PathNode;
  parameters: ParameterNode[];
}

/** DATA or BDAT with its message: inline lines up to `.`, or `< file`. */
export interface MessageNode extends LineBase {
  kind: 'data' | 'bdat';
  verbToken: Token;
  /** `< file` form. */
  file?: Token;
  /** `chunk=N` on BDAT. */
  chunkOption?: { key: Token; value?: Token; size?: number };
  /** Anything else after the verb that the form does not allow. */
  extra?: Token;
  /** The inline body: the range from the first body line to the end of the last (excluding the terminator). */
  body?: { range: OffsetRange; firstLine: number; lines: Token[] };
  /** The terminating `.` line, absent when the body never ends. */
  terminator?: Token;
  /** Set when RAW lines follow directly: the script writes the message bytes itself. */
  rawFollows?: boolean;
}

export type SessionItem =
  | CommentNode
  | MetadataNode
  | VariableNode
  | ConnectNode
  | TlsNode
  | AuthNode
  | ExpectNode
  | RawNode
  | CommandNode
  | MessageNode;

export interface SessionNode {
  /** The `###` line, absent for commands before the first separator. */
  separator?: { range: OffsetRange; title: Token | undefined };
  title: string;
  /** 0-based index among the file's sessions. */
  index: number;
  /** From the separator (or first item) to the end of the session's last line. */
  range: OffsetRange;
  line: number;
  endLine: number;
  /** The session's lines in order. Trees are values: nothing changes them once built. */
  readonly items: readonly SessionItem[];
}

export interface SmtpDocument {
  text: string;
  /** Items before the first session separator that are not commands: file variables and comments. */
  preamble: SessionItem[];
  sessions: SessionNode[];
  /** The start offset of every line, for offset ↔ line conversions. */
  lineStarts: ArrayLike<number>;
  /**
   * Set when the document is one session's chunk only, as the parse cache keeps it: `text` then
   * starts at document offset `offset` and `lineStarts[k]` is the start of line `line + k`,
   * relative to `offset`. Read such a document with `documentText` and `documentLineStart`.
   */
  window?: { offset: number; line: number };
}

/** The text of [start, end) in document offsets, in a whole document or a window of one. */
export function documentText(document: SmtpDocument, start: number, end: number): string {
  const base = document.window?.offset ?? 0;
  return document.text.slice(start - base, end - base);
}

/** The document offset where a line starts, in a whole document or a window of one. */
export function documentLineStart(document: SmtpDocument, line: number): number | undefined {
  const window = document.window;
  if (!window) return document.lineStarts[line];
  const relative = document.lineStarts[line - window.line];
  return relative === undefined ? undefined : relative + window.offset;
}
