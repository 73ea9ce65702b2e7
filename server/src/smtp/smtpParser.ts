/**
 * A hand-written, never-throwing parser for `.smtp` scripts (docs/smtp-language.md). It works line
 * by line: each line is classified by how it starts, so a broken line never disturbs the next one,
 * and `DATA`/`BDAT` bodies are consumed up to their `.` terminator. A `###` line always starts a
 * session, even inside a body that was never terminated: that is how the parser recovers while the
 * user is still typing a message.
 *
 * The parser only builds the tree and reports problems of form (syntax); the rules of order,
 * limits, security and variables live in smtpAnalyzer.ts.
 */
import type { Problem } from '../../../common/problem';
import type {
  AuthNode,
  CommandNode,
  ConnectNode,
  ExpectNode,
  ExpectPatternNode,
  MessageNode,
  MetadataNode,
  OffsetRange,
  ParameterNode,
  PathNode,
  RawNode,
  SessionItem,
  SessionNode,
  SmtpDocument,
  TlsNode,
  TlsOptionNode,
  Token,
  VariableNode,
  VariableReference,
} from './smtpAst';
import { moveItem, moveProblem } from './smtpMove';
import { problem } from './smtpProblems';

export interface ParseResult {
  document: SmtpDocument;
  problems: Problem[];
  /**
   * With a cache, each session's cache entry, by session index (for its analysis, see
   * smtpService.ts). An array rather than a WeakMap from nodes: an edit moves every later session
   * to a new node, and a weak table holding one key per node ever made is costly to collect.
   */
  entries?: Array<ChunkEntry | undefined>;
}

/** One physical line of the document. Its text is cut from the document only when asked for. */
class SourceLine {
  constructor(
    private readonly source: string,
    /** The offset of the line's first character. */
    readonly start: number,
    /** The end of the line's text, before its line break. */
    readonly end: number,
    /** The offset in the document of the source's first character (see Lines.window). */
    private readonly base = 0,
  ) {}

  get text(): string {
    return this.source.slice(this.start - this.base, this.end - this.base);
  }

  /** True when the line, after leading blanks, starts with `###`: a session separator. */
  isSeparator(): boolean {
    const end = this.end - this.base;
    let i = this.start - this.base;
    while (i < end && (this.source.charCodeAt(i) === 32 || this.source.charCodeAt(i) === 9)) i++;
    return end - i >= 3 && this.source.startsWith('###', i);
  }

  /** True when the line holds only blanks. */
  isBlank(): boolean {
    for (let i = this.start - this.base; i < this.end - this.base; i++) {
      const c = this.source.charCodeAt(i);
      if (c !== 32 && c !== 9 && c !== 12 && c !== 11) return false;
    }
    return true;
  }
}

/**
 * A string with the same characters as `text` that holds no reference to a larger string. V8 cuts a
 * slice of 13 or more characters as a view into its parent: a token cut from the whole document
 * would keep that version of the document alive as long as the token lives, and the cache keeps
 * each session's tokens across many edits (one document text per edited session). Concatenating
 * and cutting again makes V8 copy the characters once into a string of the chunk's own size.
 */
function ownCopy(text: string): string {
  return (' ' + text).slice(1);
}

/**
 * The lines of a document, as offsets: `starts[i]` is where line i begins and `ends[i]` where its
 * text ends, before its line break. A line object is made only when a line is read. A window (see
 * `window`) holds the text of some lines only, from document offset `base`: only those lines may be
 * read from it.
 */
class Lines {
  constructor(
    private readonly text: string,
    readonly starts: LineOffsets,
    readonly ends: LineOffsets,
    private readonly base = 0,
  ) {}

  get length(): number {
    return this.starts.length;
  }

  at(i: number): SourceLine {
    return new SourceLine(this.text, this.starts[i], this.ends[i], this.base);
  }

  /**
   * Lines [from, to) over a copy of their own text (see ownCopy), so that what is parsed from them
   * keeps only that text alive; offsets and line numbers stay the document's.
   */
  window(from: number, to: number): { lines: Lines; source: Source } {
    const start = this.starts[from];
    const text = ownCopy(this.text.slice(start - this.base, this.ends[to - 1] - this.base));
    const lineStarts: number[] = [];
    for (let i = from; i < to; i++) lineStarts.push(this.starts[i] - start);
    return { lines: new Lines(text, this.starts, this.ends, start), source: { text, lineStarts } };
  }
}

/**
 * Finds the lines of text[from, to) and appends their starts and ends. `from` is a line start;
 * `to` is a line start too, or the end of the text, where the last line (possibly empty) is added.
 * CRLF, LF and a lone CR all end a line, as they do for the LSP's positions, so offsets computed
 * here agree with the editor's.
 */
function scanLines(text: string, from: number, to: number, starts: number[], ends: number[]): void {
  let start = from;
  // A short run (the lines an edit touched) is read character by character; a long one is searched.
  const cr = to - from < 4096 ? 0 : text.indexOf('\r', from);
  if (cr === -1 || cr >= to) {
    // The usual case, no CR: the engine's own search finds each line feed.
    for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) {
      starts.push(start);
      ends.push(i);
      start = i + 1;
    }
  } else {
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) {
        starts.push(start);
        ends.push(i);
        if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
        start = i + 1;
      }
    }
  }
  if (to === text.length) {
    starts.push(start);
    ends.push(text.length);
  }
}

/**
 * Line offsets of a whole document, in typed arrays: an edit makes new ones of exactly the right
 * size in one allocation each, outside the garbage-collected heap's young generation, where growing
 * plain arrays line by line cost a keystroke several times their size in garbage.
 */
type LineOffsets = Int32Array;

/** Joins the offsets of unchanged lines before an edit, of the lines it touched, and of the lines after it moved by `delta`. */
function joinOffsets(old: LineOffsets, prefix: number, middle: readonly number[], suffixFrom: number, delta: number): LineOffsets {
  const out = new Int32Array(prefix + middle.length + (old.length - suffixFrom));
  out.set(old.subarray(0, prefix));
  let at = prefix;
  for (const offset of middle) out[at++] = offset;
  for (let i = suffixFrom; i < old.length; i++) out[at++] = old[i] + delta;
  return out;
}

