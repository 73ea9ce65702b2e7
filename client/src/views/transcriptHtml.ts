/**
 * Renders a run record for the transcript panel (HTML), for the clipboard and text export (swaks-like
 * text, the same markers as `smtpwb run`), and for JSON export. Pure: no `vscode`, no clock, no I/O,
 * so tests can load the exact panel document in a real browser.
 *
 * Everything in a record came from a server or from the script and is treated as hostile: every
 * string goes through `escapeHtml` (or `escapeAttr` inside attributes) before it reaches markup, and
 * control characters, bidirectional overrides and other invisible characters are shown as visible
 * marks so they can neither hide nor reorder text. Numbers that become attributes (script lines) are
 * checked to be non-negative integers. The document carries a strict Content-Security-Policy: no
 * default sources, styles and the one script only under the render's nonce, images and fonts only
 * from the webview's own resources, no frames, forms or base URL changes.
 */
import type { RunRecord, RunStatus } from '../runs/runRecord';
import type { ReplyInfo, SessionResult, StepResult, TlsDetails, MxDetails, TranscriptEvent, EventDirection } from '../engine/types';
import { TRANSCRIPT_CSS, TRANSCRIPT_SCRIPT } from './media/transcriptAssets';

export interface TranscriptHtmlOptions {
  /** `webview.cspSource`. */
  cspSource: string;
  /** A fresh random nonce for this render (base64 or hex, at least 16 characters). */
  nonce: string;
  /** A webview URI of the panel script; without it the script is inlined under the nonce. */
  scriptUri?: string;
  /** A webview URI of the panel stylesheet; without it the stylesheet is inlined under the nonce. */
  styleUri?: string;
}

/** The most characters of one event the panel shows; the exports keep everything. */
export const MAX_EVENT_CHARS = 100_000;
/** The most events of one session the panel shows (the first and last halves). */
export const MAX_EVENTS_SHOWN = 5_000;
/** The most steps of one session the panel shows (failed steps are always shown). */
export const MAX_STEPS_SHOWN = 1_000;
/** Events with more lines than this (a message body) are folded. */
const FOLD_LINES = 12;

const STATUS_TEXT: Record<RunStatus, string> = {
  running: 'Running…',
  passed: 'Passed',
  failed: 'Failed',
  cancelled: 'Cancelled',
  error: 'Error',
};

/** Markers in the panel, one per direction (client, server, TLS, note, error). */
const HTML_MARKERS: Record<EventDirection, string> = { client: 'C:', server: 'S:', tls: '~', info: '*', error: '!' };
const DIRECTION_TITLES: Record<EventDirection, string> = { client: 'sent by the client', server: 'received from the server', tls: 'TLS', info: 'note', error: 'error' };
/** Markers in text exports, as swaks and `smtpwb run` print them. */
const TEXT_MARKERS: Record<EventDirection, string> = { client: ' -> ', server: '<-  ', tls: '=== ', info: '=== ', error: '*** ' };

// Characters escaped in element content: the five HTML specials, C0 controls except tab and line
// feed, DEL and C1 controls, and invisible or reordering characters (soft hyphen, Arabic letter mark,
// Mongolian vowel separator, zero-width and directional marks, line and paragraph separators, bidi
// embeddings, overrides and isolates, word joiners, the byte order mark, interlinear annotations).
const CONTENT_RE = /[&<>"']|[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const SPECIALS: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function hex(code: number, width: number): string {
  return code.toString(16).toUpperCase().padStart(width, '0');
}

/** The visible form of an invisible character: its control picture, or `U+XXXX`. */
function visible(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code < 0x20) return String.fromCharCode(0x2400 + code);
  if (code === 0x7f) return '\u2421';
  return `U+${hex(code, 4)}`;
}

/** Escapes text for element content; invisible characters become marked, visible placeholders. */
export function escapeHtml(text: string): string {
  return String(text).replace(CONTENT_RE, (ch) => {
    const special = SPECIALS[ch];
    if (special) return special;
    return `<span class="ctl" title="U+${hex(ch.charCodeAt(0), 4)}">${visible(ch)}</span>`;
  });
}

