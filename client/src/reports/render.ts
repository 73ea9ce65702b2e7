/**
 * Renders a report summary as terminal text, Markdown, CSV or JSON. Every string that came from a
 * report goes through common/escape.ts (`visibleLine` for text and CSV, `escapeMarkdown` for
 * Markdown); JSON is exact. Pure.
 */
import { escapeMarkdown, jsonText, visibleLine } from '../../../common/escape';
import type { PublishedPolicy } from '../../../server/src/reports/aggregate';
import type { ReverseDnsResult } from './fcrdns';
import type { ReportSummary, ReverseDnsOverview, SourceSummary, TlsDaySummary } from './summary';

/** A rate as a percentage with one decimal, or "n/a". */
export function percent(part: number, whole: number): string {
  if (whole === 0) return 'n/a';
  const text = ((100 * part) / whole).toFixed(1);
  // Rounding must not hide a failure or a pass: 19,999 of 20,000 is not "100.0%", 1 of 20,000 not "0.0%".
  if (text === '100.0' && part < whole) return '>99.9%';
  if (text === '0.0' && part > 0) return '<0.1%';
  return `${text}%`;
}

/** A UTC date-time from seconds since the epoch, or "?" when absent or out of range. */
export function isoDate(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || Math.abs(seconds) > 8.64e12) return '?';
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** A published policy as a DMARC record would say it (`p=reject; sp=none; adkim=s`). */
export function policyText(p: PublishedPolicy): string {
  const parts: string[] = [];
  const tags: Array<[string, string | number | undefined]> = [
    ['p', p.p],
    ['sp', p.sp],
    ['np', p.np],
    ['adkim', p.adkim],
    ['aspf', p.aspf],
    ['pct', p.pct],
    ['t', p.testing],
    ['fo', p.fo],
  ];
  for (const [k, v] of tags) if (v !== undefined && v !== '') parts.push(`${k}=${v}`);
  if (p.discoveryMethod) parts.push(`(discovered by ${p.discoveryMethod})`);
  return parts.join('; ');
}

/** A UTC date and time to the minute (`2026-01-01 00:00`), or "?" when absent or out of range. */
export function utcDayTime(seconds: number | undefined): string {
  const iso = isoDate(seconds);
  return iso === '?' ? iso : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** Dispositions as `none 280, quarantine 70`, the largest first. */
export function dispositionsText(d: Record<string, number>): string {
  return Object.entries(d)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k || '(none given)'} ${v}`)
    .join(', ');
}

/**
 * A source's reverse DNS in words, the one wording of the CLI, Markdown, CSV and the report view:
 * `mail.example.com (forward-confirmed)`, `x.example.net (not forward-confirmed)`, `no PTR
 * (NXDOMAIN)`, `lookup failed (TIMEOUT)`. Exact text: each renderer escapes it as its output needs
 * (PTR names are peer data). Undefined when the source was not looked up.
 */
export function reverseDnsText(r: ReverseDnsResult | undefined): string | undefined {
  if (!r) return undefined;
  // The confirmed names first, at most three names in all.
  const names = [...r.confirmedNames, ...r.ptrs.filter((n) => !r.confirmedNames.includes(n))];
  const shown = names.slice(0, 3).join(' ') + (names.length > 3 ? ` (+${names.length - 3})` : '');
  switch (r.status) {
    case 'confirmed':
      return `${shown} (forward-confirmed)`;
    case 'unconfirmed':
      return `${shown} (not forward-confirmed)`;
    case 'nxdomain':
      return 'no PTR (NXDOMAIN)';
    case 'nodata':
      return 'no PTR (no data)';
    case 'invalid':
      return 'not an IP address';
    case 'failed':
      return `${shown ? `${shown}, ` : ''}lookup failed (${r.failure ?? 'OTHER'})`;
  }
}

const LEFT_OUT_WORDS: Record<NonNullable<ReverseDnsOverview['leftOutBecause']>, string> = {
  limit: 'past the limit of lookups, the sources with the fewest messages',
  unanswered: 'the DNS server stopped answering',
  cancelled: 'stopped',
};

/** The lookups in one line: `5 sources: 3 forward-confirmed, 1 not confirmed, 1 failed (TIMEOUT 1)`. */
export function reverseDnsOverviewText(o: ReverseDnsOverview | undefined): string {
  if (!o) return 'not looked up';
  const n = (k: keyof ReverseDnsOverview['byStatus']): number => o.byStatus[k] ?? 0;
  const parts = [
    n('confirmed') ? `${n('confirmed')} forward-confirmed` : '',
    n('unconfirmed') ? `${n('unconfirmed')} not confirmed` : '',
    n('nxdomain') + n('nodata') ? `${n('nxdomain') + n('nodata')} without PTR` : '',
    n('invalid') ? `${n('invalid')} not an IP address` : '',
    n('failed') ? `${n('failed')} lookup(s) failed (${Object.entries(o.failures).map(([k, v]) => `${k} ${v}`).join(', ')})` : '',
  ].filter((p) => p !== '');
  return `${o.lookedUp} source(s) looked up${parts.length ? `: ${parts.join(', ')}` : ''}${o.leftOut ? `; ${o.leftOut} not looked up (${LEFT_OUT_WORDS[o.leftOutBecause ?? 'limit']})` : ''}`;
}

/** Width of the text chart's bars, in characters. */
const TEXT_BAR = 40;

/**
 * TLS-RPT sessions per day as text bars (`#` successful, `x` failed; a failure always shows at
 * least one `x`), with the exact counts beside: the terminal's version of the report view's chart.
 * The policy domain is named on each row when there are several.
 */
