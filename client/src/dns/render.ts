/**
 * Renders reports as Markdown (the CLI and the sidebar's export share it), as plain text for the
 * terminal, and as the JSON shape `smtpwb dns --json` prints.
 *
 * What DNS servers and web servers sent is data: each piece of it (records, names, finding
 * messages, notes, skip reasons) is escaped where it is put into the report, with `visibleLine`
 * for the terminal and `escapeMarkdownData` or `markdownCodeSpan` for Markdown, so a line feed in a
 * record shows as `\x0A` and can never start a line that looks like the report's own.
 */
import { escapeMarkdownData, markdownCodeSpan, markdownFence, visibleLine, visibleText } from '../../../common/escape';
import { type CheckResult, type DmarcWalkReport, type DomainReport, type Finding, type FindingSeverity, type SpfTreeNode, worstSeverity } from './types';

const ICON: Record<FindingSeverity, string> = { error: '✗', warning: '!', info: 'i', pass: '✓' };

/** "column N" for one-line records, "line L, column C" for multi-line ones (the MTA-STS policy). */
export function position(text: string, offset: number): string {
  if (!text.includes('\n')) return `column ${offset + 1}`;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - (before.lastIndexOf('\n') + 1) + 1}`;
}

/** How a renderer escapes peer data: prose (names, notes, messages) and quoted record text. */
interface DataEscaper {
  text: (data: string) => string;
  quoted: (data: string) => string;
}

const TEXT_ESCAPER: DataEscaper = { text: visibleLine, quoted: (data) => `"${visibleLine(data)}"` };
const MARKDOWN_ESCAPER: DataEscaper = { text: escapeMarkdownData, quoted: markdownCodeSpan };

/** The record a finding is about, with the part it points at; every piece escaped by `esc`. */
function recordExcerpt(f: Finding, esc: DataEscaper): string | undefined {
  if (!f.record) return undefined;
  const r = f.record;
  // Line breaks (the MTA-STS policy has several) read as `\r` and `\n`, each as sent (a CR is never
  // lost in a `\n`); `esc` makes every other control visible.
  const short = (t: string): string => (t.length > 100 ? `${t.slice(0, 60)}…${t.slice(-20)}` : t).replace(/\r/g, '\\r').replace(/\n/g, '\\n');
  if (!r.range) return `${esc.text(r.name)} ${r.type} ${esc.quoted(short(r.text))}`;
  return `${esc.text(r.name)} ${r.type} ${esc.quoted(short(r.text))} (${position(r.text, r.range.start)}: ${esc.quoted(short(r.text.slice(r.range.start, r.range.end)))})`;
}

function spfTreeLines(node: SpfTreeNode, indent: string, out: string[], esc: DataEscaper): void {
  const via = node.via === 'root' ? '' : `${node.via}:`;
  const what = node.record !== undefined ? esc.quoted(node.record) : `(${esc.text(node.note ?? 'no record')})`;
  out.push(`${indent}- ${via}${esc.text(node.domain)} ${what}${node.record !== undefined ? ` — ${node.lookups} lookup(s)` : ''}${node.note && node.record !== undefined ? ` (${esc.text(node.note)})` : ''}`);
  for (const c of node.children) spfTreeLines(c, `${indent}  `, out, esc);
}

function dmarcWalkLines(walk: DmarcWalkReport, esc: DataEscaper): string[] {
  const out = walk.steps.map((st) => `- ${esc.text(st.name)}: ${esc.text(st.note)}`);
  out.push(`- stopped: ${esc.text(walk.stop)}`);
  out.push(`- Organizational Domain: ${esc.text(walk.organizationalDomain)} (${esc.text(walk.organizationalReason)})`);
  if (walk.policy) out.push(`- policy: ${walk.policyTag}=${walk.policy} from ${esc.text(`_dmarc.${walk.policyDomain ?? ''}`)}${walk.appliedPolicy !== walk.policy ? `, applied as ${walk.appliedPolicy} (t=y)` : ''}`);
  return out;
}

/** The DMARC policy discovery (RFC 9989 §4.10) as lines of plain text: each name queried, why the walk stopped. */
export function renderDmarcWalk(walk: DmarcWalkReport): string[] {
  return dmarcWalkLines(walk, TEXT_ESCAPER);
}

/**
 * The status of a check: `skipped`, its worst finding, or `empty` when it has no finding at all. A
 * group with nothing to say has not passed anything (a verdict is earned), so it is never `pass`.
 */
export function checkStatus(c: CheckResult): FindingSeverity | 'skipped' | 'empty' {
  if (c.skipped) return 'skipped';
  return c.findings.length === 0 ? 'empty' : worstSeverity(c.findings);
}

/** The SPF tree as indented lines of plain text, records quoted and escaped. */
export function renderSpfTree(node: SpfTreeNode): string[] {
  const out: string[] = [];
  spfTreeLines(node, '', out, TEXT_ESCAPER);
  return out;
}

/** A Markdown report of one or more domains. */
export function renderMarkdown(reports: readonly DomainReport[]): string {
  const out: string[] = [];
  for (const report of reports) {
    const all = report.checks.flatMap((c) => c.findings);
    const errors = all.filter((f) => f.severity === 'error').length;
    const warnings = all.filter((f) => f.severity === 'warning').length;
    out.push(`# Mail DNS report for ${escapeMarkdownData(report.domain)}`, '');
    out.push(`Checked ${report.checkedAt} in ${report.durationMs} ms: ${report.queries} DNS queries, dependency depth ${report.depth}. **${errors} error(s), ${warnings} warning(s).**`, '');
    if (report.dnsUnreachable) out.push('> **DNS could not be reached**: every query timed out or was refused.', '');
    out.push('| Check | Result |', '|---|---|');
    for (const c of report.checks) out.push(`| ${c.title} | ${checkStatus(c) === 'empty' ? 'no findings' : checkStatus(c)} |`);
    out.push('');
    for (const c of report.checks) out.push(...checkMarkdown(c));
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function checkMarkdown(c: CheckResult): string[] {
  const out: string[] = [`## ${c.title}`, ''];
  if (c.skipped) out.push(`_Skipped: ${escapeMarkdownData(c.skipped)}_`, '');
  for (const f of c.findings) {
    out.push(`- ${ICON[f.severity]} **${f.severity}** \`${f.code}\`: ${escapeMarkdownData(f.message)} ([RFC](${f.link}))`);
    const ex = recordExcerpt(f, MARKDOWN_ESCAPER);
    if (ex) out.push(`  - record: ${ex}`);
  }
  if (c.findings.length > 0) out.push('');
  if (c.spfTree) {
    const tree: string[] = [];
    spfTreeLines(c.spfTree, '', tree, MARKDOWN_ESCAPER);
    out.push('SPF tree:', '', ...tree, '');
  }
  if (c.dmarcWalk) out.push('Policy discovery (DNS Tree Walk):', '', ...dmarcWalkLines(c.dmarcWalk, MARKDOWN_ESCAPER), '');
  if (c.records.length > 0) {
    // One line per record (the HTTPS body keeps its lines), inside a fence no record can close.
    const lines = c.records.map((r) => `${visibleLine(r.name)} ${r.type} ${r.type === 'HTTPS' ? `\n${visibleText(r.data)}` : visibleLine(r.data)}`);
    const fence = markdownFence(lines.join('\n'));
    out.push('<details><summary>Raw records</summary>', '', fence, ...lines, fence, '', '</details>', '');
  }
  return out;
}

