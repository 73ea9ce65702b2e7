/**
 * Builds Problem objects whose severity comes from the catalogue, so every analyser of the `.eml`
 * service reports with the same defaults and only uses catalogued codes.
 */
import { OffsetRange, Problem, QuickFix, Severity } from '../../../common/problem';
import { findEmlProblem } from './emlProblems';

function mkProblem(code: string, range: OffsetRange, message: string, options?: { severity?: Severity; fixes?: QuickFix[] }): Problem {
  const severity = options?.severity ?? findEmlProblem(code)?.severity ?? 'warning';
  const problem: Problem = { code, severity, message, range: { start: range.start, end: Math.max(range.start, range.end) } };
  if (options?.fixes && options.fixes.length > 0) problem.fixes = options.fixes;
  return problem;
}

/** Collects problems, keeping at most a fixed number per code so a broken file cannot flood the editor. */
export class ProblemSink {
  readonly problems: Problem[] = [];
  private readonly counts = new Map<string, number>();
  constructor(private readonly perCodeLimit = 200) {}

  add(code: string, range: OffsetRange, message: string, options?: { severity?: Severity; fixes?: QuickFix[] }): void {
    const count = (this.counts.get(code) ?? 0) + 1;
    this.counts.set(code, count);
    if (count <= this.perCodeLimit) this.problems.push(mkProblem(code, range, message, options));
  }

  /** How many problems of a code were seen, including the ones over the limit. */
  count(code: string): number {
    return this.counts.get(code) ?? 0;
  }
}

let lastInternal: unknown;

/**
 * Records an error caught by an entry point that must not throw (lint, outline, folding, hover), so
 * the fuzzer can still detect it although the editor only sees an empty answer.
 */
export function noteInternalError(error: unknown): void {
  lastInternal = error;
}

/** Returns and clears the last internal error recorded by {@link noteInternalError}. */
export function takeInternalError(): unknown {
  const error = lastInternal;
  lastInternal = undefined;
  return error;
}
