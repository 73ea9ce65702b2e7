/**
 * One run of one or more sessions, as the transcript panel shows it and the history keeps it.
 * Everything in a record is already masked: the engine masks secrets in every event and result,
 * and `maskRecord` masks again before a record is stored or exported, as a second line of defence.
 */
import type { SessionResult } from '../engine/types';
import { maskSecrets } from '../../../common/variables';

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
}

/** Masks every string in a record (a JSON round trip keeps it simple and total). */
export function maskRecord(record: RunRecord, secrets: readonly string[]): RunRecord {
  if (secrets.length === 0) return record;
  return JSON.parse(maskSecrets(JSON.stringify(record), secrets.map((s) => JSON.stringify(s).slice(1, -1)))) as RunRecord;
}

/** The status a finished run gets from its sessions. */
export function statusOf(sessions: SessionResult[]): RunStatus {
  if (sessions.some((s) => s.failure?.kind === 'cancelled')) return 'cancelled';
  return sessions.every((s) => s.ok) ? 'passed' : 'failed';
}
