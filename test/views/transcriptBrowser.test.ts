// Loads the exact transcript panel document for a hostile run in Debian's Chromium (playwright-core)
// and proves that nothing from the server ran or fetched anything: a counting HTTP server that every
// hostile URL points at sees no request, Playwright sees no request and no dialog, `window.__pwned`
// stays unset, and the hostile text shows literally. A control shows the test can see a failure:
// the same strings in a plain page do run and fetch. The panel's own script works: its buttons post
// the right messages to the (stubbed) VS Code API, and a live update swaps the content safely.
// A screenshot of a realistic run goes to .test-artifacts/views/transcript.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, startCountingServer, type CountingServer } from '../support/chromium';
import { renderTranscriptBody, renderTranscriptHtml } from '../../client/src/views/transcriptHtml';
import { HOSTILE, hostileRecord, hostileText, record } from './fixtures';

// The form VS Code 1.100's extension host gives: several source expressions.
const CSP_SOURCE = "'self' https://*.vscode-cdn.net";
const ARTIFACTS = '.test-artifacts/views';
/** Where the panel document is served from; the only request a page may make. */
const PANEL_URL = 'https://panel.invalid/transcript.html';

let counting: CountingServer;
let port: number;
let hits: string[] = [];
let browser: Browser;

before(async () => {
  counting = await startCountingServer();
  port = counting.port;
  hits = counting.hits;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await counting?.close();
});

function remote(): string {
  return `http://127.0.0.1:${port}`;
}

// A stand-in for the VS Code webview API: it records what the panel posts and keeps its state. It
// runs before the page's own script (an init script is not subject to the page's CSP).
const VSCODE_STUB = `
  window.__posted = [];
  window.__state = undefined;
  window.acquireVsCodeApi = function () {
    return {
      postMessage: function (m) { window.__posted.push(JSON.parse(JSON.stringify(m))); },
      getState: function () { return window.__state; },
      setState: function (s) { window.__state = JSON.parse(JSON.stringify(s)); },
    };
  };
`;

interface Observed {
  page: Page;
  requests: string[];
  dialogs: string[];
  console: string[];
}

async function open(html: string, viewport = { width: 1100, height: 900 }): Promise<Observed> {
  const page = await browser.newPage({ viewport });
  const requests: string[] = [];
  const dialogs: string[] = [];
  const console: string[] = [];
  await page.addInitScript(VSCODE_STUB);
  page.on('request', (r) => {
    if (r.url() !== PANEL_URL) requests.push(r.url());
  });
  page.on('console', (m) => console.push(`${m.type()}: ${m.text()}`));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  // The document is served from its own URL (not setContent) so the stub's init script runs in it.
  await page.route('**/*', (route) => (route.request().url() === PANEL_URL ? route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }) : route.continue()));
  await page.goto(PANEL_URL, { waitUntil: 'load' });
  await page.waitForTimeout(500);
  return { page, requests, dialogs, console };
}

test('control: the hostile strings in a plain page do run and fetch', async () => {
  hits.length = 0;
  const { page, dialogs } = await open(`<!DOCTYPE html><html><body>${hostileText(remote())}</body></html>`);
  assert.ok(dialogs.length > 0 || (await page.evaluate('window.__pwned')) !== undefined, 'a script ran');
  assert.ok(hits.length > 0, `the counting server saw requests: ${JSON.stringify(hits)}`);
  await page.close();
});

test('the panel document of a hostile run runs nothing and fetches nothing', async () => {
  hits.length = 0;
  const r = hostileRecord(remote(), { hugeLine: true });
  const nonce = randomBytes(18).toString('base64');
  const { page, requests, dialogs } = await open(renderTranscriptHtml(r, { cspSource: CSP_SOURCE, nonce }));

  assert.deepEqual(dialogs, [], 'no dialog opened');
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  assert.deepEqual(hits, [], 'the counting server saw no request');
  assert.deepEqual(requests.filter((u) => !u.startsWith('data:')), [], 'Playwright saw no request');
  assert.equal(page.url(), PANEL_URL, 'the page was not navigated away');

  // Only the panel's own elements exist: no element from the server, no handler or URL attribute.
  const report = (await page.evaluate(`(() => {
    const tags = new Set();
    const bad = [];
    for (const el of Array.from(document.querySelectorAll('*'))) {
      tags.add(el.tagName.toLowerCase());
      for (const a of Array.from(el.attributes)) {
        if (/^on/i.test(a.name) || ['href', 'src', 'style', 'srcdoc', 'action', 'formaction'].includes(a.name.toLowerCase())) bad.push(el.tagName + ' ' + a.name);
      }
    }
    return { tags: Array.from(tags).sort(), bad, scripts: document.scripts.length, title: document.title };
  })()`)) as { tags: string[]; bad: string[]; scripts: number; title: string };
  assert.deepEqual(report.bad, []);
  for (const t of ['img', 'svg', 'iframe', 'a', 'base', 'link', 'object', 'embed', 'textarea', 'form']) assert.ok(!report.tags.includes(t), `<${t}> exists`);
  assert.equal(report.scripts, 1, 'only the panel script');
  assert.match(report.title, /^Transcript: Label <script>alert\(1\)/);

  // The text shows literally.
  const text = (await page.textContent('body')) ?? '';
  for (const h of HOSTILE.slice(0, 13)) assert.ok(text.includes(h.replace(/REMOTE/g, remote())), `shows ${h}`);
  assert.ok(text.includes('NUL␀BEL␇ESC␛[31mred␛[0m DEL␡'), 'control characters are shown');
  assert.ok(text.includes('bidi U+202Eevil.exeU+202C zeroU+200Bwidth'), 'bidi overrides are shown, not applied');
  // The 1 MB line is there, cut for display.
  assert.ok(text.includes('250 <img src=x onerror=alert(9)><img src=x onerror=alert(9)>'));
  assert.ok(text.includes('more characters (export to see all)'));

  // The panel script started and reported the document to the extension.
  const posted = (await page.evaluate('window.__posted')) as Array<Record<string, unknown>>;
  assert.deepEqual(posted[0], { type: 'ready', recordId: r.id, doc: nonce });
  assert.deepEqual((await page.evaluate('window.__state')) as unknown, { recordId: r.id, scrollY: 0, follow: false });
  await page.close();
});