/** Escapes text for a double-quoted attribute value; invisible characters become `\uXXXX`. */
export function escapeAttr(text: string): string {
  return String(text).replace(CONTENT_RE, (ch) => SPECIALS[ch] ?? `\\u${hex(ch.charCodeAt(0), 4)}`);
}

/** Makes control and invisible characters visible in plain text (`\x1B`, `\u202E`), keeping tabs and line feeds. */
export function visibleText(text: string): string {
  return String(text).replace(CONTENT_RE, (ch) => {
    if (SPECIALS[ch]) return ch;
    const code = ch.charCodeAt(0);
    return code < 0x100 ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
  });
}

/** Formats milliseconds: `0.4 ms`, `12.3 ms`, `1.234 s`, `2 min 3.4 s`; `—` for a missing value. */
export function formatMs(ms: number | undefined): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(3)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${((ms - minutes * 60_000) / 1000).toFixed(1)} s`;
}

/** Formats an ISO time as `2026-11-23 04:42:01 UTC`, or returns it as it is when it is not a time. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function isLine(line: unknown): line is number {
  return typeof line === 'number' && Number.isInteger(line) && line >= 0;
}

/** A button that reveals a script line (0-based in the record, 1-based on screen). */
function lineLink(line: unknown, text?: string): string {
  if (!isLine(line)) return '';
  return `<button type="button" class="line" data-line="${line}" title="Show line ${line + 1} in the script">${escapeHtml(text ?? `line ${line + 1}`)}</button>`;
}

function truncated(text: string, max: number): { text: string; cut: number } {
  const s = String(text);
  return s.length > max ? { text: s.slice(0, max), cut: s.length - max } : { text: s, cut: 0 };
}

function cutNote(cut: number): string {
  return cut > 0 ? `<span class="cut"> … ${cut.toLocaleString('en-US')} more characters (export to see all)</span>` : '';
}

/** The indexes to show out of n: the first and last `keep/2`, plus those `always` picks. */
function pick(n: number, keep: number, always: (i: number) => boolean = () => false): number[] {
  if (n <= keep) return Array.from({ length: n }, (_, i) => i);
  const head = Math.ceil(keep / 2);
  const tail = Math.floor(keep / 2);
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (i < head || i >= n - tail || always(i)) out.push(i);
  return out;
}

function directionOf(dir: unknown): EventDirection {
  return dir === 'client' || dir === 'server' || dir === 'tls' || dir === 'info' || dir === 'error' ? dir : 'info';
}

function statusOfRecord(record: RunRecord): RunStatus {
  const s = record.status;
  return s === 'running' || s === 'passed' || s === 'failed' || s === 'cancelled' || s === 'error' ? s : 'error';
}

function replyText(reply: ReplyInfo | undefined): string {
  if (!reply) return '';
  const lines = Array.isArray(reply.lines) ? reply.lines.map(String) : [];
  return lines.length > 0 ? lines.join('\n') : `${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''}`;
}

function eventHtml(e: TranscriptEvent): string {
  const dir = directionOf(e.dir);
  const { text, cut } = truncated(e.text, MAX_EVENT_CHARS);
  const lines = text.split('\n');
  const time = `<span class="t">${escapeHtml(formatMs(e.t))}</span><span class="m" title="${DIRECTION_TITLES[dir]}">${escapeHtml(HTML_MARKERS[dir])}</span>`;
  if (lines.length > FOLD_LINES) {
    const bytes = typeof e.bytes === 'number' && e.bytes > 0 ? `, ${e.bytes.toLocaleString('en-US')} bytes` : '';
    return `<div class="ev ${dir}">${time}<details class="x"><summary>${escapeHtml(lines[0])} <span class="muted">… ${lines.length.toLocaleString('en-US')} lines${bytes}</span></summary>${escapeHtml(lines.slice(1).join('\n'))}${cutNote(cut)}</details></div>`;
  }
  return `<div class="ev ${dir}">${time}<span class="x">${escapeHtml(text)}${cutNote(cut)}</span></div>`;
}

function transcriptHtml(events: readonly TranscriptEvent[]): string {
  if (!Array.isArray(events) || events.length === 0) return '<p class="muted">No transcript was kept.</p>';
  const shown = pick(events.length, MAX_EVENTS_SHOWN);
  const out: string[] = ['<div class="transcript" role="log">'];
  let previous = -1;
  for (const i of shown) {
    if (i !== previous + 1) out.push(`<div class="note">… ${(i - previous - 1).toLocaleString('en-US')} events not shown here (export to see all) …</div>`);
    out.push(eventHtml(events[i]));
    previous = i;
  }
  out.push('</div>');
  return out.join('');
}

function stepsHtml(steps: readonly StepResult[]): string {
  if (!Array.isArray(steps) || steps.length === 0) return '';
  const shown = pick(steps.length, MAX_STEPS_SHOWN, (i) => !steps[i].ok);
  const rows: string[] = [];
  let previous = -1;
  for (const i of shown) {
    if (i !== previous + 1) rows.push(`<tr><td colspan="7" class="muted">… ${(i - previous - 1).toLocaleString('en-US')} passing steps not shown …</td></tr>`);
    const s = steps[i];
    const reply = truncated(replyText(s.reply), 4_000);
    const further = Array.isArray(s.replies) && s.replies.length > 0 ? `<div class="muted">+ ${s.replies.length} more ${s.replies.length === 1 ? 'reply' : 'replies'}</div>` : '';
    const command = truncated(s.command, 4_000);
    const message = truncated(s.message ?? '', 4_000);
    rows.push(
      `<tr class="${s.ok ? 'passed' : 'failed'}">` +
        `<td><span class="mark ${s.ok ? 'ok' : 'bad'}" title="${s.ok ? 'met its expectation' : 'failed'}">${s.ok ? '✓' : '✗'}</span></td>` +
        `<td>${lineLink(s.line)}</td>` +
        `<td class="code">${escapeHtml(command.text)}${cutNote(command.cut)}</td>` +
        `<td class="code">${escapeHtml(s.expected ?? '—')}</td>` +
        `<td class="code">${escapeHtml(reply.text)}${cutNote(reply.cut)}${further}</td>` +
        `<td>${message.text ? `<span class="${s.ok ? 'muted' : 'bad'}">${escapeHtml(message.text)}${cutNote(message.cut)}</span>` : ''}</td>` +
        `<td class="num">${escapeHtml(formatMs(s.durationMs))}</td></tr>`,
    );
    previous = i;
  }
  return `<h3>Steps</h3><table class="steps"><thead><tr><th></th><th>Line</th><th>Command</th><th>Expected</th><th>Reply</th><th>Result</th><th>Time</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function kv(rows: Array<[string, string | undefined]>): string {
  return `<dl class="kv">${rows
    .filter((r): r is [string, string] => r[1] !== undefined && r[1] !== '')
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`)
    .join('')}</dl>`;
}

/** One line describing whether the certificate was verified, and why not. */
export function verificationText(t: TlsDetails): string {
  if (t.verified) return `verified${t.servername ? ` for ${t.servername}` : ''}`;
  const why = t.verifyError ?? 'unknown reason';
  return t.verifyDisabled ? `not verified (${why}); continued because verify=off` : `NOT verified (${why})`;
}

function tlsHtml(t: TlsDetails | undefined): string {
  if (!t) return '';
  const sans = Array.isArray(t.subjectAltNames) ? t.subjectAltNames.map(String) : undefined;
  const verified = `<span class="${t.verified ? 'ok' : 'bad'}">${escapeHtml(verificationText(t))}</span>`;
  return `<div><h3>TLS</h3>${kv([
    ['Started', escapeHtml(t.mode === 'implicit' ? 'implicitly (RFC 8314)' : 'with STARTTLS (RFC 3207)')],
    ['Protocol', escapeHtml(t.protocol ?? 'unknown')],
    ['Cipher', escapeHtml(t.cipher)],
    ['Server name', t.servername !== undefined ? escapeHtml(t.servername) : undefined],
    ['Subject', t.subject !== undefined ? escapeHtml(t.subject) : undefined],
    ['Issuer', t.issuer !== undefined ? escapeHtml(t.issuer) : undefined],
    ['Names (SAN)', sans !== undefined ? (sans.length > 0 ? escapeHtml(sans.join(', ')) : '<span class="muted">none</span>') : undefined],
    ['Valid', t.validFrom !== undefined || t.validTo !== undefined ? escapeHtml(`${t.validFrom ?? '?'} — ${t.validTo ?? '?'}`) : undefined],
    ['SHA-256', t.fingerprint256 !== undefined ? `<span class="caps">${escapeHtml(t.fingerprint256)}</span>` : undefined],
    ['Certificate', verified],
  ])}</div>`;
}

function mxHtml(mx: MxDetails | undefined): string {
  if (!mx) return '';
  const candidates = (Array.isArray(mx.candidates) ? [...mx.candidates] : []).sort((a, b) => a.preference - b.preference);
  const attempts = Array.isArray(mx.attempts) ? mx.attempts : [];
  const chosen = mx.chosen ? `<span class="ok">${escapeHtml(`${mx.chosen.host} [${mx.chosen.address}]:${mx.chosen.port}`)}</span>` : '<span class="bad">none</span>';
  const list =
    candidates.length > 0
      ? `<ul class="plain">${candidates
          .map((c) => `<li>${escapeHtml(`${c.preference} ${c.host}`)}${c.implicit ? ' <span class="muted">(implicit MX, RFC 5321 §5.1)</span>' : ''}</li>`)
          .join('')}</ul>`
      : '<span class="muted">none</span>';
  const tried =
    attempts.length > 0
      ? `<ul class="plain">${attempts
          .map((a) => `<li>${escapeHtml(`${a.host} [${a.address}]:${a.port}`)}${a.error ? ` <span class="bad">${escapeHtml(a.error)}</span>` : ' <span class="ok">connected</span>'}</li>`)
          .join('')}</ul>`
      : undefined;
  return `<div><h3>MX</h3>${kv([
    ['Domain', escapeHtml(mx.domain)],
    ['Null MX', mx.nullMx ? '<span class="bad">yes: the domain accepts no mail (RFC 7505)</span>' : undefined],
    ['Candidates', list],
    ['Tried', tried],
    ['Chosen', chosen],
  ])}</div>`;
}

function targetText(s: SessionResult): string | undefined {
  const t = s.target;
  if (!t) return undefined;
  return `${t.scheme}://${t.host}:${t.port}${t.address && t.address !== t.host ? ` [${t.address}]` : ''}${t.lmtp ? ' (LMTP)' : ''}`;
}