/** A plain-text report for the terminal. */
export function renderText(reports: readonly DomainReport[]): string {
  const out: string[] = [];
  for (const report of reports) {
    const all = report.checks.flatMap((c) => c.findings);
    const errors = all.filter((f) => f.severity === 'error').length;
    const warnings = all.filter((f) => f.severity === 'warning').length;
    out.push(`${visibleLine(report.domain)}: ${errors} error(s), ${warnings} warning(s) — ${report.queries} queries, depth ${report.depth}, ${report.durationMs} ms`);
    if (report.dnsUnreachable) out.push('  DNS could not be reached: every query timed out or was refused.');
    for (const c of report.checks) {
      out.push(`  ${c.title}${c.skipped ? ` (skipped: ${visibleLine(c.skipped)})` : c.findings.length === 0 ? ' (no findings)' : ''}`);
      for (const f of c.findings) {
        out.push(`    ${ICON[f.severity]} ${f.severity.padEnd(7)} ${f.code}: ${visibleLine(f.message)}`);
        const ex = recordExcerpt(f, TEXT_ESCAPER);
        if (ex) out.push(`        ${ex}`);
      }
      if (c.spfTree) for (const l of renderSpfTree(c.spfTree)) out.push(`      ${l}`);
      if (c.dmarcWalk) for (const l of renderDmarcWalk(c.dmarcWalk)) out.push(`      ${l}`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** The JSON object `smtpwb dns --json` prints for one domain. */
export interface DomainReportJson {
  domain: string;
  checkedAt: string;
  durationMs: number;
  depth: number;
  queries: number;
  dnsUnreachable: boolean;
  errors: number;
  warnings: number;
  checks: Array<{
    id: string;
    title: string;
    /** `empty` when the check has no finding at all (see `checkStatus`). */
    status: FindingSeverity | 'skipped' | 'empty';
    skipped?: string;
    findings: Finding[];
    records: CheckResult['records'];
    spfTree?: SpfTreeNode;
    dmarcWalk?: DmarcWalkReport;
  }>;
}

export function reportToJson(report: DomainReport): DomainReportJson {
  const all = report.checks.flatMap((c) => c.findings);
  return {
    domain: report.domain,
    checkedAt: report.checkedAt,
    durationMs: report.durationMs,
    depth: report.depth,
    queries: report.queries,
    dnsUnreachable: report.dnsUnreachable,
    errors: all.filter((f) => f.severity === 'error').length,
    warnings: all.filter((f) => f.severity === 'warning').length,
    checks: report.checks.map((c) => ({
      id: c.id,
      title: c.title,
      status: checkStatus(c),
      ...(c.skipped ? { skipped: c.skipped } : {}),
      findings: c.findings,
      records: c.records,
      ...(c.spfTree ? { spfTree: c.spfTree } : {}),
      ...(c.dmarcWalk ? { dmarcWalk: c.dmarcWalk } : {}),
    })),
  };
}