export function tlsDaysText(days: readonly TlsDaySummary[]): string[] {
  if (days.length === 0) return [];
  const domains = new Set(days.map((d) => d.policyDomain.toLowerCase()));
  const named = domains.size > 1;
  const width = named ? Math.min(40, Math.max(...days.map((d) => visibleLine(d.policyDomain).length))) : 0;
  const max = Math.max(...days.map((d) => d.successful + d.failed), 1);
  const out = [`  sessions per day (UTC; # successful, x failed; a full bar is ${max} sessions):`];
  for (const d of days) {
    const total = d.successful + d.failed;
    const full = Math.round((total / max) * TEXT_BAR);
    const failed = d.failed > 0 ? Math.max(1, Math.round((d.failed / max) * TEXT_BAR)) : 0;
    const ok = Math.max(0, full - failed);
    const domain = named ? ` ${visibleLine(d.policyDomain).slice(0, width).padEnd(width)}` : '';
    out.push(`    ${visibleLine(d.day).padEnd(10)}${domain} ${('#'.repeat(ok) + 'x'.repeat(failed)).padEnd(TEXT_BAR)} ${d.successful} ok, ${d.failed} failed (${percent(d.failed, total)})`);
  }
  return out;
}

/** The terminal rendering. */
export function summaryText(s: ReportSummary): string {
  const L = (x: string): string => visibleLine(x);
  const out: string[] = [];
  const a = s.aggregate;
  out.push(`${s.files} file(s): ${s.counts.aggregate} DMARC aggregate, ${s.counts.tlsRpt} TLS-RPT, ${s.counts.failure} failure report(s), ${s.counts.unreadable} unreadable`);
  if (s.counts.aggregate > 0) {
    out.push('', `DMARC (${isoDate(a.begin)} to ${isoDate(a.end)})`);
    out.push(`  messages ${a.messages}, DMARC pass ${percent(a.dmarcPass, a.messages)}, DKIM aligned ${percent(a.dkimAligned, a.messages)}, SPF aligned ${percent(a.spfAligned, a.messages)}`);
    if (a.recordsLeftOut > 0) out.push(`  records left out of the totals: ${a.recordsLeftOut} (an unusable count, a truncated file or a total past 2^53 - 1; see the error findings)`);
    out.push(`  dispositions: ${L(dispositionsText(a.byDisposition))}`);
    for (const d of a.domains) {
      out.push(`  ${L(d.domain)}: ${d.reports} report(s), ${d.messages} messages, pass ${percent(d.dmarcPass, d.messages)}`);
      for (const p of d.policies) out.push(`    policy ${L(policyText(p.policy))}  (${isoDate(p.begin)} to ${isoDate(p.end)}, ${p.reports} report(s))`);
    }
    out.push('  reporters: ' + a.reporters.map((r) => `${L(r.orgName)} ${r.reports}/${r.messages}`).join(', '));
    out.push(`  reverse DNS: ${reverseDnsOverviewText(a.reverseDns)}`);
    if (a.topFailing.length > 0) {
      out.push('  top failing sources (messages failing DMARC):');
      for (const f of a.topFailing) {
        const rdns = reverseDnsText(f.reverseDns);
        out.push(`    ${L(f.sourceIp).padEnd(39)} ${String(f.failing).padStart(8)} of ${f.messages}  DKIM ${percent(f.dkimAligned, f.messages)} SPF ${percent(f.spfAligned, f.messages)}  from ${L(f.headerFrom.join(' '))}${rdns ? `  rDNS ${L(rdns)}` : ''}`);
      }
    }
    out.push('  sources:');
    for (const src of a.sources.slice(0, 50)) out.push(`    ${sourceLine(src)}`);
    if (a.sources.length > 50) out.push(`    … and ${a.sources.length - 50} more (use --json or --csv for all)`);
  }
  if (s.counts.tlsRpt > 0) {
    out.push('', 'TLS-RPT');
    out.push(`  sessions: ${s.tlsRpt.successful} successful, ${s.tlsRpt.failed} failed (${percent(s.tlsRpt.failed, s.tlsRpt.successful + s.tlsRpt.failed)})`);
    if (s.tlsRpt.policiesLeftOut > 0) out.push(`  policies left out of the totals: ${s.tlsRpt.policiesLeftOut} (a missing or unusable session count, or a total past 2^53 - 1; see the error findings)`);
    for (const p of s.tlsRpt.policies) {
      out.push(`  ${L(p.policyType)} ${L(p.policyDomain)}: ${p.successful} ok, ${p.failed} failed${p.mxHost.length ? ` (mx ${L(p.mxHost.join(' '))})` : ''}`);
      for (const m of p.byMx) out.push(`    ${L(m.mx || '(no MX named)')}: ${L(m.resultType)} ${m.sessions}`);
    }
    out.push(...tlsDaysText(s.tlsRpt.days));
  }
  if (s.failures.length > 0) {
    out.push('', 'Failure reports');
    for (const f of s.failures) {
      out.push(`  ${L(f.source)}: ${L(f.feedbackType)}${f.authFailure ? ` (${L(f.authFailure)})` : ''} for ${L(f.reportedDomain ?? '?')} from ${L(f.sourceIp ?? '?')} at ${L(f.arrivalDate ?? '?')}`);
    }
  }
  if (s.findings.length > 0) {
    out.push('', 'Findings');
    // Errors and warnings one by one; information (such as "an RFC 7489 report") counted by code.
    const info = new Map<string, number>();
    for (const f of s.findings) {
      if (f.severity === 'info' || f.severity === 'hint') info.set(f.code, (info.get(f.code) ?? 0) + 1);
      else out.push(`  ${L(f.source)}:${f.line !== undefined ? `${f.line}:${f.column}` : `@${f.start}`}: ${f.severity} ${f.code} ${L(f.message)}  ${f.link}`);
    }
    for (const [code, n] of info) out.push(`  info ${code} ×${n} (--json lists up to 100 of a code per report)`);
  }
  return out.join('\n') + '\n';
}

