/**
 * Renders a run record for the transcript panel (HTML) and for JSON export; the clipboard and text
 * export use the one transcript formatter (output/transcriptText.ts), as `smtpwb run` does. Pure:
 * no `vscode`, no clock, no I/O, so tests can load the exact panel document in a real browser.
 *
 * Everything in a record came from a server or from the script and is treated as hostile: every
 * string goes through `markupText` (or `escapeAttr` inside attributes) before it reaches markup, and
 * control characters, bidirectional overrides and other invisible characters are shown as visible
 * marks so they can neither hide nor reorder text. Numbers that become attributes (script lines) are
 * checked to be non-negative integers. The document carries a strict Content-Security-Policy: no
 * default sources, styles and the one script only under the render's nonce, images and fonts only
 * from the webview's own resources, no frames, forms or base URL changes.
 */
import type { RunRecord } from '../runs/runRecord';
import type { ReplyInfo, SessionResult, StepResult, TlsDetails, MxDetails, TranscriptEvent, EventDirection } from '../engine/types';
import { formatMs } from '../../../common/duration';
import { escapeHtml, replaceInvisible } from '../../../common/escape';
import {
  STATUS_TEXT,
  directionOf,
  formatTime,
  isLine,
  repeatText,
  runRate,
  sessionCounts,
  statusOfRecord,
  targetText,
  verificationText,
} from '../output/transcriptText';
import { TRANSCRIPT_CSS, TRANSCRIPT_SCRIPT } from './media/transcriptAssets';

// The text export and the event formatter live in output/transcriptText.ts (the one transcript
// formatter); they are re-exported here for the panel glue, the run controller and the tests.
export { formatEvent as formatEventText, formatRecord as renderTranscriptText, formatTime, runRate, verificationText } from '../output/transcriptText';

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

/** Markers in the panel, one per direction (client, server, TLS, note, error). */
const HTML_MARKERS: Record<EventDirection, string> = { client: 'C:', server: 'S:', tls: '~', info: '*', error: '!' };
const DIRECTION_TITLES: Record<EventDirection, string> = { client: 'sent by the client', server: 'received from the server', tls: 'TLS', info: 'note', error: 'error' };

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

/**
 * Escapes text for element content (`escapeHtml` of common/escape.ts), and shows each invisible
 * character (C0 and C1 controls, ESC, bidi overrides, zero-width marks…) as a marked, visible
 * placeholder, so that it can neither hide nor reorder text.
 */
export function markupText(text: string): string {
  return replaceInvisible(escapeHtml(text), (ch) => `<span class="ctl" title="U+${hex(ch.charCodeAt(0), 4)}">${visible(ch)}</span>`);
}

/** Escapes text for a double-quoted attribute value; invisible characters become `\uXXXX`. */
export function escapeAttr(text: string): string {
  return replaceInvisible(escapeHtml(text), (ch) => `\\u${hex(ch.charCodeAt(0), 4)}`);
}

