// The transcript renderer: hostile strings stay text, the CSP is strict, the nonce is on the only
// script, and the text and JSON exports hold the whole run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMs } from '../../common/duration';
import { visibleText } from '../../common/escape';
import {
  escapeAttr,
  exportFileName,
  markupText,
  parseWebviewMessage,
  MAX_EVENT_CHARS,
  renderTranscriptBody,
  renderTranscriptHtml,
  renderTranscriptText,
  runRate,
  transcriptJson,
} from '../../client/src/views/transcriptHtml';
import { goodSession, hostileRecord, record } from './fixtures';

const CSP_SOURCE = 'https://file+.vscode-resource.vscode-cdn.net';
const NONCE = 'r4nd0mN0nceValue1234+/==';
const REMOTE = 'http://127.0.0.1:9';

/** Our own markup only uses these elements and attributes. */
const TAGS = new Set(['html', 'head', 'meta', 'title', 'style', 'body', 'main', 'div', 'h1', 'h2', 'h3', 'span', 'button', 'dl', 'dt', 'dd', 'section', 'header', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'details', 'summary', 'ul', 'li', 'p', 'strong', 'script']);
const ATTRIBUTES = new Set(['lang', 'charset', 'http-equiv', 'content', 'name', 'nonce', 'class', 'title', 'id', 'role', 'type', 'data-line', 'data-action', 'data-record-id', 'data-status', 'colspan']);

