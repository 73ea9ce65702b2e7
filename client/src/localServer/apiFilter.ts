/**
 * The query parameters of the capture API's message filters (GET /api/v1/messages and
 * GET /api/v1/wait, docs/capture-api.yaml) and the grammar of `since`: one home for the API, which
 * refuses what does not follow them (400), and `smtpwb inbox`, which refuses the same before it
 * calls the API (usage error). Pure: no I/O.
 */

/** The parameters GET /api/v1/messages knows. */
export const LIST_PARAMETERS = ['from', 'to', 'subject', 'since'] as const;
/** The parameters GET /api/v1/wait knows. */
export const WAIT_PARAMETERS = [...LIST_PARAMETERS, 'timeout'] as const;

/**
 * RFC 3339 §5.6 `date-time` with its offset (`Z` or `+hh:mm`): `2026-12-06T09:15:00Z`,
 * `2026-12-06T10:15:00.250+01:00`. A time without an offset would be read in the server's local
 * time, and other forms (`0`, `Dec 6 2026`) in ways that differ between parsers, so both are refused.
 */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/** The instant an RFC 3339 date-time names, or undefined when the text is not one (or names an impossible date). */
export function parseRfc3339(text: string): Date | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  // RFC 3339 §5.7: months 01-12, days within the month, hours 00-23, minutes 00-59, seconds 00-60
  // (60 for a leap second, read here as the next second); offsets at most 23:59.
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const offsetHours = m[9] === undefined ? 0 : Number(m[9]);
  const offsetMinutes = m[10] === undefined ? 0 : Number(m[10]);
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0${m[7]}`) * 1000);
  const sign = m[8] === '-' ? -1 : 1;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, fraction) - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  return new Date(utc);
}

/** Why `since` is refused: the one wording for the API's 400 and the CLI's usage error. */
export function sinceProblem(text: string): string | undefined {
  return parseRfc3339(text) === undefined ? `since must be an RFC 3339 date-time with an offset, such as 2026-12-06T09:15:00Z or 2026-12-06T10:15:00+01:00, not "${text}"` : undefined;
}

/** The first parameter a request gives that is not in `known`, or given twice; undefined when all are known and single. */
export function parameterProblem(params: URLSearchParams, known: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (!known.includes(name)) return `unknown query parameter "${name}" (known: ${known.join(', ')})`;
    if (seen.has(name)) return `the query parameter "${name}" is given twice`;
    seen.add(name);
  }
  return undefined;
}
