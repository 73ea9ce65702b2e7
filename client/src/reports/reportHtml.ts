/**
 * The report view's document: a pure renderer from a ReportSummary to HTML, for a VS Code webview
 * (helper E wires it). Like views/transcriptHtml.ts it carries a strict Content-Security-Policy (no
 * default sources; the one style and the one script only under the render's nonce; nothing is
 * fetched: no images, fonts, frames or forms), and every string from a report is inert text
 * (`visibleText` then `escapeHtml`). Charts are inline SVG built here, so no charting library, no
 * canvas and no remote script is needed under the CSP; colours come from VS Code's theme variables.
 * Tables sort on a header click and filter by a text box (the nonce'd script, no data from reports
 * in it: it reads only the table cells' text).
 */
import { escapeHtml, visibleText } from '../../../common/escape';
import { isoDate, percent, policyText } from './render';
import type { DaySummary, ReportSummary, SourceSummary } from './summary';

export interface ReportHtmlOptions {
  cspSource: string;
  nonce: string;
  /**
   * In the editor's report view: export buttons, and a "Check DNS" button per domain of a failing
   * source. They post `{ type: 'export', format: 'csv' | 'json' }` and `{ type: 'dnsCheck', domain }`
   * to the extension (views/reportView.ts), which validates the domain before acting on it.
   */
  actions?: boolean;
}

/** Report text as inert HTML text. */
function t(text: string | number | undefined): string {
  return escapeHtml(visibleText(String(text ?? '')));
}

/** The Content-Security-Policy of the report view. */
export function reportCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    "img-src 'none'",
    "font-src 'none'",
    "connect-src 'none'",
    "frame-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
}

const CSS = `
body{font-family:var(--vscode-font-family);color:var(--vscode-foreground);background:var(--vscode-editor-background);padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid var(--vscode-panel-border,#8884);padding:2px 6px;text-align:left}
th{cursor:pointer;background:var(--vscode-editorWidget-background)}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:var(--vscode-errorForeground)}.warn{color:var(--vscode-editorWarning-foreground)}
svg .pass{fill:var(--vscode-charts-green,#3a3)}svg .fail{fill:var(--vscode-charts-red,#c33)}svg text{fill:var(--vscode-foreground);font-size:10px}
button{background:var(--vscode-button-background);color:var(--vscode-button-foreground);border:none;padding:2px 8px;cursor:pointer}
nav.toolbar{margin:.5em 0}
input.filter{margin:.3em 0;background:var(--vscode-input-background);color:var(--vscode-input-foreground);border:1px solid var(--vscode-input-border,#8884)}
`;

/** The view's actions: posts to the extension; the data it sends are a button's own attributes. */
const ACTION_SCRIPT = `
const vscodeApi = acquireVsCodeApi();
for (const b of document.querySelectorAll('button[data-export]')) b.addEventListener('click', () => vscodeApi.postMessage({ type: 'export', format: b.dataset.export }));
for (const b of document.querySelectorAll('button.dns')) b.addEventListener('click', (e) => { e.stopPropagation(); vscodeApi.postMessage({ type: 'dnsCheck', domain: b.dataset.domain }); });
`;

const SCRIPT = `
for (const table of document.querySelectorAll('table[data-sortable]')) {
  const body = table.tBodies[0];
  table.querySelectorAll('th').forEach((th, col) => th.addEventListener('click', () => {
    const dir = th.dataset.dir === 'asc' ? 'desc' : 'asc'; th.dataset.dir = dir;
    const rows = [...body.rows];
    const key = (r) => { const c = r.cells[col]; const v = c.dataset.v; return v !== undefined ? Number(v) : c.textContent; };
    rows.sort((a, b) => { const x = key(a), y = key(b); const c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y)); return dir === 'asc' ? c : -c; });
    rows.forEach((r) => body.appendChild(r));
  }));
  const filter = table.previousElementSibling;
  if (filter && filter.classList.contains('filter')) filter.addEventListener('input', () => {
    const q = filter.value.toLowerCase();
    for (const r of body.rows) r.hidden = q !== '' && !r.textContent.toLowerCase().includes(q);
  });
}
`;

function num(n: number): string {
  return `<td class="n" data-v="${n}">${n}</td>`;
}

function rate(part: number, whole: number): string {
  const v = whole === 0 ? -1 : part / whole;
  const cls = whole > 0 && v < 0.9 ? ' bad' : '';
  return `<td class="n${cls}" data-v="${v}">${percent(part, whole)}</td>`;
}