/** Lists the tags of a document outside the inline style and script (whose text is ours). */
function tags(html: string): Array<{ name: string; attrs: string[] }> {
  const stripped = html.replace(/<style nonce="[^"]*">[^<]*<\/style>/, '<style></style>').replace(/<script nonce="[^"]*">[\s\S]*?<\/script>/, '<script></script>');
  const out: Array<{ name: string; attrs: string[] }> = [];
  for (const m of stripped.matchAll(/<([a-zA-Z][\w-]*)([^>]*)>/g)) {
    const attrs = [...m[2].matchAll(/\s([^\s=]+)(?:="[^"]*")?/g)].map((a) => a[1].toLowerCase());
    out.push({ name: m[1].toLowerCase(), attrs });
  }
  return out;
}

test('markupText escapes the specials and shows invisible characters', () => {
  assert.equal(markupText(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  assert.match(markupText('a\u0000b'), /^a<span class="ctl" title="U\+0000">␀<\/span>b$/);
  assert.match(markupText('\u001b[31m'), /␛/);
  assert.match(markupText('x\u202Ey'), /U\+202E/);
  assert.equal(markupText('tab\tand\nline'), 'tab\tand\nline');
  // A lone surrogate is shown, not passed through.
  assert.match(markupText('\ud800'), /U\+D800/);
  assert.equal(markupText('😀'), '😀');
  assert.equal(escapeAttr('"><x \u0000'), '&quot;&gt;&lt;x \\u0000');
  assert.equal(visibleText('a\u0000\u001b\u202E\tb'), 'a\\x00\\x1B\\u202E\tb');
});

test('formatMs formats durations', () => {
  assert.equal(formatMs(0.42), '0.4 ms');
  assert.equal(formatMs(400), '400 ms');
  assert.equal(formatMs(1234.4), '1.234 s');
  assert.equal(formatMs(30_000), '30 s');
  assert.equal(formatMs(125_000), '2 min 5 s');
  assert.equal(formatMs(125_500), '2 min 5.5 s');
  assert.equal(formatMs(undefined), '—');
  assert.equal(formatMs(Number.NaN), '—');
});

test('a hostile record renders as text: no markup of its own reaches the document', () => {
  const html = renderTranscriptHtml(hostileRecord(REMOTE), { cspSource: CSP_SOURCE, nonce: NONCE });
  for (const t of tags(html)) {
    assert.ok(TAGS.has(t.name), `unexpected element <${t.name}>`);
    for (const a of t.attrs) assert.ok(ATTRIBUTES.has(a), `unexpected attribute ${a} on <${t.name}>`);
  }
  // The one script element is ours and carries the nonce.
  const scripts = [...html.matchAll(/<script\b[^>]*>/gi)];
  assert.equal(scripts.length, 1);
  assert.equal(scripts[0][0], `<script nonce="${NONCE}">`);
  assert.equal((html.match(/<\/script/gi) ?? []).length, 1);
  assert.equal((html.match(/<style\b/gi) ?? []).length, 1);
  assert.ok(html.includes(`<style nonce="${NONCE}">`));
  // The hostile strings are there as text.
  assert.ok(html.includes('&lt;script&gt;alert(1);window.__pwned=1&lt;/script&gt;'));
  assert.ok(html.includes('&lt;img src=http://127.0.0.1:9/img onerror=&quot;alert(2);window.__pwned=2&quot;&gt;'));
  assert.ok(html.includes('&quot;&gt;&lt;svg onload=alert(3)&gt;'));
  assert.ok(html.includes('javascript:alert(4)'));
  assert.ok(!/<(img|svg|iframe|a|base|link|object|embed|form|input|textarea)\b/i.test(html));
  // (No href, src, style or on… attribute can appear: the attribute allowlist above would have caught it.)
  // The record id (hostile too) is escaped in its attribute.
  assert.ok(html.includes('data-record-id="id&quot;&gt;&lt;img src=x onerror=alert(11)&gt;"'));
  // No raw control character or bidi override survives.
  assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/.test(html));
});

test('the CSP is present and strict', () => {
  const html = renderTranscriptHtml(record(), { cspSource: CSP_SOURCE, nonce: NONCE });
  const m = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(m, 'CSP meta element');
  assert.ok(html.indexOf(m[0]) < html.indexOf('<style'), 'the CSP comes before any style or script');
  const policy = m[1].replace(/&#39;/g, "'");
  const directives = new Map(policy.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  assert.deepEqual(directives.get('default-src'), ["'none'"]);
  assert.deepEqual(directives.get('script-src'), [`'nonce-${NONCE}'`]);
  assert.deepEqual(directives.get('style-src'), [CSP_SOURCE, `'nonce-${NONCE}'`]);
  assert.deepEqual(directives.get('img-src'), [CSP_SOURCE, 'data:']);
  assert.deepEqual(directives.get('font-src'), [CSP_SOURCE]);
  assert.deepEqual(directives.get('frame-src'), ["'none'"]);
  assert.deepEqual(directives.get('base-uri'), ["'none'"]);
  assert.deepEqual(directives.get('form-action'), ["'none'"]);
  assert.ok(!policy.includes('unsafe'));
  // A bad nonce or CSP source is refused rather than weakening the policy.
  assert.throws(() => renderTranscriptHtml(record(), { cspSource: CSP_SOURCE, nonce: 'short' }));
  assert.throws(() => renderTranscriptHtml(record(), { cspSource: CSP_SOURCE, nonce: `${NONCE}' 'unsafe-inline` }));
  assert.throws(() => renderTranscriptHtml(record(), { cspSource: `${CSP_SOURCE}; script-src *`, nonce: NONCE }));
  // VS Code 1.100's extension host gives several source expressions; they are accepted as they are.
  assert.match(renderTranscriptHtml(record(), { cspSource: "'self' https://*.vscode-cdn.net", nonce: NONCE }), /style-src &#39;self&#39; https:\/\/\*\.vscode-cdn\.net/);
  // External script and style files get the nonce too.
  const ext = renderTranscriptHtml(record(), { cspSource: CSP_SOURCE, nonce: NONCE, scriptUri: 'https://x/t.js?a="b', styleUri: 'https://x/t.css' });
  assert.ok(ext.includes(`<script nonce="${NONCE}" src="https://x/t.js?a=&quot;b"></script>`));
  assert.ok(ext.includes(`<link rel="stylesheet" nonce="${NONCE}" href="https://x/t.css">`));
});

test('a 1 MB line is escaped and cut in the panel, and kept whole in the exports', () => {
  const r = hostileRecord(REMOTE, { hugeLine: true });
  const started = performance.now();
  const html = renderTranscriptHtml(r, { cspSource: CSP_SOURCE, nonce: NONCE });
  assert.ok(performance.now() - started < 2000, 'renders quickly');
  assert.ok(!html.includes('<img'));
  assert.ok(html.length < 2_000_000, `bounded: ${html.length}`);
  assert.match(html, /more characters \(export to see all\)/);
  const huge = r.sessions[0].transcript.at(-1)?.text ?? '';
  assert.ok(huge.length > MAX_EVENT_CHARS);
  assert.ok(renderTranscriptText(r).includes(huge));
  assert.ok(transcriptJson(r).includes(huge.slice(0, 1000)));
});

test('steps show ✓/✗, expected and actual, linked to their lines', () => {
  const body = renderTranscriptBody(record());
  assert.match(body, /<button type="button" class="line" data-line="27" title="Show line 28 in the script">line 28<\/button>/);
  assert.match(body, /✗/);
  assert.match(body, /✓/);
  assert.match(body, /550 5\.1\.1 &lt;nobody@example\.net&gt;: Recipient address rejected/);
  assert.match(body, /expected 250, got 550/);
  // TLS details, the MX choice and the summary.
  assert.match(body, /TLSv1\.3/);
  assert.match(body, /TLS_AES_256_GCM_SHA384/);
  assert.match(body, /DNS:mx\.example\.net, DNS:smtp\.example\.net/);
  assert.match(body, /verified for mx\.example\.net/);
  assert.match(body, /mx\.example\.net \[192\.0\.2\.25\]:25/);
  assert.match(body, /connect ECONNREFUSED/);
  assert.match(body, /1 passed, 1 failed/);
  assert.match(body, /83\.2 ms/);
  assert.match(body, /C:/);
  assert.match(body, /S:/);
  // Markers per direction have their own classes.
  for (const dir of ['client', 'server', 'tls', 'info', 'error']) assert.ok(body.includes(`class="ev ${dir}"`), dir);
  // A message body of many lines is folded.
  const many = record({ sessions: [goodSession({ transcript: [{ t: 1, dir: 'client', text: Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n'), bytes: 400 }] })] });
  assert.match(renderTranscriptBody(many), /<details class="x"><summary>line 0 <span class="muted">… 40 lines, 400 bytes<\/span><\/summary>/);
});

test('a running record shows progress and no Rerun; an unverified certificate says why', () => {
  const running = record({ status: 'running', sessions: [], sessionIndexes: [0, 1] });
  const body = renderTranscriptBody(running);
  assert.match(body, /Running…/);
  assert.match(body, /so far/);
  assert.match(body, /2 not finished/);
  assert.ok(!body.includes('data-action="rerun"'));
  assert.ok(renderTranscriptBody(record()).includes('data-action="rerun"'));
  const s = goodSession();
  const bad = record({ sessions: [{ ...s, tls: { ...s.tls!, verified: false, verifyError: 'CERT_HAS_EXPIRED', verifyDisabled: true } }] });
  assert.match(renderTranscriptBody(bad), /not verified \(CERT_HAS_EXPIRED\); continued because verify=off/);
});

test('repeated runs report messages per second', () => {
  const a = goodSession({ repeat: { transactions: 100, delivered: 100, elapsedMs: 2000, perSecond: 50 } });
  const b = goodSession({ repeat: { transactions: 50, delivered: 40, elapsedMs: 2000, perSecond: 20 } });
  assert.deepEqual(runRate(record({ sessions: [a] })), { transactions: 100, delivered: 100, elapsedMs: 2000, perSecond: 50 });
  assert.deepEqual(runRate(record({ sessions: [a, b] })), { transactions: 150, delivered: 140, elapsedMs: 4000, perSecond: 35 });
  assert.equal(runRate(record()), undefined);
  assert.match(renderTranscriptBody(record({ sessions: [a] })), /50 messages per second \(100 of 100 transactions in 2 s\)/);
  assert.match(renderTranscriptText(record({ sessions: [a, b] })), /Throughput:\s+35 messages per second/);
});

test('the text export is swaks-like and shows control characters visibly', () => {
  const text = renderTranscriptText(record());
  assert.match(text, /^SMTP Workbench transcript: All sessions\n/);
  assert.match(text, /=== Session 1: Submit a message over STARTTLS \(line 3\): PASS/);
  assert.match(text, /=== Session 2: Unknown recipient is refused \(line 22\): FAIL/);
  assert.match(text, /\n {4}21\.4 ms <- {2}220 mx\.example\.net ESMTP ready\n/);
  assert.match(text, /\n {4}21\.9 ms {2}-> EHLO client\.example\.org\n/);
  assert.match(text, /=== TLS started/);
  assert.match(text, /\*\*\* backup\.example\.net/);
  assert.match(text, /✗ line 28 +RCPT TO:<nobody@example\.net> -> 550 5\.1\.1 \(expected 250\): expected 250, got 550/);
  // Continuation lines of a multi-line event keep the marker.
  assert.match(text, / {12}<- {2}250-PIPELINING\n/);
  const hostile = renderTranscriptText(hostileRecord(REMOTE));
  assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/.test(hostile), 'no raw control characters (terminal escapes) in the text export');
  assert.ok(hostile.includes('ESC\\x1B[31mred'));
  // Server text that tries to rewrite the screen, the title, or reorder text.
  const evil = record({
    label: 'label \u009b2J',
    sessions: [
      goodSession({
        title: 'title \u001b]0;pwned\u0007',
        transcript: [
          { t: 1, dir: 'server', text: '220 evil \u001b[31m…\u001b]0;pwned\u0007', bytes: 30 },
          { t: 2, dir: 'server', text: '250 \u001b[2Jclear\u0000 \u009b31m \u202eevil', bytes: 30 },
        ],
      }),
    ],
  });
  const evilText = renderTranscriptText(evil);
  assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/.test(evilText), evilText);
  assert.ok(evilText.includes('220 evil \\x1B[31m…\\x1B]0;pwned\\x07'));
  assert.ok(evilText.includes('250 \\x1B[2Jclear\\x00 \\x9B31m \\u202Eevil'));
  assert.ok(evilText.includes('=== Session 1: title \\x1B]0;pwned\\x07'));
});

test('a running record shows the session in progress and offers Cancel; exports leave it out', () => {
  const live = record({
    status: 'running',
    sessions: [],
    current: { index: 0, title: 'Slow <server>', line: 4, events: [{ t: 1, dir: 'server', text: '220 greylisting \u001b[31m', bytes: 20 }] },
  });
  const body = renderTranscriptBody(live);
  assert.match(body, /data-action="cancel"/);
  assert.doesNotMatch(body, /data-action="rerun"/);
  assert.match(body, /<section class="session running" id="session-live">.*<h2>Slow &lt;server&gt;<\/h2>/s);
  assert.match(body, /220 greylisting <span class="ctl" title="U\+001B">␛<\/span>\[31m/);
  assert.doesNotMatch(body, /Waiting for the first session/);
  assert.equal((JSON.parse(transcriptJson(live)) as Record<string, unknown>).current, undefined);
  assert.doesNotMatch(renderTranscriptText(live), /greylisting/);
  // Once finished, Rerun is back and the live section is gone even if a stale one is left over.
  const done = renderTranscriptBody({ ...live, status: 'passed' });
  assert.match(done, /data-action="rerun"/);
  assert.doesNotMatch(done, /session-live/);
  assert.deepEqual(parseWebviewMessage({ type: 'cancel' }), { type: 'cancel' });
});

test('the JSON export round-trips the record', () => {
  const r = hostileRecord(REMOTE);
  assert.deepEqual(JSON.parse(transcriptJson(r)), JSON.parse(JSON.stringify(r)));
});

test('records from older or damaged storage still render', () => {
  const damaged = { id: 'x', status: 'weird', sessions: [{ title: 't', ok: false, line: 'nope', steps: null, transcript: [{ t: 'a', dir: 'evil', text: '<b>', bytes: 0 }], timings: {} }] } as unknown as Parameters<typeof renderTranscriptBody>[0];
  const html = renderTranscriptHtml(damaged, { cspSource: CSP_SOURCE, nonce: NONCE });
  assert.ok(html.includes('&lt;b&gt;'));
  assert.ok(!html.includes('data-line="nope"'));
  assert.ok(renderTranscriptText(damaged).includes('<b>'));
});

test('messages from the webview are checked before use', () => {
  assert.deepEqual(parseWebviewMessage({ type: 'reveal', line: 4 }), { type: 'reveal', line: 4 });
  for (const bad of [{ type: 'reveal', line: -1 }, { type: 'reveal', line: 1.5 }, { type: 'reveal', line: '4' }, { type: 'reveal' }, { type: 'eval', code: 'x' }, null, 'copy', 42]) {
    assert.equal(parseWebviewMessage(bad), undefined, JSON.stringify(bad));
  }
  assert.deepEqual(parseWebviewMessage({ type: 'copy', extra: 1 }), { type: 'copy' });
  assert.deepEqual(parseWebviewMessage({ type: 'rerun', id: 'other' }), { type: 'rerun' });
  assert.deepEqual(parseWebviewMessage({ type: 'ready', recordId: 'a', doc: 'n' }), { type: 'ready', recordId: 'a', doc: 'n' });
});

test('export file names are safe and stable', () => {
  assert.equal(exportFileName(record(), 'txt'), 'submit-20261123T044201Z.txt');
  assert.equal(exportFileName(record({ fileName: '../../etc/pass wd.smtp' }), 'json'), '.._.._etc_pass_wd-20261123T044201Z.json');
  assert.doesNotMatch(exportFileName(record({ fileName: '/\\:*?"<>|' }), 'txt'), /[/\\:*?"<>|]/);
});