test('the panel buttons post their messages; a live update swaps the content and still runs nothing', async () => {
  hits.length = 0;
  const running = record({ status: 'running', sessions: [], durationMs: 5 });
  const { page, requests, dialogs } = await open(renderTranscriptHtml(running, { cspSource: CSP_SOURCE, nonce: randomBytes(18).toString('base64') }));
  assert.match((await page.textContent('body')) ?? '', /Waiting for the first session/);
  assert.equal(await page.locator('[data-action="rerun"]').count(), 0);
  // While it runs, Cancel is offered instead of Rerun.
  await page.locator('[data-action="cancel"]').click();
  assert.deepEqual(await page.evaluate('window.__posted.slice(-1)'), [{ type: 'cancel' }]);

  // The session in progress shows its events as they happen, escaped like the rest.
  const liveRecord = { ...running, current: { index: 0, title: 'Live <b>session</b>', line: 2, events: [{ t: 1, dir: 'server' as const, text: '220 greylisted \u001b[31m <img src=x onerror=alert(8)>', bytes: 40 }] } };
  await page.evaluate(`window.postMessage(${JSON.stringify({ type: 'render', recordId: running.id, status: 'running', title: 'T', html: renderTranscriptBody(liveRecord) })}, '*')`);
  await page.waitForTimeout(200);
  const liveText = (await page.textContent('#session-live')) ?? '';
  assert.match(liveText, /Live <b>session<\/b>/);
  assert.match(liveText, /220 greylisted ␛\[31m <img src=x onerror=alert\(8\)>/);
  assert.doesNotMatch((await page.textContent('body')) ?? '', /Waiting for the first session/);

  // The run goes on: a hostile session arrives, then the run ends.
  const hostile = hostileRecord(remote());
  const update = { ...hostile, id: running.id, status: 'running' as const };
  await page.evaluate(`window.postMessage(${JSON.stringify({ type: 'render', recordId: update.id, status: 'running', title: 'T', html: renderTranscriptBody(update) })}, '*')`);
  await page.waitForTimeout(200);
  assert.match((await page.textContent('body')) ?? '', /Label <script>alert\(1\);window\.__pwned=1<\/script>/);
  const done = { ...update, status: 'failed' as const };
  await page.evaluate(`window.postMessage(${JSON.stringify({ type: 'render', recordId: done.id, status: 'failed', title: 'Done', html: renderTranscriptBody(done) })}, '*')`);
  await page.waitForTimeout(200);
  assert.equal(await page.evaluate('document.body.getAttribute("data-status")'), 'failed');
  assert.equal(await page.title(), 'Done');
  // Malformed messages are ignored.
  await page.evaluate(`window.postMessage({ type: 'render', recordId: 'x', status: 'pwned', html: '<b id=bad>x</b>' }, '*')`);
  await page.evaluate(`window.postMessage({ type: 'other', html: '<b id=bad>x</b>' }, '*')`);
  await page.waitForTimeout(100);
  assert.equal(await page.locator('#bad').count(), 0);

  await page.evaluate('window.__posted = []');
  await page.locator('button[data-line="3"]').first().click();
  await page.locator('[data-action="copy"]').click();
  await page.locator('[data-action="exportText"]').click();
  await page.locator('[data-action="exportJson"]').click();
  await page.locator('[data-action="rerun"]').click();
  assert.deepEqual(await page.evaluate('window.__posted'), [{ type: 'reveal', line: 3 }, { type: 'copy' }, { type: 'exportText' }, { type: 'exportJson' }, { type: 'rerun' }]);

  assert.deepEqual(dialogs, []);
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  assert.deepEqual(hits, []);
  assert.deepEqual(requests.filter((u) => !u.startsWith('data:')), []);
  await page.close();
});

test('at 360 px the steps are rows that wrap by word and nothing overflows sideways', async () => {
  const r = record();
  const { page } = await open(renderTranscriptHtml(r, { cspSource: CSP_SOURCE, nonce: randomBytes(18).toString('base64') }), { width: 360, height: 800 });
  const layout = (await page.evaluate(`(() => {
    const ch = (() => { const s = document.createElement('span'); s.style.fontFamily = 'monospace'; s.textContent = '0000000000'; document.body.appendChild(s); const w = s.getBoundingClientRect().width / 10; s.remove(); return w; })();
    const cells = Array.from(document.querySelectorAll('table.steps td.code')).filter((td) => td.textContent.trim() !== '' && getComputedStyle(td).display !== 'none');
    const narrow = cells.filter((td) => td.getBoundingClientRect().width < 8 * ch).map((td) => td.textContent + ' ' + td.getBoundingClientRect().width);
    const mail = cells.find((td) => td.textContent === 'MAIL FROM:<alice@example.org>');
    const lineHeight = mail ? parseFloat(getComputedStyle(mail).lineHeight) || 16 : 0;
    return { ch, narrow, mailLines: mail ? Math.round(mail.getBoundingClientRect().height / lineHeight) : -1, scrollWidth: document.documentElement.scrollWidth, theadShown: getComputedStyle(document.querySelector('table.steps thead')).display !== 'none' };
  })()`)) as { ch: number; narrow: string[]; mailLines: number; scrollWidth: number; theadShown: boolean };
  assert.deepEqual(layout.narrow, [], 'no code cell is narrower than 8 characters');
  assert.ok(layout.mailLines >= 1 && layout.mailLines <= 2, `MAIL FROM takes ${layout.mailLines} lines`);
  assert.ok(layout.scrollWidth <= 360, `the page is ${layout.scrollWidth} px wide`);
  assert.equal(layout.theadShown, false, 'the header row is hidden when steps are rows');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/transcript-360.png`, fullPage: true });
  await page.close();
});

test('screenshot of a realistic run in a dark theme', async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const r = record();
  // A realistic run with one hostile banner, to see how escaped text looks.
  r.sessions[0].transcript[2] = { ...r.sessions[0].transcript[2], text: '220 mx.example.net ESMTP <script>alert(1)</script> \u0000' };
  const { page, dialogs } = await open(renderTranscriptHtml(r, { cspSource: CSP_SOURCE, nonce: randomBytes(18).toString('base64') }), { width: 1200, height: 900 });
  // VS Code sets the theme's colours as variables on the root element; these are Dark Modern's.
  await page.evaluate(`(() => {
    const vars = {
      '--vscode-font-family': 'system-ui, "Segoe UI", Ubuntu, sans-serif', '--vscode-font-size': '13px',
      '--vscode-editor-font-family': '"DejaVu Sans Mono", monospace', '--vscode-editor-font-size': '12.5px',
      '--vscode-foreground': '#cccccc', '--vscode-editor-background': '#1f1f1f', '--vscode-descriptionForeground': '#9d9d9d',
      '--vscode-panel-border': '#2b2b2b', '--vscode-textLink-foreground': '#4daafc', '--vscode-textLink-activeForeground': '#4daafc',
      '--vscode-button-background': '#0078d4', '--vscode-button-foreground': '#ffffff', '--vscode-button-hoverBackground': '#026ec1',
      '--vscode-button-secondaryBackground': '#313131', '--vscode-button-secondaryForeground': '#cccccc', '--vscode-button-secondaryHoverBackground': '#3c3c3c',
      '--vscode-testing-iconPassed': '#73c991', '--vscode-testing-iconFailed': '#f14c4c', '--vscode-errorForeground': '#f85149',
      '--vscode-terminal-ansiBlue': '#3b8eea', '--vscode-terminal-ansiMagenta': '#d670d6', '--vscode-textCodeBlock-background': '#2b2b2b',
      '--vscode-inputValidation-errorBackground': '#5a1d1d', '--vscode-editorWarning-foreground': '#cca700', '--vscode-editorWidget-border': '#313131',
      '--vscode-progressBar-background': '#0078d4', '--vscode-focusBorder': '#0078d4',
    };
    for (const [k, v] of Object.entries(vars)) document.documentElement.style.setProperty(k, v);
  })()`);
  await page.screenshot({ path: `${ARTIFACTS}/transcript.png`, fullPage: true });
  assert.ok(existsSync(`${ARTIFACTS}/transcript.png`));
  assert.deepEqual(dialogs, []);
  await page.close();
});