/** A bar chart of messages per day, split into DMARC pass and fail. */
export function daysChart(days: DaySummary[]): string {
  if (days.length === 0) return '';
  const w = Math.max(240, days.length * 14);
  const h = 120;
  const max = Math.max(...days.map((d) => d.messages), 1);
  const bars = days
    .map((d, i) => {
      const x = i * 14 + 2;
      const passH = Math.round((d.dmarcPass / max) * (h - 20));
      const failH = Math.round(((d.messages - d.dmarcPass) / max) * (h - 20));
      return (
        `<g><title>${t(d.day)}: ${d.messages} messages, ${percent(d.dmarcPass, d.messages)} pass</title>` +
        `<rect class="pass" x="${x}" y="${h - 15 - passH}" width="10" height="${passH}"/>` +
        `<rect class="fail" x="${x}" y="${h - 15 - passH - failH}" width="10" height="${failH}"/></g>`
      );
    })
    .join('');
  return `<svg role="img" aria-label="messages per day, DMARC pass and fail" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${bars}<text x="0" y="${h - 2}">${t(days[0].day)}</text><text x="${w - 60}" y="${h - 2}">${t(days[days.length - 1].day)}</text></svg>`;
}

/** A horizontal bar chart of the sources with the most messages, split into DMARC pass and fail. */
export function sourcesChart(sources: SourceSummary[], top = 10): string {
  const list = sources.slice(0, top);
  if (list.length === 0) return '';
  const w = 420;
  const rowH = 16;
  const label = 160;
  const max = Math.max(...list.map((x) => x.messages), 1);
  const rows = list
    .map((x, i) => {
      const y = i * rowH;
      const passW = Math.round((x.dmarcPass / max) * (w - label - 10));
      const failW = Math.round(((x.messages - x.dmarcPass) / max) * (w - label - 10));
      return (
        `<g><title>${t(x.sourceIp)}: ${x.messages} messages, ${percent(x.dmarcPass, x.messages)} pass</title>` +
        `<text x="0" y="${y + 11}">${t(x.sourceIp)}</text>` +
        `<rect class="pass" x="${label}" y="${y + 2}" width="${passW}" height="${rowH - 4}"/>` +
        `<rect class="fail" x="${label + passW}" y="${y + 2}" width="${failW}" height="${rowH - 4}"/></g>`
      );
    })
    .join('');
  const h = list.length * rowH;
  return `<svg role="img" aria-label="messages per source, DMARC pass and fail" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${rows}</svg>`;
}

/** The body of the view (without the document around it), for tests and for updates. */
/** The "Check DNS" buttons of a failing source: one per header_from domain, at most three. */
function dnsButtons(domains: readonly string[]): string {
  return domains
    .slice(0, 3)
    .map((d) => `<button class="dns" data-domain="${t(d)}" title="Open the Mail DNS check of this domain">Check DNS: ${t(d)}</button>`)
    .join(' ');
}

