/**
 * One run of one or more sessions, as the transcript panel shows it and the history keeps it.
 * Everything in a record is already masked: the engine masks secrets in its events and result, and
 * `maskRecord` masks again before a record is stored or exported, as a second line of defence.
 * Both mask only where secret bytes can appear (common/masking.ts); the status, titles, ids, codes,
 * counts and timings of a record are never rewritten.
 */
import { Masker } from '../../../common/masking';
import { maskEvent, maskResult } from '../engine/mask';
import type { SessionResult, TranscriptEvent } from '../engine/types';

export type RunStatus = 'running' | 'passed' | 'failed' | 'cancelled' | 'error';

export interface RunRecord {
  /** A unique id (a UUID). */
  id: string;
  /** ISO 8601 time the run started. */
  startedAt: string;
  /** The script's URI (file:…) and a short display name. */
  uri: string;
  fileName: string;
  /** What was run: one session's title, or "All sessions". */
  label: string;
  /** The sessions asked for, so the run can be repeated: indexes into the script's sessions. */
  sessionIndexes: number[];
  status: RunStatus;
  /** Results of the sessions finished so far, in order. */
  sessions: SessionResult[];
  durationMs: number;
  /** A message for status 'error' (the script could not be run: variables, parse errors…). */
  error?: string;
  /** The environment selected when it ran. */
  environment?: string;
  /** The session in progress (status `running` only; never stored or exported). */
  current?: LiveSession;
}

/** The session that is running now, with its events so far (already masked). */
export interface LiveSession {
  index: number;
  title: string;
  line: number;
  events: TranscriptEvent[];
}

/**
 * A copy of a record with its secrets masked (with their base64 forms) in the sessions' free text
 * (`maskResult`) and in the run's error message. Everything else is kept as it is.
 */
export function maskRecord(record: RunRecord, secrets: readonly string[]): RunRecord {
  const masker = new Masker(secrets.filter((s) => typeof s === 'string' && s !== ''));
  if (!masker.active) return record;
  const out: RunRecord = { ...record, sessions: Array.isArray(record.sessions) ? record.sessions.map((s) => maskResult(s, masker)) : record.sessions };
  if (record.current && Array.isArray(record.current.events)) {
    out.current = { ...record.current, events: record.current.events.map((e) => maskEvent(e, masker)) };
  }
  if (typeof record.error === 'string') out.error = masker.mask(record.error, 'note');
  return out;
}

/** The status a finished run gets from its sessions. */
export function statusOf(sessions: SessionResult[]): RunStatus {
  if (sessions.some((s) => s.failure?.kind === 'cancelled')) return 'cancelled';
  return sessions.every((s) => s.ok) ? 'passed' : 'failed';
}