/** A button that reveals a script line (0-based in the record, 1-based on screen). */
function lineLink(line: unknown, text?: string): string {
  if (!isLine(line)) return '';
  return `<button type="button" class="line" data-line="${line}" title="Show line ${line + 1} in the script">${markupText(text ?? `line ${line + 1}`)}</button>`;
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

function replyText(reply: ReplyInfo | undefined): string {
  if (!reply) return '';
  const lines = Array.isArray(reply.lines) ? reply.lines.map(String) : [];
  return lines.length > 0 ? lines.join('\n') : `${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''}`;
}

function eventHtml(e: TranscriptEvent): string {
  const dir = directionOf(e.dir);
  const { text, cut } = truncated(e.text, MAX_EVENT_CHARS);
  const lines = text.split('\n');
  const time = `<span class="t">${markupText(formatMs(e.t))}</span><span class="m" title="${DIRECTION_TITLES[dir]}">${markupText(HTML_MARKERS[dir])}</span>`;
  if (lines.length > FOLD_LINES) {
    const bytes = typeof e.bytes === 'number' && e.bytes > 0 ? `, ${e.bytes.toLocaleString('en-US')} bytes` : '';
    return `<div class="ev ${dir}">${time}<details class="x"><summary>${markupText(lines[0])} <span class="muted">… ${lines.length.toLocaleString('en-US')} lines${bytes}</span></summary>${markupText(lines.slice(1).join('\n'))}${cutNote(cut)}</details></div>`;
  }
  return `<div class="ev ${dir}">${time}<span class="x">${markupText(text)}${cutNote(cut)}</span></div>`;
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
        `<td class="code">${markupText(command.text)}${cutNote(command.cut)}</td>` +
        `<td class="code">${markupText(s.expected ?? '—')}</td>` +
        `<td class="code">${markupText(reply.text)}${cutNote(reply.cut)}${further}</td>` +
        `<td>${message.text ? `<span class="${s.ok ? 'muted' : 'bad'}">${markupText(message.text)}${cutNote(message.cut)}</span>` : ''}</td>` +
        `<td class="num">${markupText(formatMs(s.durationMs))}</td></tr>`,
    );
    previous = i;
  }
  return `<h3>Steps</h3><table class="steps"><thead><tr><th></th><th>Line</th><th>Command</th><th>Expected</th><th>Reply</th><th>Result</th><th>Time</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function kv(rows: Array<[string, string | undefined]>): string {
  return `<dl class="kv">${rows
    .filter((r): r is [string, string] => r[1] !== undefined && r[1] !== '')
    .map(([k, v]) => `<dt>${markupText(k)}</dt><dd>${v}</dd>`)
    .join('')}</dl>`;
}

function tlsHtml(t: TlsDetails | undefined): string {
  if (!t) return '';
  const sans = Array.isArray(t.subjectAltNames) ? t.subjectAltNames.map(String) : undefined;
  const verified = `<span class="${t.verified ? 'ok' : 'bad'}">${markupText(verificationText(t))}</span>`;
  return `<div><h3>TLS</h3>${kv([
    ['Started', markupText(t.mode === 'implicit' ? 'implicitly (RFC 8314)' : 'with STARTTLS (RFC 3207)')],
    ['Protocol', markupText(t.protocol ?? 'unknown')],
    ['Cipher', markupText(t.cipher)],
    ['Server name', t.servername !== undefined ? markupText(t.servername) : undefined],
    ['Subject', t.subject !== undefined ? markupText(t.subject) : undefined],
    ['Issuer', t.issuer !== undefined ? markupText(t.issuer) : undefined],
    ['Names (SAN)', sans !== undefined ? (sans.length > 0 ? markupText(sans.join(', ')) : '<span class="muted">none</span>') : undefined],
    ['Valid', t.validFrom !== undefined || t.validTo !== undefined ? markupText(`${t.validFrom ?? '?'} — ${t.validTo ?? '?'}`) : undefined],
    ['SHA-256', t.fingerprint256 !== undefined ? `<span class="caps">${markupText(t.fingerprint256)}</span>` : undefined],
    ['Certificate', verified],
  ])}</div>`;
}

function mxHtml(mx: MxDetails | undefined): string {
  if (!mx) return '';
  const candidates = (Array.isArray(mx.candidates) ? [...mx.candidates] : []).sort((a, b) => a.preference - b.preference);
  const attempts = Array.isArray(mx.attempts) ? mx.attempts : [];
  const chosen = mx.chosen ? `<span class="ok">${markupText(`${mx.chosen.host} [${mx.chosen.address}]:${mx.chosen.port}`)}</span>` : '<span class="bad">none</span>';
  const list =
    candidates.length > 0
      ? `<ul class="plain">${candidates
          .map((c) => `<li>${markupText(`${c.preference} ${c.host}`)}${c.implicit ? ' <span class="muted">(implicit MX, RFC 5321 §5.1)</span>' : ''}</li>`)
          .join('')}</ul>`
      : '<span class="muted">none</span>';
  const tried =
    attempts.length > 0
      ? `<ul class="plain">${attempts
          .map((a) => `<li>${markupText(`${a.host} [${a.address}]:${a.port}`)}${a.error ? ` <span class="bad">${markupText(a.error)}</span>` : ' <span class="ok">connected</span>'}</li>`)
          .join('')}</ul>`
      : undefined;
  return `<div><h3>MX</h3>${kv([
    ['Domain', markupText(mx.domain)],
    ['Null MX', mx.nullMx ? '<span class="bad">yes: the domain accepts no mail (RFC 7505)</span>' : undefined],
    ['Candidates', list],
    ['Tried', tried],
    ['Chosen', chosen],
  ])}</div>`;
}

function capabilitiesHtml(s: SessionResult): string | undefined {
  const caps = s.capabilities;
  if (!caps || typeof caps.keywords !== 'object' || caps.keywords === null) return undefined;
  const entries = Object.entries(caps.keywords);
  if (entries.length === 0) return undefined;
  return `<span class="caps">${entries.map(([k, v]) => markupText(Array.isArray(v) && v.length > 0 ? `${k} ${v.join(' ')}` : k)).join(' · ')}</span>`;
}

function sessionHtml(s: SessionResult, index: number): string {
  const ok = s.ok === true;
  const name = s.name ? ` <span class="muted">[${markupText(s.name)}]</span>` : '';
  const failure = s.failure
    ? `<div class="error-box"><strong>${markupText(s.failure.kind)}</strong>: ${markupText(truncated(s.failure.message, 8_000).text)}${isLine(s.failure.line) ? ` (${lineLink(s.failure.line)})` : ''}</div>`
    : '';
  const overview = kv([
    ['Target', targetText(s) !== undefined ? markupText(targetText(s) ?? '') : undefined],
    ['Connect', s.timings?.connectMs !== undefined ? markupText(formatMs(s.timings.connectMs)) : undefined],
    ['Greeting', s.timings?.greetingMs !== undefined ? markupText(formatMs(s.timings.greetingMs)) : undefined],
    ['Total', markupText(formatMs(s.timings?.totalMs))],
    ['Repeat', repeatText(s) !== undefined ? markupText(repeatText(s) ?? '') : undefined],
    ['Extensions', capabilitiesHtml(s)],
  ]);
  const details = [`<div><h3>Session</h3>${overview}</div>`, mxHtml(s.mx), tlsHtml(s.tls)].filter((x) => x !== '').join('');
  return (
    `<section class="session ${ok ? 'passed' : 'failed'}" id="session-${index}">` +
    `<header><span class="mark" title="${ok ? 'passed' : 'failed'}">${ok ? '✓' : '✗'}</span><h2>${markupText(s.title)}${name}</h2>${lineLink(s.line)}</header>` +
    failure +
    `<div class="columns">${details}</div>` +
    stepsHtml(s.steps) +
    `<h3>Transcript</h3>${transcriptHtml(s.transcript)}` +
    `</section>`
  );
}

/** Whether a session of the run had a message accepted (a DATA or BDAT step with a 2xx reply). */
export function sentAMessage(record: RunRecord): boolean {
  const sessions = Array.isArray(record.sessions) ? record.sessions : [];
  return sessions.some((s) => Array.isArray(s.steps) && s.steps.some((step) => /^(DATA|BDAT)\b/i.test(String(step.command ?? '')) && step.reply !== undefined && step.reply.code >= 200 && step.reply.code < 300));
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
    `<div class="toolbar"><h1>${markupText(record.label)}</h1><span class="badge ${status}">${markupText(STATUS_TEXT[status])}</span><span class="spacer"></span>` +
    (status === 'running'
      ? '<button type="button" class="primary" data-action="cancel" title="End the session politely (QUIT) and stop the run">Cancel</button>'
      : '<button type="button" class="primary" data-action="rerun" title="Run the same sessions again">Rerun</button>') +
    '<button type="button" data-action="copy" title="Copy the transcript as text">Copy</button>' +
    '<button type="button" data-action="exportText" title="Save the transcript as a text file">Export text</button>' +
    '<button type="button" data-action="exportJson" title="Save the run as JSON">Export JSON</button>' +
    (status !== 'running' && sentAMessage(record)
      ? '<button type="button" data-action="checkBulk" title="Check the messages this run sent against the bulk-sender requirements of Gmail and Yahoo (TLS, reverse DNS, SPF, DKIM, DMARC, one-click unsubscribe)">Check bulk-sender requirements</button>'
      : '') +
    '</div>';
  const summary =
    `<dl class="summary">` +
    `<dt>Script</dt><dd>${markupText(record.fileName)}</dd>` +
    `<dt>Started</dt><dd>${markupText(formatTime(record.startedAt))}</dd>` +
    (record.environment ? `<dt>Environment</dt><dd>${markupText(record.environment)}</dd>` : '') +
    `<dt>Sessions</dt><dd>${markupText(sessionCounts(record))}</dd>` +
    `<dt>Duration</dt><dd>${markupText(status === 'running' ? `${formatMs(record.durationMs)} so far` : formatMs(record.durationMs))}</dd>` +
    (rate ? `<dt>Throughput</dt><dd>${markupText(`${rate.perSecond} messages per second (${rate.delivered} of ${rate.transactions} transactions in ${formatMs(rate.elapsedMs)})`)}</dd>` : '') +
    `</dl>`;
  const error = record.error ? `<div class="error-box">${markupText(truncated(record.error, 8_000).text)}</div>` : '';
  const current = status === 'running' && record.current && typeof record.current === 'object' ? record.current : undefined;
  const live = current
    ? `<section class="session running" id="session-live"><header><span class="mark" title="running">…</span><h2>${markupText(current.title)}</h2>${lineLink(current.line)}</header>` +
      `<h3>Transcript</h3>${transcriptHtml(Array.isArray(current.events) ? current.events : [])}</section>`
    : '';
  const empty =
    sessions.length === 0 && !record.error && !current ? `<p class="muted">${status === 'running' ? 'Waiting for the first session to start…' : 'No session ran.'}</p>` : '';
  return toolbar + summary + error + empty + sessions.map((s, i) => sessionHtml(s, i)).join('') + live;
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
    `<title>${markupText(transcriptTitle(record))}</title>`,
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
  | { type: 'copy' | 'exportText' | 'exportJson' | 'rerun' | 'cancel' | 'checkBulk' }
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
    case 'cancel':
    case 'checkBulk':
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
// JSON export (the text export is formatRecord in output/transcriptText.ts).

/** The run as pretty-printed JSON (a `RunRecord`). */
export function transcriptJson(record: RunRecord): string {
  // The session in progress is the live panel's only; an export holds finished sessions.
  const { current: _live, ...finished } = record;
  return `${JSON.stringify(finished, null, 2)}\n`;
}
