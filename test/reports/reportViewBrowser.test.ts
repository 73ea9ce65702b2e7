// The report view's document in a real browser (Debian's Chromium): under its own CSP the nonce'd
// script runs (tables sort and filter), nothing else runs or loads, and a hostile report's text
// stays text; the TLS-RPT chart of sessions per day and policy domain and the reverse DNS column
// draw under the same CSP without a violation, and "Look up reverse DNS" posts its one message.
// SMTPWB_REPORT_SCREENSHOT=FILE saves a screenshot for a person to look at (and
// SMTPWB_REPORT_SCREENSHOT_TLS=FILE one of the second page).
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { openReportBytes } from '../../server/src/reports/open';
import { renderReportHtml } from '../../client/src/reports/reportHtml';
import { ReportSummariser } from '../../client/src/reports/summary';
import { withReverseDns, type ReverseDnsResult } from '../../client/src/reports/fcrdns';
import { launchChromium } from '../support/chromium';
import { aggregateXml, randomAggregate, tlsRptJson } from './generate';

/** The parts of a table row the test reads in the page (the project compiles without the DOM library). */
interface Row {
  hidden: boolean;
  cells: ArrayLike<{ textContent: string | null; dataset: { v?: string } }>;
}

function html(): string {
  const s = new ReportSummariser();
  for (let seed = 1; seed <= 12; seed++) {
    const spec = randomAggregate(seed, seed % 3 === 0 ? 'rfc7489' : 'rfc9990');
    if (seed === 1) spec.orgName = '<img src=x onerror="document.title=\'pwned\'">';
    s.addFile();
    for (const o of openReportBytes(`r${seed}.xml`, Buffer.from(aggregateXml(spec)))) s.add(o);
  }
  s.addFile();
  const tls = tlsRptJson({
    organizationName: 'Receiver',
    reportId: '1',
    policyDomain: 'example.com',
    policyType: 'sts',
    successful: 900,
    failures: [
      { resultType: 'certificate-expired', mx: 'mx1.example.com', ip: '192.0.2.1', count: 30 },
      { resultType: 'starttls-not-supported', mx: 'mx2.example.com', ip: '192.0.2.2', count: 4 },
    ],
  });
  for (const o of openReportBytes('t.json', Buffer.from(tls))) s.add(o);
  return renderReportHtml(s.result(), { cspSource: 'https://webview.invalid', nonce: 'Bm9uY2Utbm9uY2Utbm9uY2U' });
}

