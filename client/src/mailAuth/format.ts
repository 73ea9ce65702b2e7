/**
 * Renders an AuthReport as plain text (CLI), Markdown (editor) or JSON. The Authentication-Results
 * field (RFC 8601) is always shown as mailauth built it.
 */
import { escapeMarkdown, jsonText, visibleLine } from '../../../common/escape';
import type { AuthReport, MethodReport, SmtpIdentities } from './verify';

function methodLabel(m: MethodReport, index?: number): string {
  const name = m.method.toUpperCase();
  return index === undefined ? name : `${name} #${index + 1}`;
}

function allMethods(report: AuthReport): Array<{ label: string; m: MethodReport }> {
  return [
    ...report.dkim.map((m, i) => ({ label: report.dkim.length > 1 ? methodLabel(m, i) : methodLabel(m), m })),
    { label: 'SPF', m: report.spf },
    { label: 'DMARC', m: report.dmarc },
    { label: 'ARC', m: report.arc },
    { label: 'BIMI', m: report.bimi },
  ];
}

function identityLine(smtp: SmtpIdentities): string {
  const part = (name: string, value: string | undefined, source: string): string =>
    `${name} ${value === undefined ? '(unknown)' : value === '' ? '<>' : value}${value === undefined ? '' : ` [${source}]`}`;
  const where = smtp.receivedIndex === undefined ? '' : ` (Received field #${smtp.receivedIndex + 1} from the top)`;
  return `${part('client IP', smtp.ip, smtp.sources.ip)}, ${part('HELO', smtp.helo, smtp.sources.helo)}, ${part('MAIL FROM', smtp.mailFrom, smtp.sources.mailFrom)}${where}`;
}

/** A short "key=value" summary of a DKIM signature's identity. */
function dkimSummary(m: MethodReport): string {
  const d = m.details;
  return [d.domain && `d=${d.domain}`, d.selector && `s=${d.selector}`, d.algorithm && `a=${d.algorithm}`].filter(Boolean).join(' ');
}

/** Renders the report for a terminal. */
export function formatReportText(report: AuthReport): string {
  const lines: string[] = [];
  const rows = allMethods(report);
  const width = Math.max(...rows.map((r) => r.label.length)) + 2;
  for (const { label, m } of rows) {
    const status = m.failed ? `${m.result} ✗` : m.result;
    const extra = m.method === 'dkim' ? dkimSummary(m) : m.method === 'spf' || m.method === 'dmarc' ? m.details.domain ?? '' : '';
    lines.push(`${label.padEnd(width)}${status.padEnd(12)}${visibleLine(extra)}`.trimEnd());
    // A reason quotes what peers sent (a key record, a header line, a DNS error): one line, escaped.
    if (m.reason) lines.push(`${''.padEnd(width)}reason: ${visibleLine(m.reason)}`);
    // The ARC chain view: why the chain fails, instance by instance (arcChain.ts). Header and DNS text: escaped.
    if (m.method === 'arc') {
      for (const [k, v] of Object.entries(m.details)) if (k === 'chain' || k === 'chain view' || /^i=\d+$/.test(k)) lines.push(`${''.padEnd(width)}${k}: ${visibleLine(v)}`);
    }
  }
  // Notes about the message as a whole (a byte order mark, no body) say why the results are what they are.
  for (const note of report.notes ?? []) lines.push(`note: ${visibleLine(note.message)} [${note.code}]`);
  lines.push('');
  // The identities may come from a Received field, and the DNS names from the message: escaped.
  lines.push(`SMTP: ${visibleLine(identityLine(report.smtp))}`);
  if (report.dnsUnreachable.length > 0) {
    const first = report.dnsUnreachable[0];
    lines.push(visibleLine(`DNS: ${report.dnsUnreachable.length} queries got no answer (first: ${first.name} ${first.rrtype}: ${first.code})`));
  }
  lines.push('');
  // The fields are folded with CRLF; each of their lines is shown as one escaped line.
  const fieldLines = (field: string): string[] => field.replace(/\r\n/g, '\n').trimEnd().split('\n').map(visibleLine);
  lines.push(...fieldLines(report.authenticationResults));
  if (report.receivedSpf) lines.push(...fieldLines(report.receivedSpf));
  return `${lines.join('\n')}\n`;
}

/** Renders the report as a Markdown document. */
export function formatReportMarkdown(report: AuthReport, title = 'Authentication report'): string {
  const out: string[] = [`# ${escapeMarkdown(title)}`, ''];
  out.push(report.failed ? '**Result: something failed.**' : '**Result: nothing failed.**', '');
  for (const note of report.notes ?? []) out.push(`> **Note (${escapeMarkdown(note.code)}):** ${escapeMarkdown(note.message)}`, '');
  out.push('| Check | Result | Reason | Details |', '|---|---|---|---|');
  for (const { label, m } of allMethods(report)) {
    const details = Object.entries(m.details)
      .filter(([k]) => !/record$/i.test(k))
      .map(([k, v]) => `${escapeMarkdown(k)}: ${escapeMarkdown(v)}`)
      .join('<br>');
    out.push(`| ${label} | ${m.failed ? '❌ ' : m.result === 'pass' ? '✅ ' : ''}${escapeMarkdown(m.result)} | ${escapeMarkdown(m.reason ?? '')} | ${details} |`);
  }
  out.push('', `SMTP identities used for SPF: ${escapeMarkdown(identityLine(report.smtp))}`, '');
  if (report.dnsUnreachable.length > 0) out.push(`DNS: ${report.dnsUnreachable.length} queries got no answer.`, '');
  out.push('```', report.authenticationResults.replace(/\r\n/g, '\n').trimEnd());
  if (report.receivedSpf) out.push(report.receivedSpf.replace(/\r\n/g, '\n').trimEnd());
  out.push('```', '');
  return out.join('\n');
}

/** The JSON form (stable keys) for `--json`. */
export function reportJson(report: AuthReport): string {
  return `${jsonText(report, 2)}\n`;
}