function repeatText(s: SessionResult): string | undefined {
  const r = s.repeat;
  if (!r) return undefined;
  return `${r.delivered} of ${r.transactions} transactions accepted in ${formatMs(r.elapsedMs)}: ${r.perSecond} messages per second`;
}

function capabilitiesHtml(s: SessionResult): string | undefined {
  const caps = s.capabilities;
  if (!caps || typeof caps.keywords !== 'object' || caps.keywords === null) return undefined;
  const entries = Object.entries(caps.keywords);
  if (entries.length === 0) return undefined;
  return `<span class="caps">${entries.map(([k, v]) => escapeHtml(Array.isArray(v) && v.length > 0 ? `${k} ${v.join(' ')}` : k)).join(' · ')}</span>`;
}

function sessionHtml(s: SessionResult, index: number): string {
  const ok = s.ok === true;
  const name = s.name ? ` <span class="muted">[${escapeHtml(s.name)}]</span>` : '';
  const failure = s.failure
    ? `<div class="error-box"><strong>${escapeHtml(s.failure.kind)}</strong>: ${escapeHtml(truncated(s.failure.message, 8_000).text)}${isLine(s.failure.line) ? ` (${lineLink(s.failure.line)})` : ''}</div>`
    : '';
  const overview = kv([
    ['Target', targetText(s) !== undefined ? escapeHtml(targetText(s) ?? '') : undefined],
    ['Connect', s.timings?.connectMs !== undefined ? escapeHtml(formatMs(s.timings.connectMs)) : undefined],
    ['Greeting', s.timings?.greetingMs !== undefined ? escapeHtml(formatMs(s.timings.greetingMs)) : undefined],
    ['Total', escapeHtml(formatMs(s.timings?.totalMs))],
    ['Repeat', repeatText(s) !== undefined ? escapeHtml(repeatText(s) ?? '') : undefined],
    ['Extensions', capabilitiesHtml(s)],
  ]);
  const details = [`<div><h3>Session</h3>${overview}</div>`, mxHtml(s.mx), tlsHtml(s.tls)].filter((x) => x !== '').join('');
  return (
    `<section class="session ${ok ? 'passed' : 'failed'}" id="session-${index}">` +
    `<header><span class="mark" title="${ok ? 'passed' : 'failed'}">${ok ? '✓' : '✗'}</span><h2>${escapeHtml(s.title)}${name}</h2>${lineLink(s.line)}</header>` +
    failure +
    `<div class="columns">${details}</div>` +
    stepsHtml(s.steps) +
    `<h3>Transcript</h3>${transcriptHtml(s.transcript)}` +
    `</section>`
  );
}

