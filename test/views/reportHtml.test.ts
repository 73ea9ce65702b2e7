// The report view's document, from the review of issue 15: the verdict heads the view (is the domain
// all right, who fails), no state is told by colour alone, tables sort from header buttons with
// aria-sort, the day chart has a time axis in messages with dates that never overlap, and report
// text in the new places (the verdict, the chart labels) stays inert.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { openReportBytes } from '../../server/src/reports/open';
import { continuousDays, daysChart, niceCeiling, renderReportHtml, reportBody, sourcesChart, weeklyBuckets } from '../../client/src/reports/reportHtml';
import { ReportSummariser, type DaySummary, type ReportSummary } from '../../client/src/reports/summary';
import { rulesDescription } from '../../client/src/views/localInboxModel';
import { aggregateXml, tlsRptJson, type AggregateSpec, type RecordSpec } from '../reports/generate';

const DAY = 86_400;
const JAN1 = 1767225600;

function record(sourceIp: string, count: number, pass: boolean, headerFrom = 'example.com'): RecordSpec {
  return {
    sourceIp,
    count,
    disposition: pass ? 'none' : 'quarantine',
    dkim: pass ? 'pass' : 'fail',
    spf: pass ? 'pass' : 'fail',
    headerFrom,
    envelopeFrom: pass ? 'bounce.example.com' : 'mailer.example.net',
    dkimDomain: pass ? 'example.com' : 'esp.example.net',
    dkimSelector: 's1',
    dkimResult: pass ? 'pass' : 'fail',
    spfDomain: pass ? 'bounce.example.com' : 'mailer.example.net',
    spfResult: pass ? 'pass' : 'softfail',
  };
}

function summarise(specs: AggregateSpec[]): ReportSummary {
  const s = new ReportSummariser();
  for (const [i, spec] of specs.entries()) {
    s.addFile();
    for (const o of openReportBytes(`r${i}.xml`, Buffer.from(aggregateXml(spec)))) s.add(o);
  }
  return s.result();
}

function spec(day: number, records: RecordSpec[], orgName = 'receiver.example'): AggregateSpec {
  return { format: 'rfc9990', orgName, email: 'dmarc@receiver.example', reportId: `r-${day}`, begin: JAN1 + day * DAY, end: JAN1 + day * DAY + DAY - 1, domain: 'example.com', p: 'quarantine', records };
}

