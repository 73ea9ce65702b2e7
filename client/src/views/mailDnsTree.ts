/**
 * The Mail DNS sidebar's tree, as plain data: a node per domain, a node per check, a child per
 * finding, the SPF tree and the raw records. The view (mailDnsView.ts) only maps these nodes to
 * VS Code tree items, so this module has no `vscode` import and is unit-tested directly.
 *
 * DNS answers are data: in labels and descriptions they go through `iconInertLine` (one line, control
 * characters visible, no `$(icon)`), in tooltips through `visibleLine` piece by piece, so a record
 * can neither add a line to a tooltip nor show an icon.
 */
import { dkimSelectorProblem } from '../../../common/dnsName';
import { iconInertLine, visibleLine } from '../../../common/escape';
import { checkStatus, position } from '../dns/render';
import { type CheckResult, type DomainReport, type FindingSeverity, type SpfTreeNode, worstSeverity } from '../dns/types';

/** The icon a node shows: a severity, or a state. */
export type NodeIcon = FindingSeverity | 'skipped' | 'empty' | 'running' | 'failed' | 'record' | 'tree' | 'domain';

interface NodeBase {
  /** Unique and stable across refreshes, so the tree keeps its expansion state. */
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  icon: NodeIcon;
  /** Used by `when` clauses in menus: mailDnsDomain, mailDnsCheck, mailDnsFinding, ... */
  contextValue: string;
  domain: string;
  children: MailDnsNode[];
}

export interface DomainNode extends NodeBase {
  kind: 'domain';
}
export interface CheckNode extends NodeBase {
  kind: 'check';
  checkId: string;
}
export interface FindingNode extends NodeBase {
  kind: 'finding';
  code: string;
  link: string;
}
export interface GroupNode extends NodeBase {
  kind: 'group';
}
export interface RecordNode extends NodeBase {
  kind: 'record';
}

export type MailDnsNode = DomainNode | CheckNode | FindingNode | GroupNode | RecordNode;