/** Messages per second over the run's repeated sessions, or undefined when nothing was repeated. */
export function runRate(record: RunRecord): { transactions: number; delivered: number; elapsedMs: number; perSecond: number } | undefined {
  const repeated = (Array.isArray(record.sessions) ? record.sessions : []).filter((s) => s.repeat);
  if (repeated.length === 0) return undefined;
  if (repeated.length === 1 && repeated[0].repeat) return { ...repeated[0].repeat };
  let transactions = 0;
  let delivered = 0;
  let elapsedMs = 0;
  for (const s of repeated) {
    transactions += s.repeat?.transactions ?? 0;
    delivered += s.repeat?.delivered ?? 0;
    elapsedMs += s.repeat?.elapsedMs ?? 0;
  }
  return { transactions, delivered, elapsedMs, perSecond: elapsedMs > 0 ? Math.round((delivered * 1000 * 1000) / elapsedMs) / 1000 : 0 };
}

function sessionCounts(record: RunRecord): string {
  const sessions = Array.isArray(record.sessions) ? record.sessions : [];
  const passed = sessions.filter((s) => s.ok).length;
  const failed = sessions.length - passed;
  const asked = Array.isArray(record.sessionIndexes) ? record.sessionIndexes.length : sessions.length;
  const parts = [`${passed} passed`, `${failed} failed`];
  if (asked > sessions.length) parts.push(`${asked - sessions.length} not finished`);
  return parts.join(', ');
}

