// The report view's document in Debian's Chromium, as the webview runs it: under its CSP the header
// buttons sort from the keyboard, the filter says how many rows it shows, and the order and the
// filter are kept in the webview's state (acquireVsCodeApi's setState), so that a tab that comes
// back (VS Code loads the document again: the view is not retained while hidden) shows them as
// they were. The webview API is stood in for by an init script that keeps the state per page.
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { openReportBytes } from '../../server/src/reports/open';
import { renderReportHtml } from '../../client/src/reports/reportHtml';
import { ReportSummariser } from '../../client/src/reports/summary';
import { launchChromium } from '../support/chromium';
import { aggregateXml, randomAggregate } from '../reports/generate';

let browser: Browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

function html(): string {
  const s = new ReportSummariser();
  for (let seed = 1; seed <= 6; seed++) {
    s.addFile();
    for (const o of openReportBytes(`r${seed}.xml`, Buffer.from(aggregateXml(randomAggregate(seed, 'rfc9990'))))) s.add(o);
  }
  return renderReportHtml(s.result(), { cspSource: 'https://webview.invalid', nonce: 'Bm9uY2Utbm9uY2Utbm9uY2U', actions: true });
}

/** A page with a stand-in for the webview API whose state starts as given; returns the page and what it posted and kept. */
async function open(state: unknown): Promise<{ page: Page; kept: () => Promise<unknown>; posted: () => Promise<unknown[]>; violations: string[] }> {
  const page = await browser.newPage();
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused|Error/i.test(m.text())) violations.push(m.text());
  });
  page.on('pageerror', (e) => violations.push(String(e)));
  await page.addInitScript((initial) => {
    const w = globalThis as unknown as { __state: unknown; __posted: unknown[]; acquireVsCodeApi: () => unknown };
    w.__state = initial;
    w.__posted = [];
    let acquired = false;
    w.acquireVsCodeApi = () => {
      if (acquired) throw new Error('acquireVsCodeApi called twice');
      acquired = true;
      return { getState: () => w.__state, setState: (s: unknown) => void (w.__state = s), postMessage: (m: unknown) => void w.__posted.push(m) };
    };
  }, state);
  // An init script runs only in a document reached by navigation (not in setContent's): the page
  // is served by a route, so nothing leaves the browser.
  const document = html();
  await page.route('https://report.invalid/view', (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: document }));
  await page.goto('https://report.invalid/view', { waitUntil: 'load' });
  return {
    page,
    kept: () => page.evaluate(() => (globalThis as unknown as { __state: unknown }).__state),
    posted: () => page.evaluate(() => (globalThis as unknown as { __posted: unknown[] }).__posted),
    violations,
  };
}

const firstCells = (page: Page, col: number): Promise<string[]> =>
  page.$$eval(`#sources tbody tr`, (rows, c) => (rows as unknown as Array<{ hidden: boolean; cells: ArrayLike<{ textContent: string | null }> }>).filter((r) => !r.hidden).map((r) => r.cells[c].textContent ?? ''), col);

test('keyboard sorting and the filter are kept in the webview state and restored when the document loads again', async () => {
  const first = await open(undefined);
  try {
    // Keyboard: focus the Messages header's button, Enter sorts ascending, Space descending.
    await first.page.focus('#sources thead th:nth-child(2) button.sort');
    await first.page.keyboard.press('Enter');
    assert.equal(await first.page.getAttribute('#sources thead th:nth-child(2)', 'aria-sort'), 'ascending');
    await first.page.keyboard.press('Space');
    assert.equal(await first.page.getAttribute('#sources thead th:nth-child(2)', 'aria-sort'), 'descending');
    const order = await firstCells(first.page, 0);
    const counts = (await firstCells(first.page, 1)).map(Number);
    assert.deepEqual(counts, [...counts].sort((a, b) => b - a));
    await first.page.focus('input.filter');
    await first.page.keyboard.type('192.0.2');
    const shown = await first.page.textContent('#sources-shown');
    assert.match(shown ?? '', /^\d+ of \d+ shown$/);
    const kept = await first.kept();
    assert.deepEqual(kept, { sort: { table: 'sources', col: 1, dir: 'descending' }, filter: { id: 'sources', q: '192.0.2' } });
    // The export button posts through the same API (acquired once).
    await first.page.click('button[data-export="csv"]');
    assert.deepEqual(await first.posted(), [{ type: 'export', format: 'csv' }]);
    assert.deepEqual(first.violations, []);

    // The tab comes back: a new document with the kept state.
    const again = await open(kept);
    try {
      assert.equal(await again.page.getAttribute('#sources thead th:nth-child(2)', 'aria-sort'), 'descending');
      assert.equal(await again.page.inputValue('input.filter'), '192.0.2');
      assert.equal(await again.page.textContent('#sources-shown'), shown);
      assert.deepEqual(await firstCells(again.page, 0), order.filter((ip) => ip.includes('192.0.2')));
      assert.deepEqual(again.violations, []);
    } finally {
      await again.page.close();
    }
  } finally {
    await first.page.close();
  }
});

test('a state the view did not write is ignored: no error, nothing sorted or filtered', async () => {
  const odd = await open({ sort: { table: 'nope', col: 'x', dir: '<b>' }, filter: { id: '"]<script>', q: 7 } });
  try {
    assert.equal(await odd.page.getAttribute('#sources thead th:nth-child(2)', 'aria-sort'), null);
    assert.equal(await odd.page.inputValue('input.filter'), '');
    assert.deepEqual(odd.violations, []);
  } finally {
    await odd.page.close();
  }
});