/** True when the line [start, end), after leading blanks, starts with `###`: a session separator. */
function isSeparatorLine(text: string, start: number, end: number): boolean {
  let i = start;
  while (i < end && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
  return end - i >= 3 && text.startsWith('###', i);
}

/** A run of lines [from, to) that forms one session (or the preamble), and its cache entry. */
interface Chunk {
  from: number;
  to: number;
  separator: boolean;
  entry?: ChunkEntry;
  /** The session made of this chunk; the next parse reuses it when nothing before it changed. */
  session?: SessionNode;
  /** The session this chunk was, before an edit above it moved it by `offset` and `line`. */
  movedFrom?: { session: SessionNode; offset: number; line: number };
}

/** Splits lines [from, to) into chunks at `###` lines, as a full parse does. */
function findChunks(text: string, lines: Lines, from: number, to: number, chunks: Chunk[]): void {
  let chunkStart = from;
  for (let i = from; i < to; i++) {
    if (isSeparatorLine(text, lines.starts[i], lines.ends[i]) && i > chunkStart) {
      chunks.push({ from: chunkStart, to: i, separator: isSeparatorLine(text, lines.starts[chunkStart], lines.ends[chunkStart]) });
      chunkStart = i;
    }
  }
  if (to > chunkStart) chunks.push({ from: chunkStart, to, separator: isSeparatorLine(text, lines.starts[chunkStart], lines.ends[chunkStart]) });
}

/**
 * True when chunks `from`… of the last parse all stand unchanged at the end of the new text, moved
 * by `delta`: each a session (`###`), the first after a line break and not before `middleStart`,
 * and the text from the first to the end the same. What the chunk-by-chunk comparison in
 * linesAndChunks finds, in one comparison.
 */
function restUnchanged(text: string, old: string, starts: LineOffsets, chunks: readonly Chunk[], from: number, delta: number, middleStart: number): boolean {
  const s = starts[chunks[from].from];
  const at = s + delta;
  if (at < middleStart || at < 1) return false;
  const before = text.charCodeAt(at - 1);
  if (before !== 10 && before !== 13) return false;
  for (let i = from; i < chunks.length; i++) if (!chunks[i].separator) return false;
  return text.length - at === old.length - s && text.slice(at) === old.slice(s);
}

/** What the cache keeps of the last parse: its text, its lines and its chunks with their entries. */
interface LastParse {
  text: string;
  starts: LineOffsets;
  ends: LineOffsets;
  chunks: Chunk[];
}

/**
 * The lines and chunks of a new text, from the last parse where the texts agree. Chunks at the
 * start that are unchanged keep their place; chunks at the end that are unchanged move by the
 * edit's length and lines (both found by comparing the texts with the engine's own string
 * comparison, no hashing); only the lines between them are split and searched for `###` again.
 */
function linesAndChunks(text: string, last: LastParse | undefined): { lines: Lines; chunks: Chunk[]; spare?: Map<string, ChunkEntry[]> } {
  const starts: number[] = [];
  const ends: number[] = [];
  const chunks: Chunk[] = [];
  if (!last || last.chunks.length === 0) {
    scanLines(text, 0, text.length, starts, ends);
    const lines = new Lines(text, Int32Array.from(starts), Int32Array.from(ends));
    findChunks(text, lines, 0, lines.length, chunks);
    return { lines, chunks };
  }
  const old = last.text;
  const oldChunks = last.chunks;
  const oldLineCount = last.starts.length;
  const spanEnd = (c: Chunk) => (c.to < oldLineCount ? last.starts[c.to] : old.length);
  // Unchanged chunks at the start: the chunk's text, its line break and the next character agree
  // (the next character settles a CR that a following LF would join). The last chunk never counts.
  let k = 0;
  while (k < oldChunks.length - 1) {
    const c = oldChunks[k];
    const s = last.starts[c.from];
    const e = spanEnd(c) + 1;
    // Equality of two slices compares their characters directly (startsWith of a slice is slower).
    if (text.slice(s, e) !== old.slice(s, e)) break;
    k++;
  }
  // The chunk after them must still start with a `###` line (the edit may have removed it).
  if (k > 0) {
    const s = last.starts[oldChunks[k].from];
    let e = s;
    while (e < text.length && text.charCodeAt(e) !== 10 && text.charCodeAt(e) !== 13) e++;
    if (!isSeparatorLine(text, s, e)) k--;
  }
  // Unchanged chunks at the end, moved by the difference in length; they start after a line break.
  const delta = text.length - old.length;
  const middleStart = k < oldChunks.length ? last.starts[oldChunks[k].from] : old.length;
  let j = oldChunks.length;
  // Usually everything after the edited chunk is unchanged: one comparison of the whole rest says so.
  if (k + 1 < oldChunks.length && restUnchanged(text, old, last.starts, oldChunks, k + 1, delta, middleStart)) j = k + 1;
  while (j - 1 > k) {
    const c = oldChunks[j - 1];
    const s = last.starts[c.from];
    const at = s + delta;
    if (at < middleStart || !c.separator) break;
    const before = text.charCodeAt(at - 1);
    if ((before !== 10 && before !== 13) || text.slice(at, at + spanEnd(c) - s) !== old.slice(s, spanEnd(c))) break;
    j--;
  }
  // Lines before the middle are as they were; the middle is split again; the rest move.
  const prefixLines = k < oldChunks.length ? oldChunks[k].from : oldLineCount;
  const middleEnd = j < oldChunks.length ? last.starts[oldChunks[j].from] + delta : text.length;
  scanLines(text, middleStart, middleEnd, starts, ends);
  const middleLines = prefixLines + starts.length;
  const suffixFrom = j < oldChunks.length ? oldChunks[j].from : oldLineCount;
  const lineDelta = middleLines - suffixFrom;
  const lines = new Lines(text, joinOffsets(last.starts, prefixLines, starts, suffixFrom, delta), joinOffsets(last.ends, prefixLines, ends, suffixFrom, delta));
  for (let i = 0; i < k; i++) chunks.push(oldChunks[i]);
  findChunks(text, lines, prefixLines, middleLines, chunks);
  for (let i = j; i < oldChunks.length; i++) {
    const c = oldChunks[i];
    const entry = c.entry && (delta === 0 && lineDelta === 0 ? c.entry : c.entry.movedTo(c.entry.start + delta, c.entry.line + lineDelta));
    chunks.push({ from: c.from + lineDelta, to: c.to + lineDelta, separator: c.separator, entry, movedFrom: c.session ? { session: c.session, offset: delta, line: lineDelta } : undefined });
  }
  // The sessions of the middle as they were, by text, for a session the edit moved within it.
  const spare = new Map<string, ChunkEntry[]>();
  for (let i = k; i < j; i++) {
    const c = oldChunks[i];
    if (!c.entry) continue;
    const key = old.slice(last.starts[c.from], last.ends[c.to - 1]);
    const list = spare.get(key);
    if (list) list.push(c.entry);
    else spare.set(key, [c.entry]);
  }
  return { lines, chunks, spare };
}

/** Words that are directives of the language rather than SMTP verbs. */
const DIRECTIVES = new Set(['CONNECT', 'TLS', 'AUTH', 'EXPECT', 'RAW']);

/**
 * A session's analysis as the cache keeps it: its problems, which move with the session, and
 * `extra`, whose positions are relative to the session's chunk (see smtpService.ts), so it stays
 * true when the session moves.
 */
export interface CachedAnalysis {
  /** The names the analysis read outside the session (see smtpService.ts). */
  readonly dependencies: readonly string[];
  /** What it read of them: it is valid while a new reading gives the same. */
  readonly values: ReadonlyArray<string | boolean | undefined>;
  readonly problems: readonly Problem[];
  readonly extra: unknown;
}

/** Problems moved by `by`; an empty list is shared, not copied. */
function moveProblems(problems: readonly Problem[], by: { offset: number; line: number }): readonly Problem[] {
  return problems.length === 0 ? problems : problems.map((p) => moveProblem(p, by));
}

/**
 * What the parser keeps of each session between edits: its items and problems (see ParseCache).
 * An edit changes one session's text, so every other session is reused: as is
 * when it stands where it stood, or as a moved copy (smtpMove.ts) when the edit moved it. Entries
 * never change their trees once made, so trees handed out earlier stay true of the text they came
 * from. A moved entry builds its items only when someone reads them: typing in one session moves
 * every later one, whose cached analysis is all the diagnostics need. The session's analysis is
 * kept with it (see smtpService.ts), so unchanged sessions are not analysed again either.
 */
export class ChunkEntry {
  private built?: readonly SessionItem[];
  /** The session's analysis, valid while what it reads of the file is the same. */
  analysis?: CachedAnalysis;
  /** The analysis placed at this entry's offsets, made once per entry (see smtpService.ts). */
  placed?: unknown;

  constructor(
    readonly start: number,
    readonly line: number,
    /** Built items, where they stand and the text they stand in; this entry's items are these, moved to `start` and `line`. */
    private readonly origin: ChunkOrigin,
    readonly problems: readonly Problem[],
  ) {
    if (origin.start === start && origin.line === line) this.built = origin.items;
  }

  get items(): readonly SessionItem[] {
    if (!this.built) {
      const by = { offset: this.start - this.origin.start, line: this.line - this.origin.line };
      this.built = this.origin.items.map((item) => moveItem(item, by));
    }
    return this.built;
  }

  /** The items as built, where they stood then: without moving them (see `itemsAsBuilt`). */
  get itemsAsBuilt(): readonly SessionItem[] {
    return this.built ?? this.origin.items;
  }

  /**
   * The session in its chunk's own text (see Source), to analyse it without the whole document.
   * When its items are not built where it stands now, the session is given as it stood where they
   * were built, with how far it has moved since: analysing it there and moving the results is
   * cheaper than moving every item (an edit above many sessions that changes what they mean, a file
   * variable, moves them all); otherwise `by` is zero.
   */
  view(session: SessionNode): { document: SmtpDocument; session: SessionNode; by: { offset: number; line: number } } {
    const source = this.origin.source;
    if (this.built) {
      return { by: { offset: 0, line: 0 }, session, document: { text: source.text, lineStarts: source.lineStarts, window: { offset: this.start, line: this.line }, preamble: [], sessions: [] } };
    }
    const by = { offset: this.start - this.origin.start, line: this.line - this.origin.line };
    const back = (r: OffsetRange): OffsetRange => ({ start: r.start - by.offset, end: r.end - by.offset });
    const separator = session.separator && {
      range: back(session.separator.range),
      title: session.separator.title && { text: session.separator.title.text, range: back(session.separator.title.range) },
    };
    return {
      by,
      document: { text: source.text, lineStarts: source.lineStarts, window: { offset: this.origin.start, line: this.origin.line }, preamble: [], sessions: [] },
      session: { separator, title: session.title, index: session.index, range: back(session.range), line: session.line - by.line, endLine: session.endLine - by.line, items: this.origin.items },
    };
  }

  /** Lints of the session's message bodies, by body text: they depend on nothing else. */
  get bodyLints(): Map<string, Problem[]> {
    return (this.origin.bodyLints ??= new Map());
  }

  /** This entry at another place in a new text: a new entry; this one is left as it is. */
  movedTo(start: number, line: number): ChunkEntry {
    if (start === this.start && line === this.line) return this;
    const by = { offset: start - this.start, line: line - this.line };
    // The chunk's text is the same wherever it stands: the origin's window serves built items too.
    const origin: ChunkOrigin = this.built ? { items: this.built, start: this.start, line: this.line, source: this.origin.source, bodyLints: this.origin.bodyLints } : this.origin;
    const moved = new ChunkEntry(start, line, origin, moveProblems(this.problems, by));
    const analysis = this.analysis;
    if (analysis) moved.analysis = { values: analysis.values, dependencies: analysis.dependencies, problems: moveProblems(analysis.problems, by), extra: analysis.extra };
    return moved;
  }
}

/**
 * The text of one chunk, copied out of the document it was parsed in (see ownCopy), and the start
 * of each of its lines relative to the chunk's first character: true wherever the chunk moves.
 */
interface Source {
  readonly text: string;
  readonly lineStarts: number[];
}

/** Where a chunk's items were built. */
interface ChunkOrigin {
  readonly items: readonly SessionItem[];
  readonly start: number;
  readonly line: number;
  /** The chunk's own text, which starts at `start` (its first line is `line`). */
  readonly source: Source;
  bodyLints?: Map<string, Problem[]>;
}

/**
 * What the parser keeps of a document between edits: the last text, its lines, and each session's
 * items and problems (ChunkEntry). A new text is compared with the last one (see linesAndChunks):
 * sessions before the edit are reused as they are, sessions after it as moved copies, and only the
 * sessions the edit touched are parsed again, so a keystroke costs work in proportion to its session.
 */
export class ParseCache {
  /** The last parse; undefined before the first. */
  last?: LastParse;
  /**
   * The file variables and external names the sessions' cached analyses were last checked against
   * (see smtpService.ts): while they are the same nodes and set, every cached analysis still holds.
   */
  checkedScope?: { variables: readonly SessionItem[]; external: ReadonlySet<string> | undefined };
}


/** Parses a whole document; with a cache, only the sessions an edit touched (see ParseCache). */
export function parseSmtp(text: string, cache?: ParseCache): ParseResult {
  const { lines, chunks, spare } = linesAndChunks(text, cache?.last);
  const problems: Problem[] = [];
  const sessions: SessionNode[] = [];
  const preamble: SessionItem[] = [];
  const entries: Array<ChunkEntry | undefined> = [];

  // Sessions are delimited by `###` lines; the lines before the first one form the preamble,
  // whose commands (if any) become an untitled first session.
  let index = 0;
  for (const chunk of chunks) {
    // A session that nothing before it changed is the same session; one an edit above it moved is
    // its old node moved, with the same entry (so its items are built only when read).
    if (chunk.session && chunk.session.index === index && chunk.entry) {
      for (const p of chunk.entry.problems) problems.push(p);
      sessions.push(chunk.session);
      entries.push(chunk.entry);
      index++;
      continue;
    }
    if (chunk.movedFrom && chunk.entry) {
      const moved = moveSession(chunk.movedFrom.session, chunk.movedFrom, index++, chunk.entry);
      for (const p of chunk.entry.problems) problems.push(p);
      entries.push(chunk.entry);
      chunk.session = moved;
      sessions.push(moved);
      continue;
    }
    const parsed: SessionItem[] = [];
    let first = chunk.from;
    let separator: SessionNode['separator'];
    // With a cache, what is parsed is kept across edits: it is cut from the chunk's own text.
    const window = cache ? lines.window(chunk.from, chunk.to) : undefined;
    const chunkLines = window?.lines ?? lines;
    if (chunk.separator) {
      const line = chunkLines.at(chunk.from);
      const lineText = line.text;
      const hashes = lineText.indexOf('###');
      const titleStart = hashes + 3;
      const rawTitle = lineText.slice(titleStart);
      const trimmed = rawTitle.trim();
      const lead = rawTitle.length - rawTitle.trimStart().length;
      separator = {
        range: { start: line.start, end: line.end },
        title: trimmed ? { text: trimmed, range: { start: line.start + titleStart + lead, end: line.start + titleStart + lead + trimmed.length } } : undefined,
      };
      first = chunk.from + 1;
    }
    let entry = chunk.entry;
    if (cache && !entry) {
      const chunkStart = lines.starts[chunk.from];
      const list = spare?.get(text.slice(chunkStart, lines.ends[chunk.to - 1]));
      entry = list?.pop()?.movedTo(chunkStart, chunk.from);
      if (!entry && window) {
        const chunkProblems: Problem[] = [];
        parseItems(window.lines, first, chunk.to, parsed, chunkProblems);
        entry = new ChunkEntry(chunkStart, chunk.from, { items: parsed, start: chunkStart, line: chunk.from, source: window.source }, chunkProblems);
      }
      chunk.entry = entry;
    }
    if (entry) {
      for (const p of entry.problems) problems.push(p);
    } else {
      parseItems(lines, first, chunk.to, parsed, problems);
    }
    const reused = entry;
    if (!separator) {
      const items = reused ? reused.items : parsed;
      // The preamble: file variables and comments stay in the preamble; commands make a session.
      const commands = items.filter((item) => item.kind !== 'comment' && item.kind !== 'variable' && item.kind !== 'metadata');
      if (commands.length === 0) {
        for (const item of items) preamble.push(item);
        continue;
      }
      // Variables defined before the first command of an untitled session are file variables.
      const firstCommand = items.indexOf(commands[0]);
      for (const item of items.slice(0, firstCommand)) if (item.kind === 'variable') preamble.push(item);
      const sessionItems = items.slice(firstCommand);
      const startItem = sessionItems[0];
      const lastLine = lastNonBlankLine(lines, chunk.from, chunk.to);
      sessions.push({
        title: `Session ${index + 1}`,
        index: index++,
        range: { start: startItem.range.start, end: lines.ends[lastLine] },
        line: startItem.line,
        endLine: lastLine,
        items: items.slice(0, firstCommand).filter((item): boolean => item.kind !== 'variable').concat(sessionItems),
        separator: undefined,
      });
      // Its items are cut from the chunk's: it is analysed afresh each time.
      entries.push(undefined);
      continue;
    }
    const lastLine = Math.max(chunk.from, lastNonBlankLine(lines, chunk.from, chunk.to));
    // A reused session's items are built when first read (see ChunkEntry).
    const session = new ChunkSession(separator, separator.title?.text ?? `Session ${index + 1}`, index++, { start: lines.starts[chunk.from], end: lines.ends[lastLine] }, chunk.from, lastLine, reused ?? parsed);
    entries.push(entry);
    chunk.session = session;
    sessions.push(session);
  }
  if (cache) cache.last = { text, starts: lines.starts, ends: lines.ends, chunks };

  return {
    document: { text, preamble, sessions, lineStarts: lines.starts },
    problems,
    ...(cache ? { entries } : {}),
  };
}

/** A range moved by `offset` characters. */
function shiftRange(r: OffsetRange, offset: number): OffsetRange {
  return { start: r.start + offset, end: r.end + offset };
}

/**
 * A session node at another place, with another index; its items are its entry's. The node keeps
 * nothing of the node it was moved from: it holds the entry alone (a node that
 * also held `by`, which holds the earlier node, would chain every node a session ever had).
 */
function moveSession(session: SessionNode, by: { offset: number; line: number }, index: number, entry: ChunkEntry): SessionNode {
  const offset = by.offset;
  const separator = session.separator && {
    range: shiftRange(session.separator.range, offset),
    title: session.separator.title && { text: session.separator.title.text, range: shiftRange(session.separator.title.range, offset) },
  };
  return new ChunkSession(separator, separator?.title ? session.title : `Session ${index + 1}`, index, shiftRange(session.range, offset), session.line + by.line, session.endLine + by.line, entry);
}

/**
 * A session node of a `###` chunk, whose items are its cache entry's (built when first read) or
 * the ones just parsed. A class rather than an object literal with an `items` getter: V8 makes such
 * a literal on a slow path, some ten times the cost of this, and an edit makes one for every
 * session after it. It reads as plain data: `toJSON` gives the fields a literal would have.
 */
class ChunkSession implements SessionNode {
  readonly #items: ChunkEntry | readonly SessionItem[];

  constructor(
    readonly separator: SessionNode['separator'],
    readonly title: string,
    readonly index: number,
    readonly range: OffsetRange,
    readonly line: number,
    readonly endLine: number,
    items: ChunkEntry | readonly SessionItem[],
  ) {
    this.#items = items;
  }

  get items(): readonly SessionItem[] {
    const items = this.#items;
    return items instanceof ChunkEntry ? items.items : items;
  }

  /** The items as built, without moving them here (see `itemsAsBuilt`). */
  get itemsAsBuilt(): readonly SessionItem[] {
    const items = this.#items;
    return items instanceof ChunkEntry ? items.itemsAsBuilt : items;
  }

  toJSON(): SessionNode {
    return { separator: this.separator, title: this.title, index: this.index, range: this.range, line: this.line, endLine: this.endLine, items: this.items };
  }
}

/**
 * A session's items as they were built, possibly where the session stood before an edit above it
 * moved it: the same items as `session.items` but for their offsets and lines. For work that reads
 * no position (the names a session's AUTH secrets refer to, say), this costs nothing per keystroke,
 * where `items` moves every item of every session after the edit. The same array while the
 * session's text is unchanged, so it can key a cache.
 */
export function itemsAsBuilt(session: SessionNode): readonly SessionItem[] {
  return session instanceof ChunkSession ? session.itemsAsBuilt : session.items;
}

function lastNonBlankLine(lines: Lines, from: number, to: number): number {
  for (let i = to - 1; i >= from; i--) if (!lines.at(i).isBlank()) return i;
  return from;
}

/** Parses lines [from, to) into items. */
function parseItems(lines: Lines, from: number, to: number, items: SessionItem[], problems: Problem[]): void {
  // How many problems of a kind one line may list is decided once, for the whole list the language
  // service publishes (server/src/problemsPerLine.ts), not here.
  for (let i = from; i < to; i++) i = parseLine(lines, i, to, items, problems);
}

/** Parses the item that starts on line i (a DATA or BDAT item with its body); returns its last line. */
function parseLine(lines: Lines, i: number, to: number, items: SessionItem[], problems: Problem[]): number {
  const line = lines.at(i);
  const text = line.text;
  const lead = text.length - text.trimStart().length;
  const content = text.slice(lead).trimEnd();
  if (content === '') return i;
  const start = line.start + lead;
  const range = { start, end: start + content.length };

  if (content.startsWith('#') || content.startsWith('//')) {
    const meta = /^#\s*@([A-Za-z][\w-]*)(?:\s+(.*))?$/.exec(content);
    if (meta) {
      const keyStart = start + content.indexOf('@');
      const node: MetadataNode = {
        kind: 'metadata',
        line: i,
        range,
        references: [],
        key: { text: meta[1], range: { start: keyStart + 1, end: keyStart + 1 + meta[1].length } },
      };
      if (meta[2] !== undefined && meta[2].trim() !== '') {
        const value = meta[2].trim();
        const valueStart = start + content.lastIndexOf(value);
        node.value = { text: value, range: { start: valueStart, end: valueStart + value.length } };
        node.references = findReferences(value, valueStart, problems);
      }
      items.push(node);
    } else {
      items.push({ kind: 'comment', line: i, range, references: [], text: content });
    }
    return i;
  }

  if (content.startsWith('@')) {
    items.push(parseVariable(content, start, i, problems));
    return i;
  }

  const word = /^\S+/.exec(content)![0];
  const upper = word.toUpperCase();
  const keyword: Token = { text: word, range: { start, end: start + word.length } };
  const restOffset = word.length + (content.length > word.length ? 1 : 0);
  const rest = content.slice(restOffset);
  const restStart = start + restOffset;

  if (DIRECTIVES.has(upper)) {
    const references = upper === 'RAW' ? findReferences(rest, restStart, problems) : findReferences(content, start, problems);
    switch (upper) {
      case 'CONNECT':
        items.push(parseConnect(keyword, rest, restStart, i, range, references));
        break;
      case 'TLS':
        items.push(parseTls(keyword, rest, restStart, i, range, references, problems));
        break;
      case 'AUTH':
        items.push(parseAuth(keyword, rest, restStart, i, range, references));
        break;
      case 'EXPECT':
        items.push(parseExpect(keyword, rest, restStart, i, range, references, problems));
        break;
      case 'RAW':
        items.push(parseRaw(keyword, content.slice(word.length + 1), start + word.length + 1, i, range, references, problems));
        break;
    }
    return i;
  }

  if (upper === 'DATA' || upper === 'BDAT') {
    return parseMessage(lines, i, to, keyword, upper === 'DATA' ? 'data' : 'bdat', rest, restStart, range, items, problems);
  }

  items.push(parseCommand(keyword, upper, rest, restStart, i, range, findReferences(content, start, problems)));
  return i;
}

function parseVariable(content: string, start: number, line: number, problems: Problem[]): VariableNode {
  const match = /^@([^\s=]*)\s*(=)?\s*(.*)$/.exec(content)!;
  const spaced = /^@([^\s=]+)\s+([^\s=][^=]*?)\s*=/.exec(content);
  if (spaced && match[2] === undefined) {
    const end = start + spaced[0].length - 1;
    problems.push(problem('smtp-variable-syntax', { start: start + 1, end: end }, `a variable name cannot contain blanks: "${spaced[1]} ${spaced[2].trim()}"`));
    return { kind: 'variable', line, range: { start, end: start + content.length }, references: [], name: { text: spaced[1], range: { start: start + 1, end: start + 1 + spaced[1].length } } };
  }
  const name = match[1];
  const nameToken: Token = { text: name, range: { start: start + 1, end: start + 1 + name.length } };
  const node: VariableNode = { kind: 'variable', line, range: { start, end: start + content.length }, references: [], name: nameToken };
  if (name === '' || !/^[A-Za-z_][\w.-]*$/.test(name)) {
    problems.push(
      problem('smtp-variable-syntax', name === '' ? { start, end: start + 1 } : nameToken.range, name === '' ? 'a variable definition needs a name: @name = value' : `"${name}" is not a valid variable name: use letters, digits, "_", "-" and "." and start with a letter or "_"`),
    );
  }
  if (match[2] === undefined) {
    problems.push(problem('smtp-variable-syntax', node.range, `a variable definition needs "=": @${name || 'name'} = value`));
    return node;
  }
  const value = match[3].trimEnd();
  const valueStart = start + content.length - match[3].length;
  node.value = { text: value, range: { start: valueStart, end: valueStart + value.length } };
  node.references = findReferences(value, valueStart, problems);
  return node;
}

/** Built-in variables, with whether they take an argument. */
export const BUILTINS: Record<string, { argument: boolean; summary: string }> = {
  env: { argument: true, summary: 'the process environment variable NAME' },
  dotenv: { argument: true, summary: 'NAME from a .env file beside the script or at the workspace root' },
  secret: { argument: true, summary: "a secret from the editor's SecretStorage (CLI: the environment variable SMTPWB_SECRET_<NAME>)" },
  prompt: { argument: true, summary: 'a value asked at run time (masked when NAME looks like a password)' },
  uuid: { argument: false, summary: 'a new random UUID' },
  date: { argument: false, summary: 'the current date and time in RFC 5322 §3.3 form' },
  messageId: { argument: false, summary: 'a new Message-ID: <uuid@host>' },
};

/**
 * Finds the `{{…}}` references in a piece of text. A `{{` without its `}}` is reported once, and
 * the rest of the text is not searched further.
 */
function findReferences(text: string, base: number, problems: Problem[] | undefined): VariableReference[] {
  const refs: VariableReference[] = [];
  let from = 0;
  for (;;) {
    const open = text.indexOf('{{', from);
    if (open < 0) break;
    const close = text.indexOf('}}', open + 2);
    if (close < 0) {
      problems?.push(problem('smtp-variable-syntax', { start: base + open, end: base + text.length }, 'a variable reference "{{" has no closing "}}"'));
      break;
    }
    const inner = text.slice(open + 2, close);
    const innerLead = inner.length - inner.trimStart().length;
    const trimmed = inner.trim();
    const range = { start: base + open, end: base + close + 2 };
    const nameStart = base + open + 2 + innerLead;
    if (trimmed.startsWith('$')) {
      const m = /^\$([A-Za-z]+)(?:\s+(\S+))?\s*$/.exec(trimmed);
      const name = m ? m[1] : trimmed.slice(1).split(/\s/)[0];
      const ref: VariableReference = { name, builtin: true, range, nameRange: { start: nameStart, end: nameStart + 1 + name.length } };
      if (m && m[2] !== undefined) {
        const argStart = nameStart + trimmed.lastIndexOf(m[2]);
        ref.argument = { text: m[2], range: { start: argStart, end: argStart + m[2].length } };
      }
      refs.push(ref);
      if (!m) problems?.push(problem('smtp-variable-syntax', range, `malformed built-in reference "{{${inner}}}": write {{$name}} or {{$name ARGUMENT}}`));
    } else {
      refs.push({ name: trimmed, builtin: false, range, nameRange: { start: nameStart, end: nameStart + trimmed.length } });
      if (!/^[A-Za-z_][\w.-]*$/.test(trimmed)) {
        problems?.push(problem('smtp-variable-syntax', range, trimmed === '' ? 'an empty variable reference "{{}}"' : `"${trimmed}" is not a valid variable name`));
      }
    }
    from = close + 2;
  }
  return refs;
}

function parseConnect(keyword: Token, rest: string, restStart: number, line: number, range: OffsetRange, references: VariableReference[]): ConnectNode {
  const node: ConnectNode = { kind: 'connect', line, range, references, keyword };
  const url = rest.trim();
  if (url !== '') {
    const s = restStart + rest.indexOf(url);
    node.url = { text: url, range: { start: s, end: s + url.length } };
  }
  return node;
}

/**
 * Splits text into blank-separated words with their offsets. A `{{…}}` reference is part of the
 * word it stands in, even when it holds a blank (`{{$secret smtp-password}}`).
 */
export function words(text: string, base: number): Token[] {
  const out: Token[] = [];
  const re = /(?:\{\{[^}]*\}\}|[^\s{]|\{(?!\{))+|\{\{[^}]*$|\S+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) out.push({ text: m[0], range: { start: base + m.index, end: base + m.index + m[0].length } });
  return out;
}

function parseTls(keyword: Token, rest: string, restStart: number, line: number, range: OffsetRange, references: VariableReference[], problems: Problem[]): TlsNode {
  const options: TlsOptionNode[] = [];
  for (const w of words(rest, restStart)) {
    const eq = w.text.indexOf('=');
    if (eq < 0) {
      options.push({ key: w, range: w.range });
      continue;
    }
    const key: Token = { text: w.text.slice(0, eq), range: { start: w.range.start, end: w.range.start + eq } };
    const value: Token = { text: w.text.slice(eq + 1), range: { start: w.range.start + eq + 1, end: w.range.end } };
    options.push({ key, value, range: w.range });
  }
  if (options.length === 0) problems.push(problem('smtp-tls-option', range, 'TLS needs at least one option: verify=on|off, sni=NAME, ca=FILE, cert=FILE key=FILE, min=TLSv1.2'));
  return { kind: 'tls', line, range, references, keyword, options };
}

function parseAuth(keyword: Token, rest: string, restStart: number, line: number, range: OffsetRange, references: VariableReference[]): AuthNode {
  const parts = words(rest, restStart);
  return { kind: 'auth', line, range, references, keyword, mechanism: parts[0], args: parts.slice(1) };
}

function parseExpect(keyword: Token, rest: string, restStart: number, line: number, range: OffsetRange, references: VariableReference[], problems: Problem[]): ExpectNode {
  const node: ExpectNode = { kind: 'expect', line, range, references, keyword, codes: [], enhanced: [] };
  const reported = problems.length;
  let i = 0;
  const n = rest.length;
  while (i < n) {
    while (i < n && (rest[i] === ' ' || rest[i] === '\t')) i++;
    if (i >= n) break;
    const at = restStart + i;
    if (rest[i] === '"') {
      const close = rest.indexOf('"', i + 1);
      if (close < 0) {
        problems.push(problem('smtp-expect-syntax', { start: at, end: restStart + n }, 'the expected text has no closing quote'));
        return node;
      }
      node.text = { kind: 'substring', value: rest.slice(i + 1, close), range: { start: at, end: restStart + close + 1 } };
      i = close + 1;
      if (rest.slice(i).trim() !== '') {
        problems.push(problem('smtp-expect-syntax', { start: restStart + i, end: restStart + n }, 'nothing may follow the expected text'));
      }
      return node;
    }
    if (rest[i] === '/') {
      const m = /^\/((?:\\.|[^\\/])*)\/([a-z]*)\s*$/.exec(rest.slice(i));
      if (!m) {
        problems.push(problem('smtp-expect-syntax', { start: at, end: restStart + n }, 'a regular expression is written /pattern/flags and ends the line'));
        return node;
      }
      const tokenRange = { start: at, end: restStart + n };
      const flagProblem = /[^gimsuy]/.exec(m[2]);
      try {
        new RegExp(m[1], m[2].replace(/g/g, ''));
        if (flagProblem) throw new Error(`unknown flag "${flagProblem[0]}"`);
        node.text = { kind: 'regex', source: m[1], flags: m[2].replace(/g/g, ''), range: tokenRange };
      } catch (error) {
        problems.push(problem('smtp-expect-syntax', tokenRange, `invalid regular expression: ${(error as Error).message}`));
      }
      return node;
    }
    let j = i;
    while (j < n && rest[j] !== ' ' && rest[j] !== '\t') j++;
    const word = rest.slice(i, j);
    const wordRange = { start: at, end: restStart + j };
    const pattern = parseReplyPattern(word, wordRange);
    if (pattern) {
      (pattern.kind === 'enhanced' ? node.enhanced : node.codes).push(pattern);
    } else {
      problems.push(
        problem('smtp-expect-syntax', wordRange, `"${word}" is not a reply code (250), a class (2xx), an enhanced status code (5.1.1), "text" or /regex/`),
      );
    }
    i = j;
  }
  // One malformed EXPECT gets one diagnostic: the line as a whole is reported only when no word was.
  if (node.codes.length === 0 && node.enhanced.length === 0 && !node.text && problems.length === reported) {
    problems.push(problem('smtp-expect-syntax', range, 'EXPECT needs a reply code, a class, an enhanced status code or a text'));
  }
  return node;
}

/**
 * Reads one reply pattern: a three-digit code whose first digit is 2 to 5 and second 0 to 5
 * (RFC 5321 §4.2.1), a class `Nxx`, or an enhanced status code `class.subject.detail`
 * (RFC 3463 §2: class 2, 4 or 5, subject and detail of one to three digits), where `x` may stand
 * for the detail or the subject and detail.
 */
function parseReplyPattern(word: string, range: OffsetRange): ExpectPatternNode | undefined {
  if (/^[2-5][0-5]\d$/.test(word)) return { kind: 'code', code: Number(word), range };
  const cls = /^([2-5])xx$/i.exec(word);
  if (cls) return { kind: 'class', class: Number(cls[1]) as 2 | 3 | 4 | 5, range };
  if (/^[245]\.(?:\d{1,3}|x)\.(?:\d{1,3}|x)$/i.test(word) && !/^\d\.x\.\d/i.test(word)) {
    return { kind: 'enhanced', code: word.toLowerCase(), range };
  }
  return undefined;
}

function parseRaw(keyword: Token, rest: string, restStart: number, line: number, range: OffsetRange, references: VariableReference[], problems: Problem[]): RawNode {
  const payload: Token = { text: rest, range: { start: restStart, end: restStart + rest.length } };
  if (rest.trim() === '') problems.push(problem('smtp-raw-escape', range, 'RAW needs the text to send, with escapes such as \\r\\n'));
  const bad = /\\(?![rnt\\]|x[0-9a-fA-F]{2})/g;
  let m: RegExpExecArray | null;
  while ((m = bad.exec(rest)) !== null) {
    problems.push(problem('smtp-raw-escape', { start: restStart + m.index, end: restStart + m.index + 2 }, 'unknown escape: use \\r, \\n, \\t, \\\\ or \\xHH'));
  }
  return { kind: 'raw', line, range, references, keyword, payload };
}

function parseMessage(
  lines: Lines,
  lineIndex: number,
  to: number,
  verbToken: Token,
  kind: 'data' | 'bdat',
  rest: string,
  restStart: number,
  range: OffsetRange,
  items: SessionItem[],
  problems: Problem[],
): number {
  const node: MessageNode = { kind, line: lineIndex, range: { ...range }, references: findReferences(rest, restStart, problems), verbToken };
  items.push(node);
  // The options after the verb: `< file` and, for BDAT, `chunk=N`.
  let remaining = rest;
  let remainingStart = restStart;
  const fileMatch = /^(.*?)<\s*(\S+)(.*)$/.exec(remaining);
  if (fileMatch) {
    const before = fileMatch[1];
    const fileStart = remainingStart + remaining.indexOf(fileMatch[2], before.length);
    node.file = { text: fileMatch[2], range: { start: fileStart, end: fileStart + fileMatch[2].length } };
    remaining = before + ' '.repeat(remaining.length - before.length - fileMatch[3].length) + fileMatch[3];
  } else if (/^\s*<\s*$/.test(remaining)) {
    problems.push(problem('smtp-data-file', { start: restStart, end: restStart + rest.length }, `${verbToken.text.toUpperCase()} < needs a file name`));
    // The author meant the file form: no inline body follows.
    return lineIndex;
  }
  for (const w of words(remaining, remainingStart)) {
    const chunk = /^chunk=(.*)$/i.exec(w.text);
    if (kind === 'bdat' && chunk) {
      const key: Token = { text: 'chunk', range: { start: w.range.start, end: w.range.start + 5 } };
      const value: Token = { text: chunk[1], range: { start: w.range.start + 6, end: w.range.end } };
      const size = /^\d{1,9}$/.test(chunk[1]) && Number(chunk[1]) > 0 ? Number(chunk[1]) : undefined;
      if (size === undefined) problems.push(problem('smtp-syntax-argument', value.range, 'chunk= needs a positive number of octets'));
      node.chunkOption = { key, value, size };
      continue;
    }
    node.extra = node.extra ?? w;
  }
  if (node.extra) {
    const extraEnd = restStart + rest.trimEnd().length;
    node.extra = { text: node.extra.text, range: { start: node.extra.range.start, end: Math.max(node.extra.range.end, extraEnd) } };
  }
  if (node.file) return lineIndex;
  // A probe that writes the message itself with RAW lines: DATA directly followed by RAW has no
  // inline body (docs/smtp-language.md#raw-probing-servers). BDAT is not: its chunk sizes are part
  // of the command, so a raw BDAT is written whole with RAW.
  if (kind === 'data' && lineIndex + 1 < to && /^\s*RAW(?:\s|$)/i.test(lines.at(lineIndex + 1).text)) {
    node.rawFollows = true;
    return lineIndex;
  }

  // An inline body: every following line up to a line holding only "." (RFC 5321 §4.1.1.4).
  const bodyLines: Token[] = [];
  let i = lineIndex + 1;
  for (; i < to; i++) {
    const l = lines.at(i);
    if (l.text === '.') {
      node.terminator = { text: '.', range: { start: l.start, end: l.end } };
      break;
    }
    bodyLines.push({ text: l.text, range: { start: l.start, end: l.end } });
  }
  if (!node.terminator && i >= to && bodyLines.length > 0 && i >= 1 && lines.at(i - 1).text.trim() === '.') {
    // A terminator with blanks around it is almost certainly meant as one; say so precisely.
    const l = lines.at(i - 1);
    problems.push(problem('smtp-data-unterminated', { start: l.start, end: l.end }, 'the end-of-data line must hold only "." with no blanks around it'));
  } else if (!node.terminator) {
    const cutBySeparator = to < lines.length;
    problems.push(
      problem(
        'smtp-data-unterminated',
        verbToken.range,
        `the ${verbToken.text.toUpperCase()} body has no terminating line holding only "."${cutBySeparator ? ' before the next ### line (a line starting with ### always starts a session; send such a message with DATA < file)' : ''}`,
      ),
    );
  }
  // Trailing blank lines before the next session belong to the session, not to an unterminated body.
  if (!node.terminator) {
    while (bodyLines.length > 0 && bodyLines[bodyLines.length - 1].text.trim() === '') bodyLines.pop();
  }
  if (bodyLines.length > 0 || node.terminator) {
    const first = bodyLines[0] ?? { range: { start: node.terminator!.range.start, end: node.terminator!.range.start } };
    const last = bodyLines[bodyLines.length - 1] ?? first;
    node.body = { range: { start: first.range.start, end: last.range.end }, firstLine: lineIndex + 1, lines: bodyLines };
    for (const body of bodyLines) node.references.push(...findReferences(body.text, body.range.start, problems));
  }
  node.range = { start: range.start, end: node.terminator ? node.terminator.range.end : node.body ? node.body.range.end : range.end };
  return node.terminator ? i : lineIndex + bodyLines.length;
}

function parseCommand(verbToken: Token, name: string, rest: string, restStart: number, line: number, range: OffsetRange, references: VariableReference[]): CommandNode {
  const node: CommandNode = { kind: 'command', line, range, references, verbToken, name, parameters: [] };
  if (rest.trim() !== '') {
    const lead = rest.length - rest.trimStart().length;
    node.argument = { text: rest.trim(), range: { start: restStart + lead, end: restStart + lead + rest.trim().length } };
  }
  if ((name === 'MAIL' || name === 'RCPT') && node.argument) parsePathAndParameters(node, node.argument);
  return node;
}

/**
 * Reads `FROM:<path> params` or `TO:<path> params` (RFC 5321 §4.1.1.2–3). Common mistakes are kept
 * in the tree so the analyser can report them: a missing `FROM:`, a blank after the colon, a path
 * without angle brackets.
 */
function parsePathAndParameters(node: CommandNode, argument: Token): void {
  const text = argument.text;
  const base = argument.range.start;
  const keywordMatch = /^(FROM|TO)\s*:/i.exec(text);
  let pos = 0;
  if (keywordMatch) {
    node.pathKeyword = { text: keywordMatch[0], range: { start: base, end: base + keywordMatch[0].length } };
    pos = keywordMatch[0].length;
  }
  while (pos < text.length && text[pos] === ' ') pos++;
  let path: PathNode | undefined;
  if (text[pos] === '<') {
    // The path ends at the matching ">" outside a quoted local-part.
    let j = pos + 1;
    let quoted = false;
    for (; j < text.length; j++) {
      const c = text[j];
      if (c === '\\' && quoted) { j++; continue; }
      if (c === '"') quoted = !quoted;
      else if (c === '>' && !quoted) break;
    }
    const closed = j < text.length;
    const end = closed ? j + 1 : text.length;
    const inner = text.slice(pos + 1, closed ? j : text.length);
    path = {
      address: { text: inner, range: { start: base + pos + 1, end: base + pos + 1 + inner.length } },
      range: { start: base + pos, end: base + end },
      bracketed: closed,
    };
    pos = end;
  } else if (pos < text.length) {
    let j = pos;
    while (j < text.length && text[j] !== ' ') j++;
    const bare = text.slice(pos, j);
    path = { address: { text: bare, range: { start: base + pos, end: base + j } }, range: { start: base + pos, end: base + j }, bracketed: false };
    pos = j;
  }
  node.path = path;
  for (const w of words(text.slice(pos), base + pos)) {
    const eq = w.text.indexOf('=');
    const param: ParameterNode =
      eq < 0
        ? { name: w, range: w.range }
        : {
            name: { text: w.text.slice(0, eq), range: { start: w.range.start, end: w.range.start + eq } },
            value: { text: w.text.slice(eq + 1), range: { start: w.range.start + eq + 1, end: w.range.end } },
            range: w.range,
          };
    node.parameters.push(param);
  }
}