/** The panel's title for a record. */
export function transcriptTitle(record: RunRecord): string {
  return `Transcript: ${String(record.label ?? '')} (${String(record.fileName ?? '')})`;
}

/** The content of the panel's body (toolbar, summary, sessions); the panel's script swaps it on updates. */
export function renderTranscriptBody(record: RunRecord): string {
  const status = statusOfRecord(record);
  const sessions = Array.isArray(record.sessions) ? record.sessions : [];
  const rate = runRate(record);
  const toolbar =
    `<div class="toolbar"><h1>${escapeHtml(record.label)}</h1><span class="badge ${status}">${escapeHtml(STATUS_TEXT[status])}</span><span class="spacer"></span>` +
    (status === 'running' ? '' : '<button type="button" class="primary" data-action="rerun" title="Run the same sessions again">Rerun</button>') +
    '<button type="button" data-action="copy" title="Copy the transcript as text">Copy</button>' +
    '<button type="button" data-action="exportText" title="Save the transcript as a text file">Export text</button>' +
    '<button type="button" data-action="exportJson" title="Save the run as JSON">Export JSON</button></div>';
  const summary =
    `<dl class="summary">` +
    `<dt>Script</dt><dd>${escapeHtml(record.fileName)}</dd>` +
    `<dt>Started</dt><dd>${escapeHtml(formatTime(record.startedAt))}</dd>` +
    (record.environment ? `<dt>Environment</dt><dd>${escapeHtml(record.environment)}</dd>` : '') +
    `<dt>Sessions</dt><dd>${escapeHtml(sessionCounts(record))}</dd>` +
    `<dt>Duration</dt><dd>${escapeHtml(status === 'running' ? `${formatMs(record.durationMs)} so far` : formatMs(record.durationMs))}</dd>` +
    (rate ? `<dt>Throughput</dt><dd>${escapeHtml(`${rate.perSecond} messages per second (${rate.delivered} of ${rate.transactions} transactions in ${formatMs(rate.elapsedMs)})`)}</dd>` : '') +
    `</dl>`;
  const error = record.error ? `<div class="error-box">${escapeHtml(truncated(record.error, 8_000).text)}</div>` : '';
  const empty = sessions.length === 0 && !record.error ? `<p class="muted">${status === 'running' ? 'Waiting for the first session to finish…' : 'No session ran.'}</p>` : '';
  return toolbar + summary + error + empty + sessions.map((s, i) => sessionHtml(s, i)).join('');
}