/** The body's text without tags, with entities of the escaper turned back (for reading, not for safety checks). */
function text(html: string): string {
  return html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

test('the verdict comes first: the domain, its DMARC pass rate, the failing count, the policy and who fails most', () => {
  const s = summarise([spec(0, [record('192.0.2.10', 120, true), record('198.51.100.7', 30, false, 'news.example.com')]), spec(1, [record('192.0.2.10', 160, true), record('198.51.100.7', 40, false, 'news.example.com')])]);
  const body = reportBody(s, true);
  assert.ok(body.startsWith('<section class="verdict v-bad" aria-label="Verdict">'), 'the body opens with the verdict');
  const verdict = text(body.slice(0, body.indexOf('</section>')));
  assert.match(verdict, /example\.com: 80\.0% of 350 messages pass DMARC; 70 fail, from 1 source/);
  assert.match(verdict, /198\.51\.100\.7 : 70 of 70 messages fail, From news\.example\.com \(DKIM aligned 0\.0%, SPF aligned 0\.0%\)/);
  assert.match(verdict, /p=quarantine/);
  assert.match(verdict, /70 quarantine/);
  assert.match(verdict, /2026-01-01 00:00 to 2026-01-02 23:59 \(UTC\)/);
  assert.match(verdict, /2 files: 2 DMARC aggregate reports\./);
  assert.match(body.slice(0, body.indexOf('</section>')), /<button class="dns" data-domain="news\.example\.com"/, 'the failing source can be checked from the verdict');
  // The headline's mark is a sign, not only the border's colour.
  assert.match(verdict, /^\s*✗ example\.com/);
});

test('TLS-RPT in the verdict: failed sessions of all and the largest failure types with their MX; pct and test mode beside p=', () => {
  const s = new ReportSummariser();
  s.addFile();
  for (const o of openReportBytes('r.xml', Buffer.from(aggregateXml({ ...spec(0, [record('192.0.2.10', 10, true)]), format: 'rfc7489', p: 'reject' }).replace('<p>reject</p>', '<p>reject</p><pct>50</pct>')))) s.add(o);
  s.addFile();
  const tls = tlsRptJson({ organizationName: 'Receiver', reportId: '1', policyDomain: 'example.com', policyType: 'sts', successful: 966, failures: [{ resultType: 'certificate-expired', mx: 'mx1.example.com', ip: '192.0.2.1', count: 30 }, { resultType: 'starttls-not-supported', mx: 'mx2.example.com', ip: '192.0.2.2', count: 4 }] });
  for (const o of openReportBytes('t.json', Buffer.from(tls))) s.add(o);
  const verdict = text(reportBody(s.result()).split('</section>')[0]);
  assert.match(verdict, /TLS-RPT: 34 of 1000 sessions failed \(3\.4%\): certificate-expired 30 at mx1\.example\.com, starttls-not-supported 4 at mx2\.example\.com/);
  assert.match(verdict, /p=reject, pct=50/);
  const only = new ReportSummariser();
  only.addFile();
  for (const o of openReportBytes('t.json', Buffer.from(tls))) only.add(o);
  assert.match(text(reportBody(only.result()).split('</section>')[0]), /^\s*! TLS-RPT: 34 of 1000 sessions failed/);
});

test('a domain that passes says so, and no failing-sources table is drawn empty', () => {
  const s = summarise([spec(0, [record('192.0.2.10', 500, true)])]);
  const body = reportBody(s);
  assert.match(text(body), /✓ example\.com: all 500 messages pass DMARC/);
  assert.match(body, /No source failed DMARC in these reports\./);
  assert.ok(!/id="failing"/.test(body));
});

test('no rate is told by colour alone: every red or amber cell carries a sign and says its mark in its title', () => {
  const s = summarise([spec(0, [record('192.0.2.10', 95, true), record('192.0.2.11', 5, false), record('198.51.100.7', 30, false)])]);
  const body = reportBody(s);
  const coloured = [...body.matchAll(/<td class="n (bad|warn)"[^>]*>(.*?)<\/td>/g)];
  assert.ok(coloured.length > 0);
  for (const [cell, level, content] of coloured) {
    assert.match(content, level === 'bad' ? /^<span aria-hidden="true">✗ <\/span>/ : /^<span aria-hidden="true">! <\/span>/, cell);
    assert.match(cell, /title="[\d.]+%: \d+ of \d+, below (98|90)%"/, cell);
  }
});

test('tables sort from buttons in their headers; numeric columns are right-aligned, headers included', () => {
  const s = summarise([spec(0, [record('192.0.2.10', 10, true), record('198.51.100.7', 3, false)])]);
  const html = renderReportHtml(s, { cspSource: 'vscode-webview://x', nonce: 'Bm9uY2Utbm9uY2Utbm9uY2U', actions: true });
  const headers = [...html.matchAll(/<th( class="n")? scope="col"><button type="button" class="sort" title="Sort by ([^"]+)">\2<\/button><\/th>/g)];
  assert.ok(headers.length >= 20, `every header is a sort button (${headers.length})`);
  assert.equal(html.match(/<th\b/g)?.length, headers.length, 'no header without its button');
  const sourcesHead = /<table data-sortable id="sources"><thead><tr>(.*?)<\/tr>/.exec(html)?.[1] ?? '';
  assert.match(sourcesHead, /<th scope="col">.*Source IP.*<th class="n" scope="col">.*Messages/);
  // The script sets aria-sort and filters through data-filter; the filter box has a label.
  assert.match(html, /setAttribute\('aria-sort', dir\)/);
  assert.match(html, /<label class="filter">Filter sources <input class="filter" type="search" data-filter="sources"/);
  assert.match(html, /<span id="sources-shown" class="muted" aria-live="polite"><\/span>/);
});

test('the day chart has a time axis: days without reports are gaps, ticks are round numbers of messages, dates never overlap', () => {
  const days: DaySummary[] = [
    { day: '2026-01-01', messages: 120, dmarcPass: 100, dkimAligned: 100, spfAligned: 100 },
    { day: '2026-01-04', messages: 40, dmarcPass: 40, dkimAligned: 40, spfAligned: 40 },
  ];
  assert.deepEqual(
    continuousDays(days).map((d) => `${d.day}:${d.messages}`),
    ['2026-01-01:120', '2026-01-02:0', '2026-01-03:0', '2026-01-04:40'],
  );
  assert.deepEqual([niceCeiling(0), niceCeiling(1), niceCeiling(120), niceCeiling(2001), niceCeiling(500)], [1, 1, 200, 5000, 500]);
  const svg = daysChart(days);
  assert.match(svg, /<title>2026-01-02: no messages reported<\/title>/);
  assert.match(svg, /<title>2026-01-01: 120 messages, 100 pass DMARC \(83\.3%\), 20 fail<\/title>/);
  assert.match(svg, />messages per day</);
  assert.match(svg, />200</, 'the axis goes up to a round 200');
  assert.match(svg, /fill="url\(#hatch-days\)"/, 'failing parts are hatched');
  // Ninety days: the date labels are at least 64 px apart.
  const many: DaySummary[] = Array.from({ length: 90 }, (_, i) => ({ day: new Date((JAN1 + i * DAY) * 1000).toISOString().slice(0, 10), messages: 10 + i, dmarcPass: 10, dkimAligned: 10, spfAligned: 10 }));
  const xs = [...daysChart(many).matchAll(/<text x="([\d.]+)" y="\d+" text-anchor="middle">\d{4}-\d{2}-\d{2}<\/text>/g)].map((m) => Number(m[1]));
  assert.ok(xs.length >= 5, `some dates are labelled (${xs.length})`);
  for (let i = 1; i < xs.length; i++) assert.ok(xs[i] - xs[i - 1] >= 64, `labels ${xs[i - 1]} and ${xs[i]} overlap`);
  // A year: a bar per week from Monday, named by its Monday, and the axis says so.
  const year: DaySummary[] = Array.from({ length: 365 }, (_, i) => ({ day: new Date((JAN1 + i * DAY) * 1000).toISOString().slice(0, 10), messages: 10, dmarcPass: 9, dkimAligned: 9, spfAligned: 9 }));
  const weeks = weeklyBuckets(year);
  assert.equal(weeks[0].day, '2025-12-29', '2026-01-01 is a Thursday: its week starts on Monday 2025-12-29');
  assert.equal(weeks[0].messages, 40);
  assert.equal(weeks[1].messages, 70);
  assert.equal(weeks.reduce((n, w) => n + w.messages, 0), 3650);
  const yearSvg = daysChart(year);
  assert.match(yearSvg, />messages per week</);
  assert.match(yearSvg, /<title>week of 2026-01-05: 70 messages, 63 pass DMARC \(90\.0%\), 7 fail<\/title>/);
  assert.equal((yearSvg.match(/<g><title>/g) ?? []).length, weeks.length);
});

test('report text in the verdict and the charts stays inert: a hostile source IP and reporter are escaped text', () => {
  const hostile = '<img src=x onerror=alert(1)>\u202e';
  const s = summarise([spec(0, [record('198.51.100.7', 30, false, 'news.example.com')], hostile)]);
  s.aggregate.topFailing[0].sourceIp = hostile;
  s.aggregate.sources[0].sourceIp = hostile;
  const html = renderReportHtml(s, { cspSource: 'vscode-webview://x', nonce: 'Bm9uY2Utbm9uY2Utbm9uY2U', actions: true });
  assert.ok(!html.includes('<img'), 'no element from report text');
  assert.ok(!html.includes('\u202e'), 'no bidi control');
  assert.ok(html.includes('<strong>&lt;img src=x onerror=alert(1)&gt;\\u202E</strong>'), 'the verdict shows it as text');
  assert.ok(sourcesChart(s.aggregate.sources).includes('&lt;img src=x onerror=alert(1)&gt;\\u202E</text>'), 'the chart label shows it as text');
  assert.ok(html.includes('from &lt;img src=x onerror=alert(1)&gt;\\u202E'), 'the reporter in the verdict is text');
});

test('the Local Inbox says when the rules file was refused and the last good rules stay in force', () => {
  const rules = { version: 1 as const, rules: [] };
  assert.equal(rulesDescription(rules, 'capture-rules.json'), 'no rules (capture-rules.json)');
  assert.equal(rulesDescription(rules, 'capture-rules.json', { errors: 2, line: 4 }), 'no rules (capture-rules.json) · the file has 2 errors (line 4): last good rules in force');
  assert.equal(rulesDescription(undefined, undefined), undefined);
  assert.equal(rulesDescription(rules, 'capture-rules.json', { errors: 1 }), 'no rules (capture-rules.json) · the file cannot be read: last good rules in force');
});
