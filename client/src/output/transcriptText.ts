/**
 * The one transcript formatter: how a run looks as text, for `smtpwb run` on a terminal, its JUnit
 * output, the editor's log channel, the Test Results terminal, and the transcript's copy and text
 * export. Each of them calls these functions; none formats events, verdicts or records itself.
 *
 * Everything in a transcript came from a server or from a script, so it is data: every string
 * that can hold peer or script text goes through `visibleText` or `visibleLine` (common/escape.ts),
 * which shows C0 controls other than tab and line feed, DEL, C1 controls (and so every ESC
 * sequence), lone surrogates and the bidi and zero-width characters as visible escapes (`\x1B`,
 * `\u202E`). Output of these functions is therefore safe to write to any terminal.
 *
 * The markers follow swaks: ` -> ` for what the client sent, `<-  ` for what the server answered,
 * `=== ` for TLS and notes, `*** ` for errors, each line with the milliseconds since the session
 * started. Pure: no `vscode`, no clock, no I/O. Records may come from disk (the history), so every
 * field is checked before it is trusted.
 */
import { formatMs } from '../../../common/duration';
import { visibleLine, visibleText } from '../../../common/escape';
import type { EventDirection, SessionResult, StepResult, TlsDetails, TranscriptEvent } from '../engine/types';
import type { RunRecord, RunStatus } from '../runs/runRecord';

/** Markers in text, one per direction, as swaks prints them. */
export const TEXT_MARKERS: Record<EventDirection, string> = { client: ' -> ', server: '<-  ', tls: '=== ', info: '=== ', error: '*** ' };

/** How each run status is named to a user (badges, exports). */
export const STATUS_TEXT: Record<RunStatus, string> = {
  running: 'Running…',
  passed: 'Passed',
  failed: 'Failed',
  cancelled: 'Cancelled',
  error: 'Error',
};

// ---------------------------------------------------------------------------------------------
// Checks of fields that may come from a stored (and possibly damaged) record.

/** A known event direction; anything else is shown as a note. */
export function directionOf(dir: unknown): EventDirection {
  return dir === 'client' || dir === 'server' || dir === 'tls' || dir === 'info' || dir === 'error' ? dir : 'info';
}

/** True for a 0-based script line. */
export function isLine(line: unknown): line is number {
  return typeof line === 'number' && Number.isInteger(line) && line >= 0;
}

/** The record's status, or `error` when the stored value is not a status. */
export function statusOfRecord(record: RunRecord): RunStatus {
  const s = record.status;
  return s === 'running' || s === 'passed' || s === 'failed' || s === 'cancelled' || s === 'error' ? s : 'error';
}

// ---------------------------------------------------------------------------------------------
// Texts derived from a record, shared by the text and HTML renderings. They are not escaped here:
// each rendering escapes them for its medium.

/** Formats an ISO time as `2026-11-23 04:42:01 UTC`, or returns it as it is when it is not a time. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** One line describing whether the certificate was verified, and why not. */
export function verificationText(t: TlsDetails): string {
  if (t.verified) return `verified${t.servername ? ` for ${t.servername}` : ''}`;
  const why = t.verifyError ?? 'unknown reason';
  return t.verifyDisabled ? `not verified (${why}); continued because verify=off` : `NOT verified (${why})`;
}

/** Where a session connected: `smtp://host:port [address]`, or undefined before it connected. */
export function targetText(s: SessionResult): string | undefined {
  const t = s.target;
  if (!t) return undefined;
  return `${t.scheme}://${t.host}:${t.port}${t.address && t.address !== t.host ? ` [${t.address}]` : ''}${t.lmtp ? ' (LMTP)' : ''}`;
}

/** The outcome of a `# @repeat` session, or undefined for a single transaction. */
export function repeatText(s: SessionResult): string | undefined {
  const r = s.repeat;
  if (!r) return undefined;
  return `${r.delivered} of ${r.transactions} transactions accepted in ${formatMs(r.elapsedMs)}: ${r.perSecond} messages per second`;
}

/** The throughput of a run's repeated sessions together, or undefined when none repeated. */
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

/** `2 passed, 1 failed, 1 not finished`. */
export function sessionCounts(record: RunRecord): string {
  const sessions = Array.isArray(record.sessions) ? record.sessions : [];
  const passed = sessions.filter((s) => s.ok).length;
  const failed = sessions.length - passed;
  const asked = Array.isArray(record.sessionIndexes) ? record.sessionIndexes.length : sessions.length;
  const parts = [`${passed} passed`, `${failed} failed`];
  if (asked > sessions.length) parts.push(`${asked - sessions.length} not finished`);
  return parts.join(', ');
}

// ---------------------------------------------------------------------------------------------
// Events, steps, verdicts.

/** The time column of an event: `    12.3 ms`. */
function eventTime(t: unknown): string {
  return `${typeof t === 'number' && Number.isFinite(t) ? t.toFixed(1).padStart(8) : '       ?'} ms`;
}