/** The Content-Security-Policy of the panel document. */
export function transcriptCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
    "frame-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** Builds the complete panel document for a record. */
export function renderTranscriptHtml(record: RunRecord, opts: TranscriptHtmlOptions): string {
  const { cspSource, nonce } = opts;
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(nonce)) throw new Error('the nonce must be at least 16 base64 or hex characters');
  // VS Code's cspSource may hold several source expressions ("'self' https://*.vscode-cdn.net"), so
  // only what could end the directive or the attribute is refused.
  if (/[;,"<>\r\n]/.test(cspSource) || cspSource.trim() === '') throw new Error('the CSP source must be source expressions without ";", "," or quotes');
  const style = opts.styleUri
    ? `<link rel="stylesheet" nonce="${nonce}" href="${escapeAttr(opts.styleUri)}">`
    : `<style nonce="${nonce}">${TRANSCRIPT_CSS}</style>`;
  const script = opts.scriptUri ? `<script nonce="${nonce}" src="${escapeAttr(opts.scriptUri)}"></script>` : `<script nonce="${nonce}">${TRANSCRIPT_SCRIPT}</script>`;
  return [
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeAttr(transcriptCsp(cspSource, nonce))}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(transcriptTitle(record))}</title>`,
    style,
    `</head><body data-record-id="${escapeAttr(record.id)}" data-status="${statusOfRecord(record)}">`,
    `<main id="content">${renderTranscriptBody(record)}</main>`,
    script,
    '</body></html>',
  ].join('');
}

// ---------------------------------------------------------------------------------------------
// The panel's messages.

/** A message from the panel's script to the extension. */
export type WebviewMessage =
  | { type: 'reveal'; line: number }
  | { type: 'copy' | 'exportText' | 'exportJson' | 'rerun' }
  | { type: 'ready'; recordId: string; doc: string };

/** Checks a message from the webview; returns undefined for anything not understood. */
export function parseWebviewMessage(msg: unknown): WebviewMessage | undefined {
  if (typeof msg !== 'object' || msg === null) return undefined;
  const m = msg as Record<string, unknown>;
  switch (m.type) {
    case 'reveal':
      return typeof m.line === 'number' && Number.isInteger(m.line) && m.line >= 0 && m.line < 10_000_000 ? { type: 'reveal', line: m.line } : undefined;
    case 'copy':
    case 'exportText':
    case 'exportJson':
    case 'rerun':
      return { type: m.type };
    case 'ready':
      return { type: 'ready', recordId: typeof m.recordId === 'string' ? m.recordId : '', doc: typeof m.doc === 'string' ? m.doc : '' };
    default:
      return undefined;
  }
}

/** A file name for an export: the script's name, the start time and the extension. */
export function exportFileName(record: RunRecord, ext: 'txt' | 'json'): string {
  const base = String(record.fileName).replace(/\.smtp$/i, '').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80) || 'transcript';
  const time = String(record.startedAt).replace(/\.\d+Z$/, 'Z').replace(/[^0-9TZ]/g, '').slice(0, 16);
  return `${base}-${time || 'run'}.${ext}`;
}

// ---------------------------------------------------------------------------------------------
// Text and JSON export.

/** One event as `smtpwb run` prints it, with control characters made visible. */
export function formatEventText(event: TranscriptEvent): string {
  const time = `${typeof event.t === 'number' && Number.isFinite(event.t) ? event.t.toFixed(1).padStart(8) : '       ?'} ms`;
  const marker = TEXT_MARKERS[directionOf(event.dir)];
  const lines = visibleText(event.text).split('\n');
  const pad = ' '.repeat(time.length);
  return lines.map((line, i) => `${i === 0 ? time : pad} ${marker}${line}\n`).join('');
}

function stepText(s: StepResult): string {
  const reply = s.reply ? ` -> ${s.reply.code}${s.reply.enhanced ? ` ${s.reply.enhanced}` : ''}` : '';
  const expected = s.expected ? ` (expected ${s.expected})` : '';
  const message = s.message ? `: ${s.message}` : '';
  const line = isLine(s.line) ? `line ${String(s.line + 1).padEnd(4)}` : 'line ?   ';
  return visibleText(`  ${s.ok ? '✓' : '✗'} ${line} ${s.command}${reply}${expected}${message}`) + '\n';
}

/** The whole run as plain text: a header, then per session its details, steps and transcript. */
export function renderTranscriptText(record: RunRecord): string {
  const status = statusOfRecord(record);
  const out: string[] = [];
  const head = (k: string, v: string | undefined) => {
    if (v !== undefined && v !== '') out.push(visibleText(`${k.padEnd(12)} ${v}`) + '\n');
  };
  out.push(visibleText(`SMTP Workbench transcript: ${record.label}`) + '\n');
  head('Script:', `${record.fileName} (${record.uri})`);
  head('Started:', formatTime(record.startedAt));
  head('Environment:', record.environment);
  head('Status:', `${STATUS_TEXT[status]} (${sessionCounts(record)})`);
  head('Duration:', formatMs(record.durationMs));
  const rate = runRate(record);
  if (rate) head('Throughput:', `${rate.perSecond} messages per second (${rate.delivered} of ${rate.transactions} transactions in ${formatMs(rate.elapsedMs)})`);
  head('Error:', record.error);
  const sessions = Array.isArray(record.sessions) ? record.sessions : [];
  sessions.forEach((s, i) => {
    out.push('\n');
    const name = s.name ? ` [${s.name}]` : '';
    out.push(visibleText(`=== Session ${i + 1}: ${s.title}${name} (line ${isLine(s.line) ? s.line + 1 : '?'}): ${s.ok ? 'PASS' : 'FAIL'}`) + '\n');
    if (s.failure) head('Failure:', `${s.failure.kind}: ${s.failure.message}${isLine(s.failure.line) ? ` (line ${s.failure.line + 1})` : ''}`);
    head('Target:', targetText(s));
    head('Timings:', [`connect ${formatMs(s.timings?.connectMs)}`, `greeting ${formatMs(s.timings?.greetingMs)}`, `total ${formatMs(s.timings?.totalMs)}`].join(', '));
    head('Repeat:', repeatText(s));
    if (s.mx) {
      const m = s.mx;
      const candidates = (Array.isArray(m.candidates) ? m.candidates : []).map((c) => `${c.preference} ${c.host}${c.implicit ? ' (implicit)' : ''}`).join(', ');
      head('MX:', `${m.domain}: ${m.nullMx ? 'null MX (RFC 7505); ' : ''}${candidates || 'no candidates'}`);
      for (const a of Array.isArray(m.attempts) ? m.attempts : []) head('  tried', `${a.host} [${a.address}]:${a.port}${a.error ? `: ${a.error}` : ''}`);
      head('  chosen', m.chosen ? `${m.chosen.host} [${m.chosen.address}]:${m.chosen.port}` : 'none');
    }
    if (s.tls) {
      const t = s.tls;
      head('TLS:', `${t.mode}: ${t.protocol ?? 'unknown'} ${t.cipher}`);
      head('  subject', t.subject);
      head('  issuer', t.issuer);
      if (Array.isArray(t.subjectAltNames)) head('  names', t.subjectAltNames.join(', ') || '(none)');
      if (t.validFrom !== undefined || t.validTo !== undefined) head('  valid', `${t.validFrom ?? '?'} to ${t.validTo ?? '?'}`);
      head('  sha256', t.fingerprint256);
      head('  verified', verificationText(t));
    }
    const steps = Array.isArray(s.steps) ? s.steps : [];
    if (steps.length > 0) {
      out.push('--- Steps\n');
      for (const step of steps) out.push(stepText(step));
    }
    out.push('--- Transcript\n');
    for (const e of Array.isArray(s.transcript) ? s.transcript : []) out.push(formatEventText(e));
  });
  return out.join('');
}

/** The run as pretty-printed JSON (a `RunRecord`). */
export function transcriptJson(record: RunRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}
