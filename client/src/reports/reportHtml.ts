/**
 * The report view's document: a pure renderer from a ReportSummary to HTML, for a VS Code webview
 * (views/reportView.ts). Like views/transcriptHtml.ts it carries a strict Content-Security-Policy
 * (no default sources; the one style and the one script only under the render's nonce; nothing is
 * fetched: no images, fonts, frames or forms), and every string from a report is inert text
 * (`visibleText` then `escapeHtml`). Charts are inline SVG built here, so no charting library, no
 * canvas and no remote script is needed under the CSP; colours come from VS Code's theme variables.
 *
 * The view answers first what a person opening reports asks: is the domain all right, and who is
 * failing. A verdict heads it (per domain: messages, DMARC pass, alignment, the policy, the
 * sources that fail); the charts and the tables follow. Nothing depends on colour alone: a rate
 * below its mark carries a sign and the word in its title, failing bars are hatched and the
 * legends name both series. Tables sort from their header buttons (mouse or keyboard, with
 * `aria-sort`), and the sources table filters by a labelled text box; the nonce'd script holds no
 * data from reports: it reads only the table cells' text and `data-v` numbers.
 */
import { escapeHtml, visibleText } from '../../../common/escape';
import { dispositionsText, percent, policyText, reverseDnsOverviewText, reverseDnsText, utcDayTime } from './render';
import type { DaySummary, ReportSummary, SourceSummary, TlsDaySummary } from './summary';

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

/**
 * The marks a DMARC pass or alignment rate is judged by: at or above `good` it is shown as fine,
 * below `poor` as failing, between them as worth a look. Mail that fails DMARC is often
 * forwarded or spoofed rather than the domain's own, so the view states the numbers and marks
 * them; it does not claim the domain is broken.
 */
export const RATE_MARKS = { good: 0.98, poor: 0.9 } as const;

type RateLevel = 'good' | 'warn' | 'bad' | 'none';

function rateLevel(part: number, whole: number): RateLevel {
  if (whole === 0) return 'none';
  const v = part / whole;
  return v >= RATE_MARKS.good ? 'good' : v >= RATE_MARKS.poor ? 'warn' : 'bad';
}

/** The sign and the words of a level, so that no state is told by colour alone. */
const LEVEL_SIGN: Record<RateLevel, { sign: string; words: string }> = {
  good: { sign: '✓', words: `at or above ${RATE_MARKS.good * 100}%` },
  warn: { sign: '!', words: `below ${RATE_MARKS.good * 100}%` },
  bad: { sign: '✗', words: `below ${RATE_MARKS.poor * 100}%` },
  none: { sign: '', words: 'no messages' },
};

/** Report text as inert HTML text. */
function t(text: string | number | undefined): string {
  return escapeHtml(visibleText(String(text ?? '')));
}

