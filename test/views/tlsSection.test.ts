// The report view's TLS-RPT section, data-driven: every folder under test/views/fixtures/tls-section
// holds TLS-RPT reports (`*.json`, read by the real parser and summariser) and the expected output:
// `expected.html`, the section as the view draws it (the results per policy and MX, the chart of
// sessions per day, one per policy domain when there are several, and its table), and
// `expected.txt`, the plain-text chart of `smtpwb report`. Set UPDATE_FIXTURES=1 to rewrite both
// from the current output (then review the diff). Each case is also held to the rules that do not
// depend on its data: inert markup the view's CSP allows (no script, no `style` attribute, no
// element from report text), an accessible name for every chart and a table beside it.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openReportBytes } from '../../server/src/reports/open';
import { renderReportHtml, reportCsp, tlsDaysChart, tlsSection } from '../../client/src/reports/reportHtml';
import { summaryText, tlsDaysText } from '../../client/src/reports/render';
import { ReportSummariser, type ReportSummary } from '../../client/src/reports/summary';
import { repoRoot } from '../peers/require';

const root = join(repoRoot(), 'test', 'views', 'fixtures', 'tls-section');
const NONCE = 'Bm9uY2Utbm9uY2Utbm9uY2U';

function summariseFolder(dir: string): ReportSummary {
  const s = new ReportSummariser();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    s.addFile();
    for (const o of openReportBytes(name, readFileSync(join(dir, name)))) s.add(o);
  }
  return s.result();
}

/** Compares with the expected file, or writes it under UPDATE_FIXTURES=1. */
function expectFile(path: string, actual: string): void {
  if (process.env.UPDATE_FIXTURES === '1') writeFileSync(path, actual);
  assert.ok(existsSync(path), `${path} is missing (UPDATE_FIXTURES=1 writes it)`);
  assert.equal(actual, readFileSync(path, 'utf8'));
}

const cases = readdirSync(root).sort();

test('there are TLS-RPT section fixtures', () => {
  assert.deepEqual(cases, ['hostile', 'one-domain', 'two-domains']);
});

for (const name of cases) {
  test(`TLS-RPT section fixture ${name}`, () => {
    const dir = join(root, name);
    const summary = summariseFolder(dir);
    assert.ok(summary.counts.tlsRpt > 0, 'the fixture holds TLS-RPT reports');
    const html = tlsSection(summary) + '\n';
    expectFile(join(dir, 'expected.html'), html);
    expectFile(join(dir, 'expected.txt'), tlsDaysText(summary.tlsRpt.days).join('\n') + '\n');
    // Inert: nothing that runs or loads, no inline style (the CSP allows style only by nonce), no raw control or bidi characters.
    assert.ok(!/<(script|img|iframe|object|embed|link|foreignObject|a)\b/i.test(html), 'no active or loading element');
    assert.ok(!/\son[a-z]+=/i.test(html.replace(/&lt;[^]*?&gt;/g, '')), 'no event handler attribute');
    assert.ok(!/\sstyle=/.test(html), 'no style attribute');
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(html), 'no raw control or bidi character');
    // Accessible: each chart is an image with a name, and the table of the same figures follows.
    const charts = html.match(/<svg\b[^>]*>/g) ?? [];
    assert.ok(charts.length >= 1);
    for (const svg of charts) assert.match(svg, /^<svg role="img" aria-label="Sessions per (day|week) from [^"]+: \d+ in all, stacked by successful and failed sessions"/);
    assert.match(html, /<details><summary>The sessions per day<\/summary><div class="scroll"><table data-sortable id="tls-days">/);
    // The whole document keeps the view's CSP.
    const doc = renderReportHtml(summary, { cspSource: 'vscode-webview://x', nonce: NONCE, actions: true });
    assert.ok(doc.includes(reportCsp('vscode-webview://x', NONCE).replace(/'/g, '&#39;')));
    assert.deepEqual(doc.match(/<script\b[^>]*>/g), [`<script nonce="${NONCE}">`]);
    assert.ok(doc.includes(html.trimEnd()), 'the view shows the section as tested');
    // The CLI's text carries the same chart.
    assert.ok(summaryText(summary).includes(tlsDaysText(summary.tlsRpt.days).join('\n')));
  });
}

test('the hostile fixture shows report text as text', () => {
  const html = tlsSection(summariseFolder(join(root, 'hostile')));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;\\x1B[2J\\u202E.example'));
  assert.ok(html.includes('&lt;img src=x onerror=alert(3)&gt;'));
  assert.ok(html.includes('&quot;&gt;&lt;svg onload=alert(4)&gt;'));
  // A report whose date range cannot be read is in the table under "unknown", not in the chart.
  assert.match(html, /<tr><td>unknown<\/td>/);
});

test('a long period is drawn a week to a bar, and a chart without a known day is left out', () => {
  const days = Array.from({ length: 130 }, (_, i) => ({ day: new Date(Date.UTC(2026, 0, 1 + i)).toISOString().slice(0, 10), policyDomain: 'example.com', successful: 100, failed: i % 10 === 0 ? 5 : 0 }));
  const svg = tlsDaysChart(days);
  assert.match(svg, /aria-label="Sessions per week from 2025-12-29 to /);
  assert.match(svg, />sessions per week</);
  assert.match(svg, /week \(UTC, from Monday\) the report date ranges begin in/);
  assert.equal(tlsDaysChart([{ day: 'unknown', policyDomain: 'example.com', successful: 1, failed: 0 }]), '');
});