function sourceLine(s: SourceSummary): string {
  const rdns = reverseDnsText(s.reverseDns);
  return `${visibleLine(s.sourceIp).padEnd(39)} ${String(s.messages).padStart(8)}  pass ${percent(s.dmarcPass, s.messages).padStart(6)}  DKIM ${percent(s.dkimAligned, s.messages).padStart(6)}  SPF ${percent(s.spfAligned, s.messages).padStart(6)}  ${visibleLine(dispositionsText(s.byDisposition))}${rdns ? `  rDNS ${visibleLine(rdns)}` : ''}`;
}

/** The Markdown rendering (tables; every report string escaped). */
export function summaryMarkdown(s: ReportSummary): string {
  const M = (x: string): string => escapeMarkdown(x);
  const a = s.aggregate;
  const out: string[] = ['# Report summary', '', `${s.files} file(s): ${s.counts.aggregate} DMARC aggregate, ${s.counts.tlsRpt} TLS-RPT, ${s.counts.failure} failure report(s), ${s.counts.unreadable} unreadable.`];
  if (s.counts.aggregate > 0) {
    out.push('', '## DMARC', '', `From ${isoDate(a.begin)} to ${isoDate(a.end)}: ${a.messages} messages, DMARC pass ${percent(a.dmarcPass, a.messages)}, DKIM aligned ${percent(a.dkimAligned, a.messages)}, SPF aligned ${percent(a.spfAligned, a.messages)}.`);
    if (a.recordsLeftOut > 0) out.push('', `Records left out of the totals: ${a.recordsLeftOut} (an unusable count, a truncated file or a total past 2^53 − 1; see the findings).`);
    out.push('', '| Disposition | Messages |', '| --- | ---: |');
    for (const [k, v] of Object.entries(a.byDisposition)) out.push(`| ${M(k)} | ${v} |`);
    out.push('', '| Domain | Policy published | From | To | Reports |', '| --- | --- | --- | --- | ---: |');
    for (const d of a.domains) for (const p of d.policies) out.push(`| ${M(d.domain)} | ${M(policyText(p.policy))} | ${isoDate(p.begin)} | ${isoDate(p.end)} | ${p.reports} |`);
    // The Reverse DNS column is there once the sources were looked up (not with --no-dns).
    const looked = a.reverseDns !== undefined;
    const R = (x: SourceSummary): string => (looked ? ` ${M(reverseDnsText(x.reverseDns) ?? 'not looked up')} |` : '');
    const rHead = looked ? ' Reverse DNS |' : '';
    const rRule = looked ? ' --- |' : '';
    out.push('', `Reverse DNS: ${M(reverseDnsOverviewText(a.reverseDns))}.`);
    out.push('', '### Top failing sources', '', `| Source IP |${rHead} Failing | Messages | DKIM aligned | SPF aligned | Header From |`, `| --- |${rRule} ---: | ---: | ---: | ---: | --- |`);
    for (const f of a.topFailing) out.push(`| ${M(f.sourceIp)} |${R(f)} ${f.failing} | ${f.messages} | ${percent(f.dkimAligned, f.messages)} | ${percent(f.spfAligned, f.messages)} | ${M(f.headerFrom.join(', '))} |`);
    out.push('', '### Sources', '', `| Source IP |${rHead} Messages | DMARC pass | DKIM aligned | SPF aligned | Dispositions |`, `| --- |${rRule} ---: | ---: | ---: | ---: | --- |`);
    for (const x of a.sources) out.push(`| ${M(x.sourceIp)} |${R(x)} ${x.messages} | ${percent(x.dmarcPass, x.messages)} | ${percent(x.dkimAligned, x.messages)} | ${percent(x.spfAligned, x.messages)} | ${M(dispositionsText(x.byDisposition))} |`);
  }
  if (s.counts.tlsRpt > 0) {
    out.push('', '## TLS-RPT');
    if (s.tlsRpt.policiesLeftOut > 0) out.push('', `Policies left out of the totals: ${s.tlsRpt.policiesLeftOut} (a missing or unusable session count, or a total past 2^53 − 1; see the findings).`);
    out.push('', '| Policy | Domain | MX | Result type | Failed sessions |', '| --- | --- | --- | --- | ---: |');
    for (const p of s.tlsRpt.policies) {
      out.push(`| ${M(p.policyType)} | ${M(p.policyDomain)} | (all) | success | ${p.successful} ok, ${p.failed} failed |`);
      for (const m of p.byMx) out.push(`| ${M(p.policyType)} | ${M(p.policyDomain)} | ${M(m.mx)} | ${M(m.resultType)} | ${m.sessions} |`);
    }
    out.push('', '### TLS-RPT sessions per day', '', '| Day (UTC) | Policy domain | Successful | Failed | Failed share |', '| --- | --- | ---: | ---: | ---: |');
    for (const d of s.tlsRpt.days) out.push(`| ${M(d.day)} | ${M(d.policyDomain)} | ${d.successful} | ${d.failed} | ${percent(d.failed, d.successful + d.failed)} |`);
  }
  if (s.failures.length > 0) {
    out.push('', '## Failure reports', '', '| File | Type | Reported domain | Source IP | Arrival |', '| --- | --- | --- | --- | --- |');
    for (const f of s.failures) out.push(`| ${M(f.source)} | ${M(f.feedbackType + (f.authFailure ? ` (${f.authFailure})` : ''))} | ${M(f.reportedDomain ?? '')} | ${M(f.sourceIp ?? '')} | ${M(f.arrivalDate ?? '')} |`);
  }
  if (s.findings.length > 0) {
    out.push('', '## Findings', '', '| File | Offset | Severity | Code | Message |', '| --- | ---: | --- | --- | --- |');
    for (const f of s.findings) out.push(`| ${M(f.source)} | ${f.start} | ${f.severity} | [${M(f.code)}](${f.link}) | ${M(f.message)} |`);
  }
  return out.join('\n') + '\n';
}