/** "1 report", "2 reports". */
function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
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
body{font-family:var(--vscode-font-family);font-size:var(--vscode-font-size,13px);color:var(--vscode-foreground);background:var(--vscode-editor-background);padding:0 1em 2em;max-width:1200px}
h1{font-size:1.35em;margin:.6em 0 .2em}h2{font-size:1.2em;margin:1.4em 0 .3em;border-bottom:1px solid var(--vscode-panel-border,#8884)}h3{font-size:1.05em;margin:1.1em 0 .3em}
.muted{color:var(--vscode-descriptionForeground)}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.3em 0 1em}th,td{border:1px solid var(--vscode-panel-border,#8884);padding:2px 6px;text-align:left;vertical-align:top}
th{background:var(--vscode-editorWidget-background);font-weight:600;white-space:nowrap}
th.n,td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th button.sort{all:unset;cursor:pointer;display:block;width:100%;text-align:inherit}
th button.sort:focus-visible,button:focus-visible,input:focus-visible,a:focus-visible,summary:focus-visible{outline:1px solid var(--vscode-focusBorder);outline-offset:1px}
th[aria-sort=ascending] button.sort::after{content:" ▲"}th[aria-sort=descending] button.sort::after{content:" ▼"}
td.wrap{overflow-wrap:break-word;min-width:6em}
.bad{color:var(--vscode-errorForeground)}.warn{color:var(--vscode-editorWarning-foreground)}.good{color:var(--vscode-testing-iconPassed,inherit)}
.verdict{border:1px solid var(--vscode-panel-border,#8884);border-left-width:4px;padding:.2em .9em .6em;margin:.6em 0 1em}
.verdict.v-bad{border-left-color:var(--vscode-errorForeground)}.verdict.v-warn{border-left-color:var(--vscode-editorWarning-foreground)}.verdict.v-good{border-left-color:var(--vscode-testing-iconPassed,#3a3)}
.kpis{display:flex;flex-wrap:wrap;gap:.5em 1.5em;margin:.5em 0;padding:0;list-style:none}
.kpis li{min-width:7.5em}.kpis .v{display:block;font-size:1.3em;font-variant-numeric:tabular-nums}.kpis .k{display:block;font-size:.85em;color:var(--vscode-descriptionForeground)}
ul.failing{margin:.3em 0;padding-left:1.2em}
svg{display:block}svg text{fill:var(--vscode-foreground);font-size:10px;font-family:var(--vscode-font-family)}
svg .pass{fill:var(--vscode-charts-green,#3a3)}svg .fail{fill:var(--vscode-charts-red,#c33)}svg .hatch{stroke:var(--vscode-editor-background,#fff);stroke-width:1.5}
svg .grid{stroke:var(--vscode-panel-border,#8884);stroke-width:1}svg .axis{stroke:var(--vscode-foreground);stroke-width:1}
.legend{margin:.2em 0 .4em;font-size:.9em}.swatch{display:inline-block;width:.9em;height:.9em;vertical-align:-.1em;margin:0 .3em 0 .8em;border:1px solid var(--vscode-panel-border,#8884)}
.swatch.pass{background:var(--vscode-charts-green,#3a3)}
.swatch.fail{background:repeating-linear-gradient(135deg,var(--vscode-charts-red,#c33) 0 3px,var(--vscode-editor-background,#fff) 3px 4.5px)}
button{background:var(--vscode-button-background);color:var(--vscode-button-foreground);border:none;padding:2px 8px;cursor:pointer}
button.dns{margin:1px 0;text-align:left}
nav.toolbar{margin:.5em 0;display:flex;gap:.5em;flex-wrap:wrap}
nav.toolbar button{background:var(--vscode-button-secondaryBackground,var(--vscode-button-background));color:var(--vscode-button-secondaryForeground,var(--vscode-button-foreground))}
label.filter{display:inline-block;margin:.3em 0}
input.filter{margin-left:.4em;background:var(--vscode-input-background);color:var(--vscode-input-foreground);border:1px solid var(--vscode-input-border,#8884);padding:1px 4px}
details{margin:.2em 0 .8em}summary{cursor:pointer;color:var(--vscode-textLink-foreground)}
`;

/** The view's actions: posts to the extension; the data it sends are a button's own attributes. */
const ACTION_SCRIPT = `
for (const b of document.querySelectorAll('button[data-export]')) b.addEventListener('click', () => api && api.postMessage({ type: 'export', format: b.dataset.export }));
for (const b of document.querySelectorAll('button.rdns')) b.addEventListener('click', () => { if (api) { b.disabled = true; b.textContent = 'Looking up reverse DNS…'; api.postMessage({ type: 'reverseDns' }); } });
for (const b of document.querySelectorAll('button.dns')) b.addEventListener('click', (e) => { e.stopPropagation(); if (api) api.postMessage({ type: 'dnsCheck', domain: b.dataset.domain }); });
`;

/**
 * Sorting and filtering. A header's button sorts (a click, or Enter and Space on the focused
 * button): numbers by their cell's data-v, text by locale; the header says its order in
 * aria-sort. A filter box names its table in data-filter and says how many rows it shows. The
 * order and the filter are kept in the webview's state (acquireVsCodeApi, when there is one), so
 * that they are as they were when the tab comes back (the view is not retained while hidden).
 */
const SCRIPT = `
const api = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : undefined;
const state = (api && api.getState()) || {};
const save = () => { if (api) api.setState(state); };
function sortTable(table, col, dir) {
  const heads = [...table.querySelectorAll('thead th')];
  const th = heads[col];
  if (!th) return;
  for (const other of heads) other.removeAttribute('aria-sort');
  th.setAttribute('aria-sort', dir);
  const body = table.tBodies[0];
  const key = (r) => { const c = r.cells[col]; if (!c) return ''; const v = c.dataset.v; return v !== undefined ? Number(v) : c.textContent; };
  const rows = [...body.rows];
  rows.sort((a, b) => { const x = key(a), y = key(b); const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y)); return dir === 'ascending' ? c : -c; });
  rows.forEach((r) => body.appendChild(r));
}
function filterTable(filter) {
  const table = document.getElementById(filter.dataset.filter);
  if (!table) return;
  const status = document.getElementById(filter.dataset.filter + '-shown');
  const body = table.tBodies[0];
  const q = filter.value.toLowerCase();
  let shown = 0;
  for (const r of body.rows) { r.hidden = q !== '' && !r.textContent.toLowerCase().includes(q); if (!r.hidden) shown++; }
  if (status) status.textContent = q === '' ? '' : shown + ' of ' + body.rows.length + ' shown';
}
for (const table of document.querySelectorAll('table[data-sortable]')) {
  table.querySelectorAll('thead th').forEach((th, col) => th.addEventListener('click', () => {
    const dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
    sortTable(table, col, dir);
    state.sort = { table: table.id, col, dir };
    save();
  }));
}
for (const filter of document.querySelectorAll('input.filter[data-filter]')) {
  filter.addEventListener('input', () => {
    filterTable(filter);
    state.filter = { id: filter.dataset.filter, q: filter.value };
    save();
  });
}
if (state.sort && typeof state.sort.table === 'string') {
  const table = document.getElementById(state.sort.table);
  if (table && Number.isInteger(state.sort.col)) sortTable(table, state.sort.col, state.sort.dir === 'descending' ? 'descending' : 'ascending');
}
if (state.filter && typeof state.filter.q === 'string') {
  const filter = document.querySelector('input.filter[data-filter="' + String(state.filter.id).replace(/[^a-z-]/g, '') + '"]');
  if (filter) { filter.value = state.filter.q; filterTable(filter); }
}
`;

function num(n: number): string {
  // Grouped digits for reading; the exact value stays in data-v, which sorting and tests use.
  return `<td class="n" data-v="${n}">${n.toLocaleString('en-US')}</td>`;
}

/** A rate cell: the percentage, and for a rate below the good mark its sign and, in the title, why. */
function rate(part: number, whole: number): string {
  const v = whole === 0 ? -1 : part / whole;
  const level = rateLevel(part, whole);
  const mark = level === 'warn' || level === 'bad' ? `<span aria-hidden="true">${LEVEL_SIGN[level].sign} </span>` : '';
  const title = level === 'none' ? '' : ` title="${percent(part, whole)}: ${part} of ${whole}, ${LEVEL_SIGN[level].words}"`;
  return `<td class="n${level === 'bad' ? ' bad' : level === 'warn' ? ' warn' : ''}" data-v="${v}"${title}>${mark}${percent(part, whole)}</td>`;
}

/** A table header row: each header a button that sorts; `n` marks the numeric columns. */
function head(columns: ReadonlyArray<string | { n: string }>): string {
  const cell = (c: string | { n: string }): string => {
    const [label, cls] = typeof c === 'string' ? [c, ''] : [c.n, ' class="n"'];
    return `<th${cls} scope="col"><button type="button" class="sort" title="Sort by ${label}">${label}</button></th>`;
  };
  return `<thead><tr>${columns.map(cell).join('')}</tr></thead>`;
}

/** A sortable table inside a scrolling box, so that a narrow view scrolls the table, not the page. */
function table(id: string, columns: ReadonlyArray<string | { n: string }>, rows: string[]): string {
  return `<div class="scroll"><table data-sortable id="${id}">${head(columns)}<tbody>${rows.join('')}</tbody></table></div>`;
}

/** A round upper bound for a chart's axis: 1, 2 or 5 times a power of ten, at least `max`. */
export function niceCeiling(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

/** The hatching that marks failing bars (besides their colour), one per chart. */
function hatch(id: string): string {
  return `<defs><pattern id="${id}" width="6" height="6" patternUnits="userSpaceOnUse"><rect class="fail" width="6" height="6"/><path class="hatch" d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2"/></pattern></defs>`;
}

/** The legend of a chart, in HTML: a swatch and a word for each series. */
function legend(ok = 'DMARC pass', bad = 'DMARC fail'): string {
  return `<p class="legend" aria-hidden="true"><span class="swatch pass"></span>${ok} <span class="swatch fail"></span>${bad} (hatched)</p>`;
}

/** Whole UTC days from the first reported day to the last (at most 400), the days without reports as zeros. */
export function continuousDays(days: readonly DaySummary[]): DaySummary[] {
  const byDay = new Map(days.map((d) => [d.day, d]));
  const first = Date.parse(`${days[0].day}T00:00:00Z`);
  const last = Date.parse(`${days[days.length - 1].day}T00:00:00Z`);
  const span = Math.round((last - first) / 86_400_000);
  if (!Number.isFinite(span) || span < 0 || span > 400) return [...days];
  const out: DaySummary[] = [];
  for (let i = 0; i <= span; i++) {
    const day = new Date(first + i * 86_400_000).toISOString().slice(0, 10);
    out.push(byDay.get(day) ?? { day, messages: 0, dmarcPass: 0, dkimAligned: 0, spfAligned: 0 });
  }
  return out;
}

/** More days than this are drawn a week to a bar (a year of days would be 2,000 px of slivers). */
export const DAYS_PER_BAR_LIMIT = 120;

/** Days summed into weeks from Monday (UTC); each week is named by its Monday. */
export function weeklyBuckets(days: readonly DaySummary[]): DaySummary[] {
  const weeks = new Map<string, DaySummary>();
  for (const d of days) {
    const at = Date.parse(`${d.day}T00:00:00Z`);
    if (!Number.isFinite(at)) continue;
    const monday = new Date(at - ((new Date(at).getUTCDay() + 6) % 7) * 86_400_000).toISOString().slice(0, 10);
    const w = weeks.get(monday) ?? { day: monday, messages: 0, dmarcPass: 0, dkimAligned: 0, spfAligned: 0 };
    w.messages += d.messages;
    w.dmarcPass += d.dmarcPass;
    w.dkimAligned += d.dkimAligned;
    w.spfAligned += d.spfAligned;
    weeks.set(monday, w);
  }
  return [...weeks.values()].sort((x, y) => x.day.localeCompare(y.day));
}

/**
 * The words of a stacked day chart: what is counted, and the two series (the good one below, the
 * failing one above and hatched).
 */
export interface DayChartWords {
  /** The hatching pattern's id, unique in the document. */
  id: string;
  /** What a bar counts, plural: `messages`, `sessions`. */
  what: string;
  /** The lower series as said of a count: `pass DMARC`, `successful`. */
  ok: string;
  /** The upper series: `fail`, `failed`. */
  bad: string;
  /** Both series, for the chart's label: `DMARC pass and fail`. */
  series: string;
  /** What a day is: `the report period begins`; and a week: `the report periods begin in`. */
  dayIs: string;
  weekIs: string;
  /** Whether each bar with failures carries its failed share above it (when there is room). */
  badShare?: boolean;
}

const DMARC_DAY_WORDS: DayChartWords = { id: 'hatch-days', what: 'messages', ok: 'pass DMARC', bad: 'fail', series: 'DMARC pass and fail', dayIs: 'the report period begins', weekIs: 'the report periods begin in' };

/**
 * Messages per day (UTC, by the day each report's period begins), stacked: DMARC pass below,
 * fail above and hatched. The axis is time: days without reports are gaps, not left out; past
 * DAYS_PER_BAR_LIMIT days a bar is a week. A y axis in messages with round ticks, dates under the
 * bars (thinned when they would touch), and the exact figures in each bar's title and in the
 * table beside. The TLS-RPT chart draws sessions with the same code and other words.
 */
export function daysChart(reported: DaySummary[], words: DayChartWords = DMARC_DAY_WORDS): string {
  if (reported.length === 0) return '';
  const continuous = continuousDays(reported);
  const weekly = continuous.length > DAYS_PER_BAR_LIMIT;
  const days = weekly ? weeklyBuckets(continuous) : continuous;
  const unit = weekly ? 'week' : 'day';
  const left = 48;
  const bottom = 30;
  const top = 22;
  // One slot per day: wide enough for its date under it when there are few days, at least 6 px.
  const slot = Math.max(6, Math.min(72, Math.floor(720 / days.length)));
  const plotW = Math.max(200, slot * days.length);
  const plotH = 140;
  // Room on the right for half of the last date under its bar.
  const w = left + plotW + 36;
  const h = top + plotH + bottom;
  const max = niceCeiling(Math.max(...days.map((d) => d.messages), 1));
  const y = (v: number): number => top + plotH - Math.round((v / max) * plotH);
  const ticks = [0, max / 2, max]
    .map((v) => `<line class="grid" x1="${left}" x2="${left + plotW}" y1="${y(v)}" y2="${y(v)}"/><text x="${left - 4}" y="${y(v) + 3}" text-anchor="end">${Number.isInteger(v) ? v : v.toFixed(1)}</text>`)
    .join('');
  const barW = Math.max(3, Math.round(slot * 0.7));
  // A date label is about 62 px wide: label every k-th day so that labels never overlap.
  const every = Math.max(1, Math.ceil(64 / slot));
  const bars = days
    .map((d, i) => {
      const x = left + i * slot + Math.round((slot - barW) / 2);
      const fail = d.messages - d.dmarcPass;
      const passTop = y(d.dmarcPass);
      const failTop = y(d.messages);
      const label = i % every === 0 ? `<text x="${x + barW / 2}" y="${top + plotH + 14}" text-anchor="middle">${t(d.day)}</text>` : '';
      // The failed share above the bar, where a share (about 34 px wide) fits in the slot.
      const share = words.badShare && fail > 0 && slot >= 36 ? `<text x="${x + barW / 2}" y="${failTop - 3}" text-anchor="middle">${percent(fail, d.messages)}</text>` : '';
      return (
        `<g><title>${weekly ? 'week of ' : ''}${t(d.day)}: ${d.messages === 0 ? `no ${words.what} reported` : `${d.messages} ${words.what}, ${d.dmarcPass} ${words.ok} (${percent(d.dmarcPass, d.messages)}), ${fail} ${words.bad}`}</title>` +
        `<rect class="pass" x="${x}" y="${passTop}" width="${barW}" height="${top + plotH - passTop}"/>` +
        `<rect fill="url(#${words.id})" x="${x}" y="${failTop}" width="${barW}" height="${passTop - failTop}"/>${share}${label}</g>`
      );
    })
    .join('');
  const axes = `<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}"/><line class="axis" x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}"/>`;
  const titles = `<text x="0" y="10">${words.what} per ${unit}</text><text x="${left + plotW}" y="${h - 2}" text-anchor="end">${weekly ? `week (UTC, from Monday) ${words.weekIs}` : `day (UTC) ${words.dayIs}`}</text>`;
  const total = days.reduce((n, d) => n + d.messages, 0);
  const label = `${words.what[0].toUpperCase()}${words.what.slice(1)} per ${unit} from ${t(days[0].day)} to ${t(days[days.length - 1].day)}: ${total} in all, stacked by ${words.series}`;
  return `<svg role="img" aria-label="${label}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${hatch(words.id)}${ticks}${bars}${axes}${titles}</svg>`;
}

/** The TLS-RPT days of one policy domain as the day chart's points: `messages` all sessions, `dmarcPass` the successful ones. */
function tlsPoints(days: readonly TlsDaySummary[]): DaySummary[] {
  const byDay = new Map<string, DaySummary>();
  for (const d of days) {
    const p = byDay.get(d.day) ?? { day: d.day, messages: 0, dmarcPass: 0, dkimAligned: 0, spfAligned: 0 };
    p.messages += d.successful + d.failed;
    p.dmarcPass += d.successful;
    byDay.set(d.day, p);
  }
  // A report whose date range could not be read has no day to stand on; the table still lists it.
  return [...byDay.values()].filter((p) => /^\d{4}-\d{2}-\d{2}$/.test(p.day)).sort((a, b) => a.day.localeCompare(b.day));
}

/**
 * TLS-RPT sessions per day (UTC, by the day each report's date range starts; RFC 8460 §4.4),
 * successful below and failed above (hatched, with the failed share above the bar): one chart per
 * policy domain when there are several, each under a heading that names it. Inline SVG of
 * attributes and classes only (no `style` attribute, no script), which the view's CSP allows.
 */
export function tlsDaysChart(days: readonly TlsDaySummary[]): string {
  const domains = new Map<string, TlsDaySummary[]>();
  for (const d of days) {
    const key = d.policyDomain.toLowerCase();
    domains.set(key, [...(domains.get(key) ?? []), d]);
  }
  const several = domains.size > 1;
  const out: string[] = [];
  let n = 0;
  for (const list of domains.values()) {
    const points = tlsPoints(list);
    if (points.length === 0) continue;
    const words: DayChartWords = { id: `hatch-tls-${n++}`, what: 'sessions', ok: 'successful', bad: 'failed', series: 'successful and failed sessions', dayIs: 'the report date range begins', weekIs: 'the report date ranges begin in', badShare: true };
    const chart = `<div class="scroll chart">${daysChart(points, words)}</div>`;
    out.push(several ? `<h4>${t(list[0].policyDomain)}</h4>${chart}` : chart);
  }
  return out.join('');
}

/**
 * The sources with the most messages, as horizontal bars split into DMARC pass and fail (hatched),
 * each with its count and pass rate written at its end.
 */
export function sourcesChart(sources: SourceSummary[], top = 10): string {
  const list = sources.slice(0, top);
  if (list.length === 0) return '';
  const rowH = 18;
  const label = Math.min(240, Math.max(...list.map((x) => visibleText(x.sourceIp).length)) * 6 + 10);
  const barMax = 300;
  const valueW = 150;
  const w = label + barMax + valueW;
  const max = Math.max(...list.map((x) => x.messages), 1);
  const rows = list
    .map((x, i) => {
      const y = 16 + i * rowH;
      const passW = Math.round((x.dmarcPass / max) * barMax);
      const failW = Math.round(((x.messages - x.dmarcPass) / max) * barMax);
      return (
        `<g><title>${t(x.sourceIp)}${x.reverseDns ? ` (rDNS ${t(reverseDnsText(x.reverseDns))})` : ''}: ${x.messages} messages, ${x.dmarcPass} pass DMARC (${percent(x.dmarcPass, x.messages)}), ${x.failing} fail</title>` +
        `<text x="${label - 6}" y="${y + 12}" text-anchor="end">${t(x.sourceIp)}</text>` +
        `<rect class="pass" x="${label}" y="${y + 2}" width="${passW}" height="${rowH - 5}"/>` +
        `<rect fill="url(#hatch-sources)" x="${label + passW}" y="${y + 2}" width="${failW}" height="${rowH - 5}"/>` +
        `<text x="${label + passW + failW + 6}" y="${y + 12}">${x.messages} (${percent(x.dmarcPass, x.messages)} pass)</text></g>`
      );
    })
    .join('');
  const h = 16 + list.length * rowH + 4;
  const heading = `<text x="${label}" y="10">messages per source IP${sources.length > list.length ? ` (the ${list.length} largest of ${sources.length})` : ''}</text>`;
  return `<svg role="img" aria-label="Messages per source IP, the ${list.length} largest, split by DMARC pass and fail" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${hatch('hatch-sources')}${heading}${rows}</svg>`;
}

/** The "Check DNS" buttons of a failing source: one per header_from domain, at most three. */
function dnsButtons(domains: readonly string[]): string {
  return domains
    .slice(0, 3)
    .map((d) => `<button class="dns" data-domain="${t(d)}" title="Open the Mail DNS check of ${t(d)}">Check DNS: ${t(d)}</button>`)
    .join(' ');
}

/** What the files held, naming only the kinds present: `2 files: 2 DMARC aggregate reports`. */
function filesLine(s: ReportSummary): string {
  const parts = [
    s.counts.aggregate > 0 ? plural(s.counts.aggregate, 'DMARC aggregate report') : '',
    s.counts.tlsRpt > 0 ? plural(s.counts.tlsRpt, 'TLS-RPT report') : '',
    s.counts.failure > 0 ? plural(s.counts.failure, 'failure report') : '',
    s.counts.unreadable > 0 ? `<span class="bad">✗ ${s.counts.unreadable} unreadable (see Findings)</span>` : '',
  ].filter((p) => p !== '');
  return `${plural(s.files, 'file')}: ${parts.length > 0 ? parts.join(', ') : 'no reports'}.`;
}

/**
 * The published policy in the words that decide what receivers do: `p=quarantine`, with a
 * `pct` below 100 (RFC 7489 §6.3; gone in RFC 9989) and test mode (`t=y`, RFC 9989) when set.
 */
function enforcement(p: { p?: string; pct?: number; testing?: string }): string {
  const parts = [`p=${p.p ?? '?'}`];
  if (p.pct !== undefined && p.pct < 100) parts.push(`pct=${p.pct}`);
  if (p.testing === 'y') parts.push('t=y (test mode)');
  return parts.join(', ');
}

/** TLS-RPT in one line: failed sessions of all, and the largest failure types with their MX. */
function tlsVerdict(s: ReportSummary): string {
  const total = s.tlsRpt.successful + s.tlsRpt.failed;
  const level = rateLevel(s.tlsRpt.successful, total);
  const top = s.tlsRpt.policies
    .flatMap((p) => p.byMx)
    .sort((x, y) => y.sessions - x.sessions)
    .slice(0, 3)
    .map((m) => `${t(m.resultType)} ${m.sessions}${m.mx ? ` at ${t(m.mx)}` : ''}`);
  return `${levelMark(level)}TLS-RPT: ${s.tlsRpt.failed} of ${total} sessions failed (${percent(s.tlsRpt.failed, total)})${top.length > 0 ? `: ${top.join(', ')}` : ''}`;
}

/** The sign and class of a level, as an inline mark. */
function levelMark(level: RateLevel): string {
  return level === 'none' ? '' : `<span class="${level}" aria-hidden="true">${LEVEL_SIGN[level].sign}</span> `;
}

/**
 * The top of the view: is the domain all right, and who is failing. A headline naming the
 * reported domains (up to three; with more than one, the Domains table has each), the key
 * figures, the sources that fail DMARC most by name, and the period, the reporters and the files
 * underneath.
 */
function verdict(s: ReportSummary, actions: boolean): string {
  const a = s.aggregate;
  const out: string[] = [];
  if (s.counts.aggregate > 0) {
    const level = rateLevel(a.dmarcPass, a.messages);
    const failingSources = a.sources.filter((x) => x.failing > 0).length;
    const failing = a.messages - a.dmarcPass;
    const names = a.domains.map((d) => d.domain);
    const subject = names.length === 1 ? t(names[0]) : names.length <= 3 ? names.map(t).join(', ') : `${names.length} domains`;
    const headline =
      a.messages === 0
        ? `${subject}: no messages reported`
        : failing === 0
          ? `${subject}: all ${a.messages} messages pass DMARC`
          : `${subject}: ${percent(a.dmarcPass, a.messages)} of ${a.messages} messages pass DMARC; ${failing} fail, from ${plural(failingSources, 'source')}`;
    out.push(`<section class="verdict v-${level}" aria-label="Verdict"><h1>${levelMark(level)}${headline}</h1>`);
    const applied = Object.entries(a.byDisposition)
      .filter(([k, v]) => k !== 'none' && k !== '' && v > 0)
      .map(([k, v]) => `${v} ${t(k)}`);
    const latest = a.domains.flatMap((d) => d.policies.slice(-1).map((p) => p.policy));
    const policy = latest.length === 1 ? t(enforcement(latest[0])) : latest.length > 1 ? `${plural(latest.length, 'policy', 'policies')}` : '?';
    const kpi = (k: string, v: string, title = ''): string => `<li${title ? ` title="${title}"` : ''}><span class="v">${v}</span><span class="k">${k}</span></li>`;
    const rateKpi = (k: string, part: number): string => {
      const l = rateLevel(part, a.messages);
      return kpi(k, `${levelMark(l)}${percent(part, a.messages)}`, l === 'none' ? '' : `${part} of ${a.messages}, ${LEVEL_SIGN[l].words}`);
    };
    out.push(
      `<ul class="kpis">${kpi('messages', String(a.messages))}${rateKpi('DMARC pass', a.dmarcPass)}${rateKpi('DKIM aligned', a.dkimAligned)}${rateKpi('SPF aligned', a.spfAligned)}` +
        `${kpi('sources failing', `${failingSources} of ${a.sources.length}`)}${kpi('policy published', policy)}${kpi('quarantined or rejected', applied.length > 0 ? applied.join(', ') : '0')}</ul>`,
    );
    if (a.topFailing.length > 0) {
      const top = a.topFailing.slice(0, 3).map((f) => {
        const from = f.headerFrom.length > 0 ? `, From ${f.headerFrom.slice(0, 3).map(t).join(', ')}` : '';
        const why = `DKIM aligned ${percent(f.dkimAligned, f.messages)}, SPF aligned ${percent(f.spfAligned, f.messages)}`;
        const name = reverseDnsText(f.reverseDns);
        return `<li><strong>${t(f.sourceIp)}</strong>${name ? ` <span class="muted">rDNS ${t(name)}</span>` : ''}: ${f.failing} of ${f.messages} messages fail${from} (${why})${actions && f.headerFrom.length > 0 ? ` ${dnsButtons(f.headerFrom.slice(0, 1))}` : ''}</li>`;
      });
      const more = failingSources > 3 ? `<li class="muted">and ${failingSources - 3} more in Top failing sources below</li>` : '';
      out.push(`<p>Failing most:</p><ul class="failing">${top.join('')}${more}</ul>`);
    }
    const reporters = a.reporters.length <= 3 ? a.reporters.map((r) => t(r.orgName)).join(', ') : `${a.reporters.length} reporters`;
    const reports = a.reporters.reduce((n, r) => n + r.reports, 0);
    if (s.counts.tlsRpt > 0) out.push(`<p>${tlsVerdict(s)}</p>`);
    out.push(`<p class="muted">${t(utcDayTime(a.begin))} to ${t(utcDayTime(a.end))} (UTC) · ${plural(reports, 'report')} from ${reporters} · ${filesLine(s)}</p></section>`);
  } else if (s.counts.tlsRpt > 0) {
    const total = s.tlsRpt.successful + s.tlsRpt.failed;
    const level = rateLevel(s.tlsRpt.successful, total);
    out.push(`<section class="verdict v-${level}" aria-label="Verdict"><h1>${tlsVerdict(s)}</h1><p class="muted">${filesLine(s)}</p></section>`);
  } else {
    out.push(`<section class="verdict" aria-label="Verdict"><p>${filesLine(s)}</p></section>`);
  }
  return out.join('\n');
}

/**
 * A source's reverse DNS cell: its PTR names and whether one is forward-confirmed, as text (PTR
 * names are peer data), marked with a sign as well as a colour; sorted by its words.
 */
function rdnsCell(x: SourceSummary): string {
  const r = x.reverseDns;
  if (!r) return '<td class="wrap muted">not looked up</td>';
  const [cls, sign, why] =
    r.status === 'confirmed'
      ? ['good', '✓', 'a PTR name resolves back to the IP']
      : r.status === 'failed'
        ? ['warn', '?', `the lookup failed (${r.failure ?? 'OTHER'}): not decided`]
        : ['bad', '✗', r.status === 'unconfirmed' ? 'no PTR name resolves back to the IP' : r.status === 'invalid' ? 'the report names no IP address here' : 'no PTR name'];
  return `<td class="wrap ${cls}" title="${t(why)}"><span aria-hidden="true">${sign} </span>${t(reverseDnsText(r))}</td>`;
}

/** What the reverse DNS lookups gave, or (in the editor) the button that makes them. */
function reverseDnsLine(s: ReportSummary, actions: boolean): string {
  const o = s.aggregate.reverseDns;
  if (o) return `<p class="muted">Reverse DNS: ${t(reverseDnsOverviewText(o))}. No AS numbers: they need a database that is not part of the extension.</p>`;
  if (!actions || s.aggregate.sources.length === 0) return '';
  return `<p><button type="button" class="rdns" data-rdns="lookup" title="Asks the DNS server of smtp.dns.server (or the system's) for the PTR names of the source IPs and whether they resolve back">Look up reverse DNS of ${plural(s.aggregate.sources.length, 'source')}</button></p>`;
}

/**
 * The TLS-RPT section: sessions in all, the results per policy and MX, and the sessions per day
 * (and policy domain) as a chart with its table, the chart's text alternative. Exported for the
 * data-driven tests (test/views/fixtures/tls-section/).
 */
export function tlsSection(s: ReportSummary): string {
  const out: string[] = [];
  const total = s.tlsRpt.successful + s.tlsRpt.failed;
  out.push(`<h2>TLS-RPT</h2><p>${s.tlsRpt.successful} successful and ${s.tlsRpt.failed} failed sessions (${percent(s.tlsRpt.failed, total)} failed).</p>`);
  const rows: string[] = [];
  for (const p of s.tlsRpt.policies) {
    rows.push(`<tr><td>${t(p.policyType)}</td><td>${t(p.policyDomain)}</td><td class="wrap">${t(p.mxHost.join(', '))}</td><td>success</td>${num(p.successful)}</tr>`);
    for (const m of p.byMx) rows.push(`<tr><td>${t(p.policyType)}</td><td>${t(p.policyDomain)}</td><td class="wrap">${t(m.mx)}</td><td class="bad">✗ ${t(m.resultType)}</td>${num(m.sessions)}</tr>`);
  }
  out.push(table('tls', ['Policy', 'Domain', 'MX', 'Result', { n: 'Sessions' }], rows));
  if (s.tlsRpt.days.length > 0) {
    const several = new Set(s.tlsRpt.days.map((d) => d.policyDomain.toLowerCase())).size > 1;
    out.push(`<h3>Sessions per day${several ? ' and policy domain' : ''}</h3>`, legend('successful', 'failed'), tlsDaysChart(s.tlsRpt.days));
    const dayRows = s.tlsRpt.days.map((d) => `<tr><td>${t(d.day)}</td><td>${t(d.policyDomain)}</td>${num(d.successful)}${num(d.failed)}${rate(d.successful, d.successful + d.failed)}</tr>`);
    out.push(`<details><summary>The sessions per day</summary>${table('tls-days', ['Day (UTC)', 'Policy domain', { n: 'Successful' }, { n: 'Failed' }, { n: 'Success rate' }], dayRows)}</details>`);
  }
  return out.join('\n');
}

/** The body of the view (without the document around it), for tests and for updates. */
export function reportBody(s: ReportSummary, actions = false): string {
  const a = s.aggregate;
  const out: string[] = [verdict(s, actions)];
  // The reverse DNS column is drawn once the sources were looked up.
  const rdns = a.reverseDns !== undefined;
  if (s.counts.aggregate > 0) {
    out.push('<h2>DMARC</h2>');
    out.push('<h3>Top failing sources</h3>');
    if (a.topFailing.length === 0) {
      out.push('<p>No source failed DMARC in these reports.</p>');
    } else {
      const rows = a.topFailing.map(
        (f) =>
          `<tr data-source-ip="${t(f.sourceIp)}"><td>${t(f.sourceIp)}</td>${rdns ? rdnsCell(f) : ''}${num(f.failing)}${num(f.messages)}${rate(f.dkimAligned, f.messages)}${rate(f.spfAligned, f.messages)}<td class="wrap">${t(f.headerFrom.join(', '))}</td><td class="wrap">${t(f.dkimDomains.join(', '))}</td><td class="wrap">${t(f.spfDomains.join(', '))}</td>${actions ? `<td>${dnsButtons(f.headerFrom)}</td>` : ''}</tr>`,
      );
      out.push(table('failing', ['Source IP', ...(rdns ? ['Reverse DNS'] : []), { n: 'Failing' }, { n: 'Messages' }, { n: 'DKIM aligned' }, { n: 'SPF aligned' }, 'Header From', 'DKIM results', 'SPF results', ...(actions ? ['Mail DNS'] : [])], rows));
    }
    out.push(`<h3>Messages per ${continuousDays(a.days).length > DAYS_PER_BAR_LIMIT ? 'week' : 'day'}</h3>`, legend(), `<div class="scroll chart">${daysChart(a.days)}</div>`);
    const dayRows = a.days.map((d) => `<tr><td>${t(d.day)}</td>${num(d.messages)}${num(d.dmarcPass)}${num(d.messages - d.dmarcPass)}${rate(d.dmarcPass, d.messages)}</tr>`);
    out.push(`<details><summary>The figures per day</summary>${table('days', ['Day (UTC)', { n: 'Messages' }, { n: 'DMARC pass' }, { n: 'DMARC fail' }, { n: 'Pass rate' }], dayRows)}</details>`);
    if (a.domains.length > 1) {
      const domainRows = a.domains.map((d) => `<tr><td>${t(d.domain)}</td>${num(d.reports)}${num(d.messages)}${rate(d.dmarcPass, d.messages)}${rate(d.dkimAligned, d.messages)}${rate(d.spfAligned, d.messages)}<td class="wrap">${t(d.policies.length > 0 ? policyText(d.policies[d.policies.length - 1].policy) : '')}</td></tr>`);
      out.push('<h3>Domains</h3>', table('domains', ['Domain', { n: 'Reports' }, { n: 'Messages' }, { n: 'DMARC pass' }, { n: 'DKIM aligned' }, { n: 'SPF aligned' }, 'Policy (latest)'], domainRows));
    }
    out.push('<h3>Sources</h3>', legend(), `<div class="scroll chart">${sourcesChart(a.sources)}</div>`);
    out.push(reverseDnsLine(s, actions));
    out.push(`<label class="filter">Filter sources <input class="filter" type="search" data-filter="sources" placeholder="IP, PTR name, domain or result"></label> <span id="sources-shown" class="muted" aria-live="polite"></span>`);
    const sourceRows = a.sources.map(
      (x) =>
        `<tr><td>${t(x.sourceIp)}</td>${rdns ? rdnsCell(x) : ''}${num(x.messages)}${rate(x.dmarcPass, x.messages)}${rate(x.dkimAligned, x.messages)}${rate(x.spfAligned, x.messages)}<td class="wrap">${t(x.headerFrom.join(', '))}</td><td class="wrap">${t(x.dkimDomains.join(', '))}</td><td class="wrap">${t(x.spfDomains.join(', '))}</td><td class="wrap">${t(dispositionsText(x.byDisposition))}</td></tr>`,
    );
    out.push(table('sources', ['Source IP', ...(rdns ? ['Reverse DNS'] : []), { n: 'Messages' }, { n: 'DMARC pass' }, { n: 'DKIM aligned' }, { n: 'SPF aligned' }, 'Header From', 'DKIM results', 'SPF results', 'Disposition'], sourceRows));
    const dispositionRows = Object.entries(a.byDisposition)
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => `<tr><td>${t(k || '(none given)')}</td>${num(v)}<td class="n" data-v="${a.messages === 0 ? -1 : v / a.messages}">${percent(v, a.messages)}</td></tr>`);
    out.push('<h3>Dispositions (what the receivers did)</h3>', table('dispositions', ['Disposition', { n: 'Messages' }, { n: 'Share' }], dispositionRows));
    const policyRows = a.domains.flatMap((d) => d.policies.map((p) => `<tr><td>${t(d.domain)}</td><td class="wrap">${t(policyText(p.policy))}</td><td data-v="${p.begin ?? 0}">${t(utcDayTime(p.begin))}</td><td data-v="${p.end ?? 0}">${t(utcDayTime(p.end))}</td>${num(p.reports)}</tr>`));
    out.push('<h3>Policy published</h3>', table('policies', ['Domain', 'Policy', 'From (UTC)', 'To (UTC)', { n: 'Reports' }], policyRows));
    const reporterRows = a.reporters.map((r) => `<tr><td>${t(r.orgName)}</td>${num(r.reports)}${num(r.messages)}</tr>`);
    out.push('<h3>Reporters</h3>', table('reporters', ['Organisation', { n: 'Reports' }, { n: 'Messages' }], reporterRows));
  }
  if (s.counts.tlsRpt > 0) out.push(tlsSection(s));
  if (s.failures.length > 0) {
    const rows = s.failures.map(
      (f) => `<tr><td class="wrap">${t(f.source)}</td><td>${t(f.feedbackType)} ${t(f.authFailure ?? '')}</td><td>${t(f.reportedDomain)}</td><td>${t(f.sourceIp)}</td><td>${t(f.arrivalDate)}</td><td class="wrap">${t(f.originalFrom)}</td></tr>`,
    );
    out.push('<h2>Failure reports</h2>', table('failures', ['File', 'Type', 'Reported domain', 'Source IP', 'Arrival', 'From'], rows));
  }
  if (s.findings.length > 0) {
    const rows = s.findings.map(
      (f) =>
        `<tr><td class="wrap">${t(f.source)}</td><td class="n" data-v="${f.start}">${f.line !== undefined ? `${f.line}:${f.column}` : `@${f.start}`}</td><td${f.severity === 'error' ? ' class="bad"' : f.severity === 'warning' ? ' class="warn"' : ''}>${f.severity === 'error' ? '✗ ' : f.severity === 'warning' ? '! ' : ''}${t(f.severity)}</td><td><a href="${escapeHtml(f.link)}">${t(f.code)}</a></td><td class="wrap">${t(f.message)}</td></tr>`,
    );
    out.push('<h2>Findings</h2>', table('findings', ['File', { n: 'Where' }, 'Severity', 'Code', 'Message'], rows));
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
    opts.actions ? '<nav class="toolbar" aria-label="Export"><button data-export="csv">Export CSV</button><button data-export="json">Export JSON</button></nav>' : '',
    `<main id="content">${reportBody(s, opts.actions === true)}</main>`,
    `<script nonce="${nonce}">${SCRIPT}${opts.actions ? ACTION_SCRIPT : ''}</script>`,
    '</body></html>',
  ].join('');
}
