/**
 * The engine's monotonic clock, in milliseconds from an arbitrary origin, as `performance.now()`
 * gives, without loading `node:perf_hooks`: that module and what it pulls in cost a one-shot
 * `smtpwb run` 1–3 ms of its start-up, and a call of either clock costs the same (about 0.1 µs).
 */
export function monotonicMs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1000 + nanoseconds / 1e6;
}
