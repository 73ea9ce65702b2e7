// The report view's document in a real browser (Debian's Chromium): under its own CSP the nonce'd
// script runs (tables sort and filter), nothing else runs or loads, and a hostile report's text
// stays text. SMTPWB_REPORT_SCREENSHOT=FILE saves a screenshot for a person to look at.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { openReportBytes } from '../../server/src/reports/open';
import { renderReportHtml } from '../../client/src/reports/reportHtml';
import { ReportSummariser } from '../../client/src/reports/summary';
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

describe('report view in Chromium', () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it('sorts and filters under the CSP, runs nothing from the report, loads nothing', async () => {
    const page = await browser.newPage();
    const requests: string[] = [];
    const violations: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('about:') && !r.url().startsWith('data:')) requests.push(r.url());
    });
    page.on('console', (m) => {
      if (/Content Security Policy|Refused/i.test(m.text())) violations.push(m.text());
    });
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
});
