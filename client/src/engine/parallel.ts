/**
 * Runs N copies of a session at once (`smtpwb run --parallel N`) and reports the combined rate.
 */
import { monotonicMs } from './clock';
import { runSession } from './session';
import type { RunOptions, SessionPlan, SessionResult } from './types';

export interface ParallelResult {
  results: SessionResult[];
  ok: boolean;
  /** Messages accepted over all copies (each copy's repeat count, or 1 per successful copy). */
  messages: number;
  elapsedMs: number;
  perSecond: number;
}

/** Runs `copies` sessions concurrently; each copy gets its own transcript. */
export async function runParallel(plan: SessionPlan, options: RunOptions, copies: number): Promise<ParallelResult> {
  const now = options.io?.now ?? monotonicMs;
  const started = now();
  const n = Math.max(1, Math.floor(copies));
  const results = await Promise.all(Array.from({ length: n }, () => runSession(plan, options)));
  const elapsedMs = now() - started;
  let messages = 0;
  for (const r of results) messages += r.repeat ? r.repeat.delivered : r.ok && hasTransaction(plan) ? 1 : 0;
  return {
    results,
    ok: results.every((r) => r.ok),
    messages,
    elapsedMs: Math.round(elapsedMs * 1000) / 1000,
    perSecond: elapsedMs > 0 ? Math.round((messages * 1000 * 1000) / elapsedMs) / 1000 : 0,
  };
}

function hasTransaction(plan: SessionPlan): boolean {
  return plan.steps.some((s) => s.kind === 'data' || s.kind === 'bdat');
}
