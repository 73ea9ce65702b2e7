/**
 * Formats engine transcripts for the terminal, in the spirit of swaks: ` -> ` for what the client
 * sent, `<-  ` for what the server answered, `=== ` for TLS and notes, `*** ` for errors, each line
 * with the milliseconds since the session started.
 */
import type { SessionResult, TranscriptEvent } from '../engine/types';

const MARKERS: Record<TranscriptEvent['dir'], string> = {
  client: ' -> ',
  server: '<-  ',
  tls: '=== ',
  info: '=== ',
  error: '*** ',
};

/** Formats one event; multi-line text (a message body) gets the marker on every line. */
export function formatEvent(event: TranscriptEvent): string {
  const time = `${event.t.toFixed(1).padStart(8)} ms`;
  const marker = MARKERS[event.dir];
  const lines = event.text.split('\n');
  if (lines.length === 1) return `${time} ${marker}${event.text}\n`;
  const pad = ' '.repeat(time.length);
  return lines.map((line, i) => `${i === 0 ? time : pad} ${marker}${line}\n`).join('');
}

export function formatTranscript(events: readonly TranscriptEvent[]): string {
  let out = '';
  for (const e of events) out += formatEvent(e);
  return out;
}

/** A one-line verdict for a session: `PASS title (n steps, t ms)` or `FAIL title: kind: message`. */
export function formatVerdict(result: SessionResult): string {
  const name = result.name ? `${result.title} [${result.name}]` : result.title;
  const ms = `${result.timings.totalMs.toFixed(0)} ms`;
  const rate = result.repeat ? `, ${result.repeat.delivered}/${result.repeat.transactions} transactions, ${result.repeat.perSecond} msgs/s` : '';
  if (result.ok) return `PASS ${name} (${result.steps.length} steps, ${ms}${rate})\n`;
  const where = result.failure?.line !== undefined ? ` (line ${result.failure.line + 1})` : '';
  return `FAIL ${name}: ${result.failure?.kind}: ${result.failure?.message}${where} (${ms}${rate})\n`;
}

/** The TLS summary of a session, or an empty string without TLS. */
export function formatTls(result: SessionResult): string {
  const t = result.tls;
  if (!t) return '';
  const verified = t.verified ? 'verified' : t.verifyDisabled ? `not verified (${t.verifyError}; verify=off)` : `NOT verified (${t.verifyError})`;
  return `     TLS ${t.mode}: ${t.protocol} ${t.cipher}; certificate ${t.subject ?? '(none)'} issued by ${t.issuer ?? '?'}, ${verified}\n`;
}