/** What the sidebar knows of one domain. */
export interface DomainState {
  domain: string;
  report?: DomainReport;
  running: boolean;
  /** Set when the run itself failed (not a DNS finding). */
  error?: string;
  selectors: string[];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function spfNodes(domain: string, node: SpfTreeNode, path: string): RecordNode {
  const id = `${path}/${node.via}:${node.domain}`;
  return {
    kind: 'record',
    id,
    label: `${node.via === 'root' ? '' : `${node.via}:`}${iconInertLine(node.domain)}`,
    description: iconInertLine(node.record ?? node.note ?? 'no record'),
    tooltip: `${visibleLine(node.record ?? '')}${node.note ? `\n(${visibleLine(node.note)})` : ''}\n${plural(node.lookups, 'lookup')}`.trim(),
    icon: node.note && node.record === undefined ? 'warning' : 'tree',
    contextValue: 'mailDnsRecord',
    domain,
    children: node.children.map((c) => spfNodes(domain, c, id)),
  };
}

function checkNode(domain: string, c: CheckResult): CheckNode {
  const base = `${domain}/${c.id}`;
  const status = checkStatus(c);
  const counts = (['error', 'warning'] as const).map((s) => [s, c.findings.filter((f) => f.severity === s).length] as const).filter(([, n]) => n > 0);
  const children: MailDnsNode[] = c.findings.map((f, i) => ({
    kind: 'finding',
    id: `${base}/f${i}:${f.code}`,
    label: iconInertLine(f.message),
    description: f.code,
    tooltip: [
      `${f.severity.toUpperCase()} ${f.code}`,
      visibleLine(f.message),
      f.record ? `${visibleLine(f.record.name)} ${f.record.type}: ${visibleLine(f.record.text)}` : '',
      f.record?.range ? `at ${position(f.record.text, f.record.range.start)}: ${visibleLine(f.record.text.slice(f.record.range.start, f.record.range.end))}` : '',
      f.link,
    ].filter(Boolean).join('\n'),
    icon: f.severity,
    contextValue: 'mailDnsFinding',
    domain,
    children: [],
    code: f.code,
    link: f.link,
  }));
  if (c.spfTree) {
    children.push({
      kind: 'group',
      id: `${base}/tree`,
      label: 'Include and redirect tree',
      icon: 'tree',
      contextValue: 'mailDnsGroup',
      domain,
      children: [spfNodes(domain, c.spfTree, `${base}/tree`)],
    });
  }
  if (c.records.length > 0) {
    children.push({
      kind: 'group',
      id: `${base}/records`,
      label: 'Raw records',
      description: plural(c.records.length, 'record'),
      icon: 'record',
      contextValue: 'mailDnsGroup',
      domain,
      children: c.records.map((r, i) => ({
        kind: 'record',
        id: `${base}/records/${i}`,
        label: iconInertLine(r.type === 'HTTPS' ? r.data.split(/\r?\n/).filter(Boolean).join(' | ') : r.data),
        description: `${iconInertLine(r.name)} ${r.type}`,
        // The HTTPS body (the MTA-STS policy) keeps its lines; each line, like every record, is escaped.
        tooltip: `${visibleLine(r.name)} ${r.type}\n${r.type === 'HTTPS' ? r.data.split(/\r?\n/).map(visibleLine).join('\n') : visibleLine(r.data)}`,
        icon: 'record',
        contextValue: 'mailDnsRecord',
        domain,
        children: [],
      })),
    });
  }
  return {
    kind: 'check',
    id: base,
    checkId: c.id,
    label: c.title,
    // A check with no finding at all has not passed anything: it shows as "no findings", never as
    // pass (the status of the CLI's report, `checkStatus` in dns/render.ts).
    description: c.skipped ? `skipped: ${iconInertLine(c.skipped)}` : counts.length > 0 ? counts.map(([s, n]) => plural(n, s)).join(', ') : status === 'empty' ? 'no findings' : status,
    icon: status,
    contextValue: c.id === 'starttls' ? 'mailDnsCheckStartTls' : 'mailDnsCheck',
    domain,
    children,
  };
}

/** Builds the node of one domain with its checks, findings and records. */
export function buildDomainNode(state: DomainState): DomainNode {
  const { domain, report } = state;
  const node: DomainNode = {
    kind: 'domain',
    id: domain,
    label: domain,
    icon: 'domain',
    contextValue: 'mailDnsDomain',
    domain,
    children: [],
    tooltip: state.selectors.length > 0 ? `DKIM selectors: ${state.selectors.join(', ')}` : 'No DKIM selectors given; common names are probed.',
  };
  if (state.running) {
    node.icon = 'running';
    node.description = 'checking…';
  }
  if (state.error) {
    node.icon = 'failed';
    node.description = iconInertLine(state.error);
    return node;
  }
  if (!report) {
    if (!state.running) node.description = 'not checked yet';
    return node;
  }
  const all = report.checks.flatMap((c) => c.findings);
  const errors = all.filter((f) => f.severity === 'error').length;
  const warnings = all.filter((f) => f.severity === 'warning').length;
  if (!state.running) {
    node.icon = report.dnsUnreachable ? 'failed' : all.length === 0 ? 'empty' : worstSeverity(all);
    node.description = report.dnsUnreachable ? 'DNS could not be reached' : `${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
  }
  node.tooltip = `${node.tooltip}\nChecked ${report.checkedAt}: ${report.queries} queries, depth ${report.depth}, ${report.durationMs} ms`;
  node.children = report.checks.map((c) => checkNode(domain, c));
  return node;
}

/** Adds a domain to the front of the recent list, without duplicates, keeping at most `max`. */
export function rememberRecent(recent: readonly string[], domain: string, max = 10): string[] {
  return [domain, ...recent.filter((d) => d !== domain)].slice(0, max);
}

/**
 * Parses the selectors a user typed: names separated by commas or spaces, each checked by the rule
 * `smtpwb dns --selector` applies (common/dnsName.ts), with the domain when it is known, so that
 * `<selector>._domainkey.<domain>` fits in a DNS name.
 */
export function parseSelectorInput(text: string, domain?: string): { selectors: string[] } | { error: string } {
  const selectors = text.split(/[\s,]+/).filter(Boolean);
  for (const s of selectors) {
    const problem = dkimSelectorProblem(s, domain);
    if (problem) return { error: visibleLine(problem) };
  }
  return { selectors: [...new Set(selectors)] };
}