/**
 * One CSV cell (RFC 4180): quoted when needed, invisible characters made visible, and a cell that
 * a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) prefixed with `'`.
 */
export function csvCell(value: string | number): string {
  if (typeof value === 'number') return String(value);
  let v = visibleLine(value);
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * The CSV export: one row per DMARC source and domain-less TLS failure group. The last two columns
 * are a DMARC source's PTR names and its reverse DNS status (`confirmed`, `unconfirmed`,
 * `nxdomain`, `nodata`, `failed:TIMEOUT`, ...; empty when not looked up).
 */
export function summaryCsv(s: ReportSummary): string {
  const rows: Array<Array<string | number>> = [['section', 'domain', 'source', 'messages', 'dmarc_pass', 'dkim_aligned', 'spf_aligned', 'failing', 'detail', 'ptr', 'fcrdns']];
  for (const x of s.aggregate.sources) {
    const r = x.reverseDns;
    const status = r ? (r.status === 'failed' ? `failed:${r.failure ?? 'OTHER'}` : r.status) : '';
    rows.push(['dmarc-source', x.headerFrom.join(' '), x.sourceIp, x.messages, x.dmarcPass, x.dkimAligned, x.spfAligned, x.failing, dispositionsText(x.byDisposition), r ? r.ptrs.join(' ') : '', status]);
  }
  for (const p of s.tlsRpt.policies) {
    rows.push(['tls-policy', p.policyDomain, p.policyType, p.successful + p.failed, p.successful, '', '', p.failed, p.mxHost.join(' ')]);
    for (const m of p.byMx) rows.push(['tls-failure', p.policyDomain, m.mx, m.sessions, '', '', '', m.sessions, m.resultType]);
  }
  for (const f of s.failures) rows.push(['failure-report', f.reportedDomain ?? '', f.sourceIp ?? '', 1, '', '', '', 1, `${f.feedbackType} ${f.authFailure ?? ''}`.trim()]);
  // Every row has as many fields as the header (RFC 4180 §2.4).
  return rows.map((r) => [...r, ...Array<string>(Math.max(0, rows[0].length - r.length)).fill('')].map(csvCell).join(',')).join('\r\n') + '\r\n';
}

/** The JSON export: the summary exactly. */
export function summaryJson(s: ReportSummary): string {
  return jsonText(s, 2) + '\n';
}
