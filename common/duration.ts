/**
 * The one home of duration formatting, for engine messages ("no reply within 400 ms"), transcripts,
 * exports, history and the terminal. Pure: no I/O.
 */

/**
 * Formats milliseconds compactly, without trailing zeros: `0.4 ms`, `400 ms`, `12.3 ms`, `1.5 s`,
 * `1.234 s`, `30 s`, `2 min 5 s`, `2 min 5.5 s`; `—` for a missing or non-finite value.
 */
export function formatMs(ms: number | undefined): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  // Rounding decides the unit, so 999.96 ms shows as `1 s`, not `1000 ms`.
  const tenths = Math.round(abs * 10) / 10;
  if (tenths < 1000) return `${sign}${tenths} ms`;
  const thousandths = Math.round(abs) / 1000;
  if (thousandths < 60) return `${sign}${thousandths} s`;
  const tenthsOfSecond = Math.round(abs / 100);
  const minutes = Math.floor(tenthsOfSecond / 600);
  const seconds = (tenthsOfSecond - minutes * 600) / 10;
  return `${sign}${minutes} min ${seconds} s`;
}
