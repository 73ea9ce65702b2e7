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

/**
 * Masks every string value in a record (never keys, numbers or booleans, so a short or numeric
 * secret cannot damage the record's structure).
 */
export function maskRecord(record: RunRecord, secrets: readonly string[]): RunRecord {
  const usable = secrets.filter((s) => s !== '');
  if (usable.length === 0) return record;
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return maskSecrets(value, usable);
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) out[key] = walk(child);
      return out;
    }
    return value;
  };
  return walk(record) as RunRecord;
}

/** The status a finished run gets from its sessions. */
export function statusOf(sessions: SessionResult[]): RunStatus {
  if (sessions.some((s) => s.failure?.kind === 'cancelled')) return 'cancelled';
  return sessions.every((s) => s.ok) ? 'passed' : 'failed';
}