/** A TLS-RPT report of one day and one policy domain. */
function tlsDay(day: string, policyDomain: string, successful: number, failed: number): Buffer {
  const json = JSON.parse(tlsRptJson({ organizationName: 'Receiver', reportId: `${day}-${policyDomain}`, policyDomain, policyType: 'sts', successful, failures: failed > 0 ? [{ resultType: 'certificate-expired', mx: `mx1.${policyDomain}`, ip: '192.0.2.1', count: failed }] : [] })) as { 'date-range': Record<string, string> };
  json['date-range'] = { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` };
  return Buffer.from(JSON.stringify(json));
}

/** Aggregate reports whose sources were looked up (one hostile PTR name), and TLS-RPT reports of two policy domains over four days. */
function htmlWithReverseDnsAndTls(): string {
  const s = new ReportSummariser();
  for (let seed = 1; seed <= 3; seed++) {
    s.addFile();
    for (const o of openReportBytes(`r${seed}.xml`, Buffer.from(aggregateXml(randomAggregate(seed, 'rfc9990'))))) s.add(o);
  }
  for (const [i, day] of ['2026-01-01', '2026-01-02', '2026-01-04'].entries()) {
    for (const [domain, ok, failed] of [['example.com', 900 + i * 50, 30 - i * 10], ['example.net', 200, i * 40]] as const) {
      s.addFile();
      for (const o of openReportBytes(`t-${day}-${domain}.json`, tlsDay(day, domain, ok, failed))) s.add(o);
    }
  }
  const summary = s.result();
  const found = new Map<string, ReverseDnsResult>();
  summary.aggregate.sources.forEach((x, i) => {
    found.set(
      x.sourceIp,
      i === 0
        ? { status: 'unconfirmed', ptrs: ['<img src=x onerror="document.title=\'ptr\'">\u001b.example'], confirmedNames: [] }
        : i % 3 === 0
          ? { status: 'failed', ptrs: [], confirmedNames: [], failure: 'TIMEOUT' }
          : { status: 'confirmed', ptrs: [`mail${i}.example.com`], confirmedNames: [`mail${i}.example.com`] },
    );
  });
  return renderReportHtml(withReverseDns(summary, found), { cspSource: 'https://webview.invalid', nonce: 'Bm9uY2Utbm9uY2Utbm9uY2U', actions: true });
}

/** A new page, with the requests it makes (other than about: and data:) and the CSP violations it logs. */
async function watchedPage(browser: Browser): Promise<{ page: Page; requests: string[]; violations: string[] }> {
  const page = await browser.newPage();
  const requests: string[] = [];
  const violations: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith('about:') && !r.url().startsWith('data:')) requests.push(r.url());
  });
  page.on('console', (m) => {
    if (/Content Security Policy|Refused/i.test(m.text())) violations.push(m.text());
  });
  return { page, requests, violations };
}

describe('report view in Chromium', () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it('sorts and filters under the CSP, runs nothing from the report, loads nothing', async () => {
    const { page, requests, violations } = await watchedPage(browser);
    await page.setContent(html(), { waitUntil: 'load' });
    assert.equal(await page.title(), 'Reports');
    assert.deepEqual(requests, []);
    const cellTexts = (): Promise<string[]> => page.$$eval('#sources tbody tr', (rows) => (rows as unknown as Row[]).filter((r) => !r.hidden).map((r) => r.cells[1].dataset.v ?? ''));
    const before = (await cellTexts()).map(Number);
    await page.click('#sources th:nth-child(2)');
    const asc = (await cellTexts()).map(Number);
    assert.deepEqual(asc, [...before].sort((a, b) => a - b));
    await page.fill('input.filter', '2001:db8');
    const filtered = await page.$$eval('#sources tbody tr', (rows) => (rows as unknown as Row[]).filter((r) => !r.hidden).length);
    assert.ok(filtered < before.length);
    const text = await page.textContent('body');
    assert.ok(text?.includes('<img src=x onerror='), 'the hostile org name is shown as text');
    assert.deepEqual(violations, []);
    const shot = process.env.SMTPWB_REPORT_SCREENSHOT;
    if (shot) await page.screenshot({ path: shot, fullPage: true });
    await page.close();
  });

  it('draws the TLS-RPT chart and the reverse DNS column under the CSP; a PTR name runs nothing', async () => {
    const { page, requests, violations } = await watchedPage(browser);
    await page.setContent(htmlWithReverseDnsAndTls(), { waitUntil: 'load' });
    assert.equal(await page.title(), 'Reports', 'the hostile PTR name did not run');
    assert.deepEqual(requests, []);
    assert.deepEqual(violations, []);
    // One chart per policy domain, each an image with a name, each with bars drawn.
    const charts = await page.$$eval('svg[aria-label^="Sessions per day"]', (svgs) => svgs.map((svg) => ({ label: svg.getAttribute('aria-label'), bars: svg.querySelectorAll('rect.pass').length, box: (svg as unknown as { getBoundingClientRect(): { width: number; height: number } }).getBoundingClientRect() })));
    assert.equal(charts.length, 2);
    for (const c of charts) {
      assert.equal(c.bars, 4, `four days, one without reports (${c.label})`);
      assert.ok(c.box.width > 100 && c.box.height > 100, JSON.stringify(c.box));
    }
    const text = (await page.textContent('body')) ?? '';
    assert.ok(text.includes('<img src=x onerror="document.title=\'ptr\'">\\x1B.example (not forward-confirmed)'), 'the PTR name is text');
    assert.ok(text.includes('lookup failed (TIMEOUT)'));
    const shot = process.env.SMTPWB_REPORT_SCREENSHOT_TLS;
    if (shot) await page.screenshot({ path: shot, fullPage: true });
    await page.close();
  });

  it('"Look up reverse DNS" posts its one message and says it is looking', async () => {
    const page = await browser.newPage();
    // The webview's API, as VS Code gives it to the page (set before the page's script runs).
    await page.addInitScript(() => {
      const w = globalThis as unknown as { posted: unknown[]; acquireVsCodeApi(): unknown };
      w.posted = [];
      w.acquireVsCodeApi = () => ({ postMessage: (m: unknown) => w.posted.push(m), getState: () => undefined, setState: () => undefined });
    });
    const s = new ReportSummariser();
    s.addFile();
    for (const o of openReportBytes('r.xml', Buffer.from(aggregateXml(randomAggregate(4, 'rfc9990'))))) s.add(o);
    // Served by the page's own route (nothing leaves the browser), so that the API is set before the page's script runs.
    const body = renderReportHtml(s.result(), { cspSource: 'https://webview.invalid', nonce: 'Bm9uY2Utbm9uY2Utbm9uY2U', actions: true });
    await page.route('http://report.invalid/', (route) => route.fulfill({ contentType: 'text/html; charset=utf-8', body }));
    await page.goto('http://report.invalid/', { waitUntil: 'load' });
    await page.click('button.rdns');
    assert.deepEqual(await page.evaluate(() => (globalThis as unknown as { posted: unknown[] }).posted), [{ type: 'reverseDns' }]);
    assert.equal(await page.textContent('button.rdns'), 'Looking up reverse DNS…');
    assert.equal(await page.$eval('button.rdns', (b) => (b as unknown as { disabled: boolean }).disabled), true);
    await page.close();
  });
});