export function reportBody(s: ReportSummary, actions = false): string {
  const a = s.aggregate;
  const out: string[] = [];
  out.push(`<p>${s.files} file(s): ${s.counts.aggregate} DMARC aggregate, ${s.counts.tlsRpt} TLS-RPT, ${s.counts.failure} failure report(s), ${s.counts.unreadable} unreadable.</p>`);
  if (s.counts.aggregate > 0) {
    out.push(`<h2>DMARC</h2><p>${t(isoDate(a.begin))} to ${t(isoDate(a.end))}: ${a.messages} messages, DMARC pass ${percent(a.dmarcPass, a.messages)}, DKIM aligned ${percent(a.dkimAligned, a.messages)}, SPF aligned ${percent(a.spfAligned, a.messages)}.</p>`);
    out.push(`<div class="chart">${daysChart(a.days)}</div>`);
    out.push('<h3>Dispositions</h3><table><thead><tr><th>Disposition</th><th>Messages</th></tr></thead><tbody>');
    for (const [k, v] of Object.entries(a.byDisposition)) out.push(`<tr><td>${t(k)}</td>${num(v)}</tr>`);
    out.push('</tbody></table><h3>Policy published</h3><table data-sortable><thead><tr><th>Domain</th><th>Policy</th><th>From</th><th>To</th><th>Reports</th></tr></thead><tbody>');
    for (const d of a.domains) for (const p of d.policies) out.push(`<tr><td>${t(d.domain)}</td><td>${t(policyText(p.policy))}</td><td>${t(isoDate(p.begin))}</td><td>${t(isoDate(p.end))}</td>${num(p.reports)}</tr>`);
    out.push('</tbody></table><h3>Top failing sources</h3>');
    out.push(`<table data-sortable id="failing"><thead><tr><th>Source IP</th><th>Failing</th><th>Messages</th><th>DKIM aligned</th><th>SPF aligned</th><th>Header From</th>${actions ? '<th>Act</th>' : ''}</tr></thead><tbody>`);
    for (const f of a.topFailing)
      out.push(
        `<tr data-source-ip="${t(f.sourceIp)}"><td>${t(f.sourceIp)}</td>${num(f.failing)}${num(f.messages)}${rate(f.dkimAligned, f.messages)}${rate(f.spfAligned, f.messages)}<td>${t(f.headerFrom.join(', '))}</td>${actions ? `<td>${dnsButtons(f.headerFrom)}</td>` : ''}</tr>`,
      );
    out.push('</tbody></table><h3>Sources</h3>');
    out.push(`<div class="chart">${sourcesChart(a.sources)}</div>`);
    out.push('<input class="filter" type="search" placeholder="Filter sources" aria-label="Filter sources"><table data-sortable id="sources"><thead><tr><th>Source IP</th><th>Messages</th><th>DMARC pass</th><th>DKIM aligned</th><th>SPF aligned</th><th>DKIM results</th><th>SPF results</th></tr></thead><tbody>');
    for (const x of a.sources)
      out.push(`<tr><td>${t(x.sourceIp)}</td>${num(x.messages)}${rate(x.dmarcPass, x.messages)}${rate(x.dkimAligned, x.messages)}${rate(x.spfAligned, x.messages)}<td>${t(x.dkimDomains.join(', '))}</td><td>${t(x.spfDomains.join(', '))}</td></tr>`);
    out.push('</tbody></table><h3>Reporters</h3><table data-sortable><thead><tr><th>Organisation</th><th>Reports</th><th>Messages</th></tr></thead><tbody>');
    for (const r of a.reporters) out.push(`<tr><td>${t(r.orgName)}</td>${num(r.reports)}${num(r.messages)}</tr>`);
    out.push('</tbody></table>');
  }
  if (s.counts.tlsRpt > 0) {
    out.push(`<h2>TLS-RPT</h2><p>${s.tlsRpt.successful} successful and ${s.tlsRpt.failed} failed sessions.</p><table data-sortable><thead><tr><th>Policy</th><th>Domain</th><th>MX</th><th>Result</th><th>Sessions</th></tr></thead><tbody>`);
    for (const p of s.tlsRpt.policies) {
      out.push(`<tr><td>${t(p.policyType)}</td><td>${t(p.policyDomain)}</td><td>${t(p.mxHost.join(', '))}</td><td>success</td>${num(p.successful)}</tr>`);
      for (const m of p.byMx) out.push(`<tr><td>${t(p.policyType)}</td><td>${t(p.policyDomain)}</td><td>${t(m.mx)}</td><td class="bad">${t(m.resultType)}</td>${num(m.sessions)}</tr>`);
    }
    out.push('</tbody></table>');
  }
  if (s.failures.length > 0) {
    out.push('<h2>Failure reports</h2><table data-sortable><thead><tr><th>File</th><th>Type</th><th>Reported domain</th><th>Source IP</th><th>Arrival</th><th>From</th></tr></thead><tbody>');
    for (const f of s.failures)
      out.push(`<tr><td>${t(f.source)}</td><td>${t(f.feedbackType)} ${t(f.authFailure ?? '')}</td><td>${t(f.reportedDomain)}</td><td>${t(f.sourceIp)}</td><td>${t(f.arrivalDate)}</td><td>${t(f.originalFrom)}</td></tr>`);
    out.push('</tbody></table>');
  }
  if (s.findings.length > 0) {
    out.push('<h2>Findings</h2><table data-sortable><thead><tr><th>File</th><th>Offset</th><th>Severity</th><th>Code</th><th>Message</th></tr></thead><tbody>');
    for (const f of s.findings)
      out.push(`<tr><td>${t(f.source)}</td>${num(f.start)}<td class="${f.severity === 'error' ? 'bad' : 'warn'}">${t(f.severity)}</td><td><a href="${escapeHtml(f.link)}">${t(f.code)}</a></td><td>${t(f.message)}</td></tr>`);
    out.push('</tbody></table>');
  }
  return out.join('\n');
}

/** The complete document of the report view. */
export function renderReportHtml(s: ReportSummary, opts: ReportHtmlOptions): string {
  const { cspSource, nonce } = opts;
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(nonce)) throw new Error('the nonce must be at least 16 base64 or hex characters');
  if (/[;,"<>\r\n]/.test(cspSource) || cspSource.trim() === '') throw new Error('the CSP source must be source expressions without ";", "," or quotes');
  return [
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(reportCsp(cspSource, nonce))}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Reports</title>',
    `<style nonce="${nonce}">${CSS}</style>`,
    '</head><body>',
    opts.actions ? '<nav class="toolbar"><button data-export="csv">Export CSV</button> <button data-export="json">Export JSON</button></nav>' : '',
    `<main id="content">${reportBody(s, opts.actions === true)}</main>`,
    `<script nonce="${nonce}">${SCRIPT}${opts.actions ? ACTION_SCRIPT : ''}</script>`,
    '</body></html>',
  ].join('');
}