/**
 * One event as lines without line ends: the time and the marker, then the text made visible; a
 * multi-line text (a message body, a multi-line reply) gets the marker on every line. This is what
 * the editor's log channel writes, one entry per line.
 */
export function formatEventLines(event: TranscriptEvent): string[] {
  const time = eventTime(event.t);
  const marker = TEXT_MARKERS[directionOf(event.dir)];
  const pad = ' '.repeat(time.length);
  return visibleText(String(event.text ?? ''))
    .split('\n')
    .map((line, i) => `${i === 0 ? time : pad} ${marker}${line}`);
}

/** One event as `smtpwb run` prints it: `formatEventLines`, each line ended by `\n`. */
export function formatEvent(event: TranscriptEvent): string {
  return formatEventLines(event)
    .map((line) => `${line}\n`)
    .join('');
}

/** A whole transcript as text. */
export function formatTranscript(events: readonly TranscriptEvent[]): string {
  let out = '';
  for (const e of Array.isArray(events) ? events : []) out += formatEvent(e);
  return out;
}

/** One step: `  ✓ line 6    EHLO x -> 250 (expected 250)`, with its message when it has one. */
export function formatStep(s: StepResult): string {
  const reply = s.reply ? ` -> ${s.reply.code}${s.reply.enhanced ? ` ${s.reply.enhanced}` : ''}` : '';
  const expected = s.expected ? ` (expected ${s.expected})` : '';
  const message = s.message ? `: ${s.message}` : '';
  const line = isLine(s.line) ? `line ${String(s.line + 1).padEnd(4)}` : 'line ?   ';
  return visibleLine(`  ${s.ok ? '✓' : '✗'} ${line} ${s.command}${reply}${expected}${message}`) + '\n';
}

/** A session's title with its `# @name`, as one visible line. */
function sessionName(result: SessionResult): string {
  return visibleLine(result.name ? `${result.title} [${result.name}]` : String(result.title));
}

/** A one-line verdict for a session: `PASS title [name] (n steps, t)` or `FAIL title: kind: message (line n) (t)`. */
export function formatVerdict(result: SessionResult): string {
  const time = formatMs(result.timings?.totalMs);
  const rate = result.repeat ? `, ${result.repeat.delivered}/${result.repeat.transactions} transactions, ${result.repeat.perSecond} msgs/s` : '';
  const steps = Array.isArray(result.steps) ? result.steps.length : 0;
  if (result.ok) return `PASS ${sessionName(result)} (${steps} step${steps === 1 ? '' : 's'}, ${time}${rate})\n`;
  const where = isLine(result.failure?.line) ? ` (line ${result.failure.line + 1})` : '';
  const why = visibleLine(`${result.failure?.kind ?? 'failure'}: ${result.failure?.message ?? 'the session failed'}`);
  return `FAIL ${sessionName(result)}: ${why}${where} (${time}${rate})\n`;
}

/** The TLS summary of a session, or an empty string without TLS. */
export function formatTls(result: SessionResult): string {
  const t = result.tls;
  if (!t) return '';
  return `     ${visibleLine(`TLS ${t.mode}: ${t.protocol ?? 'unknown'} ${t.cipher}; certificate ${t.subject ?? '(none)'} issued by ${t.issuer ?? '?'}, ${verificationText(t)}`)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Whole records (the transcript's copy and text export).

/** The whole run as plain text: a header, then per session its details, steps and transcript. */
export function formatRecord(record: RunRecord): string {
  const status = statusOfRecord(record);
  const out: string[] = [];
  const head = (k: string, v: string | undefined) => {
    if (v !== undefined && v !== '') out.push(visibleLine(`${k.padEnd(12)} ${v}`) + '\n');
  };
  out.push(visibleLine(`SMTP Workbench transcript: ${record.label}`) + '\n');
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
    out.push(visibleLine(`=== Session ${i + 1}: ${s.title}${name} (line ${isLine(s.line) ? s.line + 1 : '?'}): ${s.ok ? 'PASS' : 'FAIL'}`) + '\n');
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
      for (const step of steps) out.push(formatStep(step));
    }
    out.push('--- Transcript\n');
    out.push(formatTranscript(s.transcript));
  });
  return out.join('');
}

// ---------------------------------------------------------------------------------------------
// Test output (the Test Results terminal).

/**
 * Text for the Test Results terminal: control characters made visible (so `ESC[31m` from a server
 * cannot colour later output) and every line ended by CRLF, which that terminal needs (a bare LF
 * only moves down, so a message body would print as a staircase). Idempotent on formatter output.
 */
export function formatForTestOutput(text: string): string {
  return visibleText(String(text)).replace(/\n/g, '\r\n');
}

/** One event as test output: `formatEvent`, with CRLF line ends. */
export function formatEventForTestOutput(event: TranscriptEvent): string {
  return formatForTestOutput(formatEvent(event));
}
