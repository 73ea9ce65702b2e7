/**
 * Moves syntax trees to a new place in the document by rebuilding them: every node, token, range
 * and problem is a new object with its offsets and line numbers shifted, and the tree it was
 * copied from is left as it was. Trees are values: a document analysed before an edit keeps its
 * offsets, so a hover or a plan computed from it stays true of the text it was made from. The
 * incremental parser (ParseCache in smtpParser.ts) uses this to reuse a session that an edit moved
 * without parsing it again.
 *
 * Each node kind is copied field by field, so the compiler checks that a new field is moved too.
 */
import type { Problem, QuickFix } from '../../../common/problem';
import type {
  ExpectNode,
  ExpectPatternNode,
  LineBase,
  MessageNode,
  OffsetRange,
  ParameterNode,
  PathNode,
  SessionItem,
  TlsOptionNode,
  Token,
  VariableReference,
} from './smtpAst';

/** How far a tree moves: in UTF-16 offsets and in lines. */
export interface Move {
  offset: number;
  line: number;
}

export function moveRange(range: OffsetRange, by: Move): OffsetRange {
  return { start: range.start + by.offset, end: range.end + by.offset };
}

function moveToken(token: Token, by: Move): Token {
  return { text: token.text, range: moveRange(token.range, by) };
}

function moveOptional(token: Token | undefined, by: Move): Token | undefined {
  return token === undefined ? undefined : moveToken(token, by);
}

function moveReference(ref: VariableReference, by: Move): VariableReference {
  const moved: VariableReference = { name: ref.name, builtin: ref.builtin, range: moveRange(ref.range, by), nameRange: moveRange(ref.nameRange, by) };
  if (ref.argument) moved.argument = moveToken(ref.argument, by);
  return moved;
}

function moveBase(item: LineBase, by: Move): LineBase {
  return { line: item.line + by.line, range: moveRange(item.range, by), references: item.references.map((r) => moveReference(r, by)) };
}

function movePattern(pattern: ExpectPatternNode, by: Move): ExpectPatternNode {
  return { ...pattern, range: moveRange(pattern.range, by) };
}

function moveExpectText(text: ExpectNode['text'], by: Move): ExpectNode['text'] {
  return text === undefined ? undefined : { ...text, range: moveRange(text.range, by) };
}

function moveParameter(param: ParameterNode, by: Move): ParameterNode {
  return { name: moveToken(param.name, by), value: moveOptional(param.value, by), range: moveRange(param.range, by) };
}

function movePath(path: PathNode, by: Move): PathNode {
  return { address: moveToken(path.address, by), range: moveRange(path.range, by), bracketed: path.bracketed };
}

function moveTlsOption(option: TlsOptionNode, by: Move): TlsOptionNode {
  return { key: moveToken(option.key, by), value: moveOptional(option.value, by), range: moveRange(option.range, by) };
}

function moveMessage(item: MessageNode, by: Move): MessageNode {
  const moved: MessageNode = { ...moveBase(item, by), kind: item.kind, verbToken: moveToken(item.verbToken, by) };
  if (item.file) moved.file = moveToken(item.file, by);
  if (item.chunkOption) moved.chunkOption = { key: moveToken(item.chunkOption.key, by), value: moveOptional(item.chunkOption.value, by), size: item.chunkOption.size };
  if (item.extra) moved.extra = moveToken(item.extra, by);
  if (item.body) moved.body = { range: moveRange(item.body.range, by), firstLine: item.body.firstLine + by.line, lines: item.body.lines.map((l) => moveToken(l, by)) };
  if (item.terminator) moved.terminator = moveToken(item.terminator, by);
  if (item.rawFollows !== undefined) moved.rawFollows = item.rawFollows;
  return moved;
}

/** A copy of an item, moved. */
export function moveItem(item: SessionItem, by: Move): SessionItem {
  switch (item.kind) {
    case 'comment':
      return { ...moveBase(item, by), kind: 'comment', text: item.text };
    case 'metadata':
      return { ...moveBase(item, by), kind: 'metadata', key: moveToken(item.key, by), value: moveOptional(item.value, by) };
    case 'variable':
      return { ...moveBase(item, by), kind: 'variable', name: moveToken(item.name, by), value: moveOptional(item.value, by) };
    case 'connect':
      return { ...moveBase(item, by), kind: 'connect', keyword: moveToken(item.keyword, by), url: moveOptional(item.url, by) };
    case 'tls':
      return { ...moveBase(item, by), kind: 'tls', keyword: moveToken(item.keyword, by), options: item.options.map((o) => moveTlsOption(o, by)) };
    case 'auth':
      return { ...moveBase(item, by), kind: 'auth', keyword: moveToken(item.keyword, by), mechanism: moveOptional(item.mechanism, by), args: item.args.map((a) => moveToken(a, by)) };
    case 'expect':
      return {
        ...moveBase(item, by),
        kind: 'expect',
        keyword: moveToken(item.keyword, by),
        codes: item.codes.map((c) => movePattern(c, by)),
        enhanced: item.enhanced.map((c) => movePattern(c, by)),
        text: moveExpectText(item.text, by),
      };
    case 'raw':
      return { ...moveBase(item, by), kind: 'raw', keyword: moveToken(item.keyword, by), payload: moveToken(item.payload, by) };
    case 'command':
      return {
        ...moveBase(item, by),
        kind: 'command',
        verbToken: moveToken(item.verbToken, by),
        name: item.name,
        argument: moveOptional(item.argument, by),
        pathKeyword: moveOptional(item.pathKeyword, by),
        path: item.path === undefined ? undefined : movePath(item.path, by),
        parameters: item.parameters.map((p) => moveParameter(p, by)),
      };
    case 'data':
    case 'bdat':
      return moveMessage(item, by);
  }
}

function moveFix(fix: QuickFix, by: Move): QuickFix {
  return { ...fix, edits: fix.edits.map((e) => ({ range: moveRange(e.range, by), newText: e.newText })) };
}

/** A copy of a problem, moved (its range and its fixes' edits). */
export function moveProblem(p: Problem, by: Move): Problem {
  const moved: Problem = { ...p, range: moveRange(p.range, by) };
  if (p.fixes) moved.fixes = p.fixes.map((f) => moveFix(f, by));
  if (p.tags) moved.tags = [...p.tags];
  return moved;
}
