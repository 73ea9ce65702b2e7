// A very small test runner for the suite that runs inside the extension host. It has no
// dependencies, so that the same bundle runs under @vscode/test-electron and inside the harness
// extension in code-server, and reports results as plain JSON.

/** One test of the suite. */
export interface SuiteTest {
  name: string;
  fn: () => Promise<void> | void;
  timeoutMs: number;
}

/** The outcome of one test. */
export interface SuiteTestResult {
  name: string;
  ok: boolean;
  durationMs: number;
  error?: string;
}

/** The outcome of a whole run, as written to results.json. */
export interface SuiteReport {
  ok: boolean;
  passed: number;
  failed: number;
  durationMs: number;
  /** Where the suite ran: 'desktop' (test-electron) or 'code-server' (the harness). */
  host: string;
  startedAt: string;
  results: SuiteTestResult[];
}

/** Rejects after ms milliseconds with a message naming the test. */
function timeout(name: string, ms: number): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`test "${name}" timed out after ${ms} ms`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Runs tests one after the other and collects their results; never throws. */
export async function runTests(tests: readonly SuiteTest[], host: string, filter?: RegExp): Promise<SuiteReport> {
  const started = Date.now();
  const results: SuiteTestResult[] = [];
  for (const test of tests) {
    if (filter !== undefined && !filter.test(test.name)) continue;
    const t0 = Date.now();
    const limit = timeout(test.name, test.timeoutMs);
    try {
      await Promise.race([Promise.resolve().then(test.fn), limit.promise]);
      results.push({ name: test.name, ok: true, durationMs: Date.now() - t0 });
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      results.push({ name: test.name, ok: false, durationMs: Date.now() - t0, error: message });
    } finally {
      limit.cancel();
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  return {
    ok: failed === 0,
    passed: results.length - failed,
    failed,
    durationMs: Date.now() - started,
    host,
    startedAt: new Date(started).toISOString(),
    results,
  };
}

/** Formats a report as lines like the node:test spec reporter's, for logs. */
export function formatReport(report: SuiteReport): string {
  const lines = report.results.map((r) =>
    r.ok ? `  ✔ ${r.name} (${r.durationMs} ms)` : `  ✖ ${r.name} (${r.durationMs} ms)\n    ${(r.error ?? '').split('\n').join('\n    ')}`,
  );
  lines.push(`${report.passed} passed, ${report.failed} failed in ${report.durationMs} ms (${report.host})`);
  return lines.join('\n');
}

/** Polls until check() returns a value that is not undefined, or throws `message` after ms. */
export async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, ms: number, message: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
