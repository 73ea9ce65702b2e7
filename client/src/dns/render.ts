/**
 * Renders reports as Markdown (the CLI and the sidebar's export share it), as plain text for the
 * terminal, and as the JSON shape `smtpwb dns --json` prints.
 */
import { escapeMarkdown, visibleLine, visibleText } from '../../../common/escape';
import { type CheckResult, type DmarcWalkReport, type DomainReport, type Finding, type FindingSeverity, type SpfTreeNode, worstSeverity } from './types';

const ICON: Record<FindingSeverity, string> = { error: '✗', warning: '!', info: 'i', pass: '✓' };

/** "column N" for one-line records, "line L, column C" for multi-line ones (the MTA-STS policy). */
export function position(text: string, offset: number): string {
  if (!text.includes('\n')) return `column ${offset + 1}`;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - (before.lastIndexOf('\n') + 1) + 1}`;
}

function recordExcerpt(f: Finding): string | undefined {
  if (!f.record) return undefined;
  const r = f.record;
  const short = (t: string): string => (t.length > 100 ? `${t.slice(0, 60)}…${t.slice(-20)}` : t).replace(/\r?\n/g, '\\n');
  if (!r.range) return `${r.name} ${r.type} "${short(r.text)}"`;
  return `${r.name} ${r.type} "${short(r.text)}" (${position(r.text, r.range.start)}: "${short(r.text.slice(r.range.start, r.range.end))}")`;
}

function spfTreeLines(node: SpfTreeNode, indent: string, out: string[]): void {
  const via = node.via === 'root' ? '' : `${node.via}:`;
  const what = node.record !== undefined ? `"${node.record}"` : `(${node.note ?? 'no record'})`;
  out.push(`${indent}- ${via}${node.domain} ${what}${node.record !== undefined ? ` — ${node.lookups} lookup(s)` : ''}${node.note && node.record !== undefined ? ` (${node.note})` : ''}`);
  for (const c of node.children) spfTreeLines(c, `${indent}  `, out);
}

/** The DMARC policy discovery (RFC 9989 §4.10) as lines: each name queried, why the walk stopped. */
export function renderDmarcWalk(walk: DmarcWalkReport): string[] {
  const out = walk.steps.map((st) => `- ${st.name}: ${st.note}`);
  out.push(`- stopped: ${walk.stop}`);
  out.push(`- Organizational Domain: ${walk.organizationalDomain} (${walk.organizationalReason})`);
  if (walk.policy) out.push(`- policy: ${walk.policyTag}=${walk.policy} from _dmarc.${walk.policyDomain}${walk.appliedPolicy !== walk.policy ? `, applied as ${walk.appliedPolicy} (t=y)` : ''}`);
  return out;
}

/** The SPF tree as indented lines. */
export function renderSpfTree(node: SpfTreeNode): string[] {
  const out: string[] = [];
  spfTreeLines(node, '', out);
  return out;
}

/** A Markdown report of one or more domains. */
export function renderMarkdown(reports: readonly DomainReport[]): string {
  const out: string[] = [];
  for (const report of reports) {
    const all = report.checks.flatMap((c) => c.findings);
    const errors = all.filter((f) => f.severity === 'error').length;
    const warnings = all.filter((f) => f.severity === 'warning').length;
    out.push(`# Mail DNS report for ${report.domain}`, '');
    out.push(`Checked ${report.checkedAt} in ${report.durationMs} ms: ${report.queries} DNS queries, dependency depth ${report.depth}. **${errors} error(s), ${warnings} warning(s).**`, '');
    if (report.dnsUnreachable) out.push('> **DNS could not be reached**: every query timed out or was refused.', '');
    out.push('| Check | Result |', '|---|---|');
    for (const c of report.checks) out.push(`| ${c.title} | ${c.skipped ? 'skipped' : worstSeverity(c.findings)} |`);
    out.push('');
    for (const c of report.checks) out.push(...checkMarkdown(c));
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function checkMarkdown(c: CheckResult): string[] {
  const out: string[] = [`## ${c.title}`, ''];
  if (c.skipped) out.push(`_Skipped: ${escapeMarkdown(c.skipped)}_`, '');
  for (const f of c.findings) {
    out.push(`- ${ICON[f.severity]} **${f.severity}** \`${f.code}\`: ${escapeMarkdown(f.message)} ([RFC](${f.link}))`);
    const ex = recordExcerpt(f);
    if (ex) out.push(`  - record: \`${visibleLine(ex).replace(/`/g, "'")}\``);
  }
  if (c.findings.length > 0) out.push('');
  if (c.spfTree) {
    out.push('SPF tree:', '', ...renderSpfTree(c.spfTree).map((l) => l.replace(/"(.*)"/, (_, r: string) => `\`${visibleLine(r).replace(/`/g, "'")}\``)), '');
  }
  if (c.dmarcWalk) out.push('Policy discovery (DNS Tree Walk):', '', ...renderDmarcWalk(c.dmarcWalk).map((l) => `- ${escapeMarkdown(l.replace(/^- /, ''))}`), '');
  if (c.records.length > 0) {
    out.push('<details><summary>Raw records</summary>', '', '```');
    for (const r of c.records) out.push(`${r.name} ${r.type} ${r.type === 'HTTPS' ? `\n${visibleText(r.data).replace(/^```/gm, '\\`\\`\\`')}` : visibleLine(r.data)}`);
    out.push('```', '', '</details>', '');
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
    out.push(`${report.domain}: ${errors} error(s), ${warnings} warning(s) — ${report.queries} queries, depth ${report.depth}, ${report.durationMs} ms`);
    if (report.dnsUnreachable) out.push('  DNS could not be reached: every query timed out or was refused.');
    for (const c of report.checks) {
      out.push(`  ${c.title}${c.skipped ? ` (skipped: ${c.skipped})` : ''}`);
      for (const f of c.findings) {
        out.push(`    ${ICON[f.severity]} ${f.severity.padEnd(7)} ${f.code}: ${f.message}`);
        const ex = recordExcerpt(f);
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
    status: FindingSeverity | 'skipped';
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
      status: c.skipped ? 'skipped' : worstSeverity(c.findings),
      ...(c.skipped ? { skipped: c.skipped } : {}),
      findings: c.findings,
      records: c.records,
      ...(c.spfTree ? { spfTree: c.spfTree } : {}),
      ...(c.dmarcWalk ? { dmarcWalk: c.dmarcWalk } : {}),
    })),
  };
}
