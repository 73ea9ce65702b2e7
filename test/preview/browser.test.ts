// Renders the exact webview document for a hostile message in Debian's Chromium (playwright-core)
// and proves that nothing ran and nothing was fetched: a counting HTTP server on 127.0.0.1 that all
// the message's remote URLs point at sees zero requests, Playwright sees no request and no dialog,
// and neither the panel nor the message frame has the flag or title the scripts would set. Two
// controls show the test can see a failure: the raw HTML in a plain page does run and fetch, and
// "Load remote content" does fetch the remote images (still without running anything).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser, Page, Request } from 'playwright-core';
import { launchChromium, startCountingServer, type CountingServer } from '../support/chromium';
import { buildPreviewModel } from '../../client/src/preview/model';
import { renderPreviewHtml } from '../../client/src/preview/webviewHtml';
import { HOSTILE_HTML, hostileMessage } from './fixtures';

// The form VS Code 1.100's extension host gives: several source expressions.
const CSP_SOURCE = "'self' https://*.vscode-cdn.net";

let counting: CountingServer;
let port: number;
let hits: string[] = [];
let browser: Browser;

before(async () => {
  counting = await startCountingServer((url) => (url.endsWith('.png') ? 'image/png' : 'text/plain'));
  port = counting.port;
  hits = counting.hits;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await counting?.close();
});

interface Observed {
  page: Page;
  requests: string[];
  dialogs: string[];
}

/** Opens a page with the HTML, records requests and dialogs, and lets it settle. */
async function open(html: string): Promise<Observed> {
  return openWith(html, () => undefined);
}

async function openWith(html: string, listen: (page: Page) => void): Promise<Observed> {
  const page = await browser.newPage();
  listen(page);
  const requests: string[] = [];
  const dialogs: string[] = [];
  page.on('request', (r: Request) => requests.push(r.url()));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.setContent(html, { waitUntil: 'load' });
  await page.waitForTimeout(700);
  return { page, requests, dialogs };
}

function remote(): string {
  return `http://127.0.0.1:${port}`;
}

test('control: the raw hostile HTML in a plain page runs scripts and fetches', async () => {
  hits.length = 0;
  const html = HOSTILE_HTML.replace(/REMOTE/g, remote()).replace(/PORT/g, String(port));
  const { page, requests, dialogs } = await open(html);
  assert.ok(hits.length > 0, 'the counting server saw the raw page');
  assert.ok(requests.some((u) => u.startsWith(remote())));
  assert.ok(dialogs.length > 0, 'a dialog opened');
  // The scripts ran (the meta refresh may have navigated the page away since, so look at the server).
  assert.ok(['/script', '/onload', '/onerror'].some((p) => hits.includes(p)), JSON.stringify(hits));
  await page.close();
});

test('the webview document of a hostile message runs nothing and fetches nothing', async () => {
  hits.length = 0;
  const model = await buildPreviewModel(hostileMessage(remote(), port));
  const nonce = randomBytes(16).toString('base64');
  const html = renderPreviewHtml(model, { cspSource: CSP_SOURCE, nonce });
  const { page, requests, dialogs } = await open(html);

  // The message frame is there, sandboxed, and shows the sanitised content.
  const iframe = page.locator('iframe.message');
  assert.equal(await iframe.getAttribute('sandbox'), '');
  const frame = page.frames().find((f) => f !== page.mainFrame());
  assert.ok(frame, 'the message frame exists');
  assert.match((await frame.textContent('body')) ?? '', /Visible paragraph/);
  // The inline cid: image decoded (data: is allowed for it by both policies).
  // The tests' tsconfig has no DOM library, so browser-side code is passed as a string.
  const logoWidth = await frame.evaluate(`(() => { const img = Array.from(document.images).find((i) => i.alt === 'inline logo'); return img ? img.naturalWidth : -1; })()`);
  assert.equal(logoWidth, 1);

  // Try the user actions too: hover and click everything clickable in the frame.
  for (const text of ['hover me', 'js link', 'encoded js link', 'spaced js link', 'vb link', 'data link']) {
    await frame.getByText(text, { exact: true }).hover();
    await frame.getByText(text, { exact: true }).click();
  }
  await page.waitForTimeout(300);

  assert.deepEqual(hits, [], 'the counting server saw no request');
  assert.deepEqual(requests.filter((u) => !u.startsWith('data:')), [], 'Playwright saw no request');
  assert.deepEqual(dialogs, [], 'no dialog opened');
  assert.equal(await page.title(), model.subject);
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  assert.equal(await frame.evaluate('window.__pwned'), undefined);
  assert.notEqual(await frame.evaluate('document.title'), 'pwned');
  // The frame was not navigated away (meta refresh, links).
  assert.equal(frame.url(), 'about:srcdoc');
  // Header values were escaped: the From display name shows as text.
  assert.match((await page.textContent('table.headers')) ?? '', /Mallory <script>/);
  assert.match((await page.textContent('body')) ?? '', /report<1>\.pdf — application\/pdf, 2\.9 KiB/);
  await page.close();
});

test('"Load remote content" fetches the remote images and still runs nothing', async () => {
  hits.length = 0;
  const model = await buildPreviewModel(hostileMessage(remote(), port), { allowRemote: true });
  const html = renderPreviewHtml(model, { cspSource: CSP_SOURCE, nonce: randomBytes(16).toString('hex') });
  const { page, dialogs } = await open(html);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  assert.ok(frame);
  assert.ok(hits.includes('/remote.png'), `remote image loaded: ${JSON.stringify(hits)}`);
  assert.ok(hits.includes('/style-bg.png'), 'CSS url() loaded');
  for (const path of ['/script', '/onload', '/onerror', '/jslink', '/meta-refresh', '/iframe', '/object', '/embed', '/external.js', '/link.css', '/import.css', '/noscript.png']) {
    assert.ok(!hits.includes(path), `${path} was not requested`);
  }
  assert.deepEqual(dialogs, []);
  assert.equal(await frame.evaluate('window.__pwned'), undefined);
  await page.close();
});

test('defence in depth: even unsanitised HTML in the sandboxed frame runs nothing and fetches nothing', async () => {
  hits.length = 0;
  const model = await buildPreviewModel(hostileMessage(remote(), port));
  assert.ok(model.html);
  // Bypass the sanitiser: the frame gets the hostile HTML as it is, so only the CSPs and the sandbox act.
  model.html = { ...model.html, html: HOSTILE_HTML.replace(/REMOTE/g, remote()).replace(/PORT/g, String(port)) };
  const html = renderPreviewHtml(model, { cspSource: CSP_SOURCE, nonce: randomBytes(16).toString('hex') });
  const failed: string[] = [];
  const finished: string[] = [];
  const { page, requests, dialogs } = await openWith(html, (p) => {
    p.on('requestfailed', (r) => failed.push(`${r.url()} ${r.failure()?.errorText ?? ''}`));
    p.on('requestfinished', (r) => finished.push(r.url()));
  });
  const frame = page.frames().find((f) => f !== page.mainFrame());
  assert.ok(frame);
  assert.deepEqual(hits, [], 'the counting server saw no request');
  // Chromium reports the attempts, and the CSP blocks every one before it leaves the browser.
  const attempted = requests.filter((u) => !u.startsWith('data:'));
  assert.deepEqual(finished.filter((u) => !u.startsWith('data:')), [], 'no request finished');
  assert.equal(failed.length, attempted.length, JSON.stringify(failed));
  for (const f of failed) assert.match(f, / (csp|net::ERR_BLOCKED_BY_CSP)$/);
  assert.deepEqual(dialogs, []);
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  await page.close();
});
