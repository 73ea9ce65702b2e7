/**
 * Outline and folding of a `.smtp` script: sessions with their commands, and folds for sessions
 * and message bodies.
 */
import type { OffsetRange } from '../../../common/problem';
import type { SessionItem } from './smtpAst';
import type { SmtpAnalysis } from './smtpService';

export type OutlineKind = 'session' | 'command' | 'directive' | 'variable' | 'message';

export interface OutlineNode {
  name: string;
  detail?: string;
  kind: OutlineKind;
  range: OffsetRange;
  selectionRange: OffsetRange;
  children: OutlineNode[];
}

export function smtpOutline(analysis: SmtpAnalysis): OutlineNode[] {
  const { document } = analysis;
  const nodes: OutlineNode[] = [];
  for (const item of document.preamble) {
    if (item.kind === 'variable' && item.value) {
      nodes.push({ name: `@${item.name.text}`, detail: item.value.text, kind: 'variable', range: item.range, selectionRange: item.name.range, children: [] });
    }
  }
  for (const session of document.sessions) {
    const name = session.items.find((i) => i.kind === 'metadata' && i.key.text === 'name');
    const children = session.items.map(itemNode).filter((n): n is OutlineNode => n !== undefined);
    // An untitled session (commands before the first `###`) starts at its first command, though its
    // items also hold the comments and metadata above that command: its first outlined child is the
    // command it starts with, so it names the session from inside the session's range.
    const selection = session.separator?.title?.range ?? session.separator?.range ?? children[0]?.selectionRange ?? session.range;
    nodes.push({
      name: session.title,
      detail: name && name.kind === 'metadata' ? `@name ${name.value?.text ?? ''}` : undefined,
      kind: 'session',
      range: session.range,
      selectionRange: selection,
      children,
    });
  }
  return nodes.map(contained);
}

/**
 * The node with its selection range inside its range and its children inside it, as editors require
 * of a document symbol (VS Code's DocumentSymbol throws otherwise, and the whole outline fails). The
 * tree already holds this; the check keeps one item the parser placed oddly from costing the
 * outline: such a selection becomes the start of the node's range, and such a child is left out.
 */
function contained(node: OutlineNode): OutlineNode {
  const inside = (inner: OffsetRange): boolean => inner.start >= node.range.start && inner.end <= node.range.end && inner.start <= inner.end;
  const children = node.children.filter((child) => inside(child.range)).map(contained);
  const selectionRange = inside(node.selectionRange) ? node.selectionRange : { start: node.range.start, end: node.range.start };
  return children.length === node.children.length && selectionRange === node.selectionRange && children.every((c, i) => c === node.children[i])
    ? node
    : { ...node, selectionRange, children };
}

function itemNode(item: SessionItem): OutlineNode | undefined {
  const base = { range: item.range, children: [] as OutlineNode[] };
  switch (item.kind) {
    case 'command':
      return { ...base, name: item.name, detail: item.argument?.text, kind: 'command', selectionRange: item.verbToken.range };
    case 'data':
    case 'bdat': {
      const lines = item.body?.lines.length ?? 0;
      const subject = item.body?.lines.find((l) => /^subject:/i.test(l.text))?.text.slice(8).trim();
      const detail = item.file ? `< ${item.file.text}` : `${lines} line${lines === 1 ? '' : 's'}${subject ? ` · ${subject}` : ''}`;
      return { ...base, name: item.kind.toUpperCase(), detail, kind: 'message', selectionRange: item.verbToken.range };
    }
    case 'connect':
      return { ...base, name: 'CONNECT', detail: item.url?.text, kind: 'directive', selectionRange: item.keyword.range };
    case 'tls':
      return { ...base, name: 'TLS', detail: item.options.map((o) => (o.value ? `${o.key.text}=${o.value.text}` : o.key.text)).join(' '), kind: 'directive', selectionRange: item.keyword.range };
    case 'auth':
      return { ...base, name: 'AUTH', detail: [item.mechanism?.text, item.args[0]?.text].filter(Boolean).join(' '), kind: 'directive', selectionRange: item.keyword.range };
    case 'expect':
      return { ...base, name: 'EXPECT', detail: item.range.end > item.keyword.range.end ? undefined : undefined, kind: 'directive', selectionRange: item.keyword.range };
    case 'raw':
      return { ...base, name: 'RAW', detail: item.payload.text.slice(0, 60), kind: 'directive', selectionRange: item.keyword.range };
    case 'variable':
      return item.value ? { ...base, name: `@${item.name.text}`, detail: item.value.text, kind: 'variable', selectionRange: item.name.range } : undefined;
    default:
      return undefined;
  }
}

export interface FoldingRegion {
  /** 0-based first and last line of the fold. */
  startLine: number;
  endLine: number;
  kind?: 'region' | 'comment';
}

export function smtpFolding(analysis: SmtpAnalysis): FoldingRegion[] {
  const out: FoldingRegion[] = [];
  for (const session of analysis.document.sessions) {
    if (session.endLine > session.line) out.push({ startLine: session.line, endLine: session.endLine, kind: 'region' });
    for (const item of session.items) {
      if ((item.kind === 'data' || item.kind === 'bdat') && item.body) {
        const last = item.terminator ? lineOf(analysis, item.terminator.range.start) : item.body.firstLine + item.body.lines.length - 1;
        if (last > item.line) out.push({ startLine: item.line, endLine: last });
      }
    }
  }
  return out;
}

function lineOf(analysis: SmtpAnalysis, offset: number): number {
  const starts = analysis.document.lineStarts;
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
