/**
 * The one cap on how many problems of one kind a line may list. A crafted line (a RAW line of
 * 100,000 unknown escapes, a recipient of 10,000 undefined `{{x}}` references, a body line of
 * replacement characters) would otherwise make as many diagnostics, and sending and drawing them
 * stalls the editor. The language service applies the cap to the final list of every document it
 * lints (parser and analyser problems of `.smtp` scripts, `.eml` messages, reports, rules files),
 * which is the list the language server publishes and `smtpwb lint` prints.
 */
import type { Problem } from '../../common/problem';

/**
 * At most this many problems of one code are listed for one line; the rest are counted in one more
 * problem of that code (see capProblemsPerLine).
 */
export const PROBLEMS_PER_LINE = 10;

interface Summary {
  /** Where the summary stands in the kept list: in the place of the first problem left out. */
  at: number;
  start: number;
  end: number;
  omitted: number;
}

/**
 * Caps a list of problems: of each code on each line (the line of a problem's start, as `lineOf`
 * gives it), the first PROBLEMS_PER_LINE stay as they are, and the rest become one problem of that
 * code and severity, in the place of the first one left out, that covers them all and says how many
 * there are. It offers no quick fix: it stands for many problems, not one. The order is kept. Linear
 * in the number of problems (plus `lineOf` for the codes that occur more than PROBLEMS_PER_LINE
 * times at all); a list with nothing to cap is returned as it is.
 */
export function capProblemsPerLine(problems: Problem[], lineOf: (offset: number) => number): Problem[] {
  if (problems.length <= PROBLEMS_PER_LINE) return problems;
  // Only a code with more problems than the cap in the whole document can have too many on a line.
  const perCode = new Map<string, number>();
  let crowded = false;
  for (const p of problems) {
    const n = (perCode.get(p.code) ?? 0) + 1;
    perCode.set(p.code, n);
    if (n > PROBLEMS_PER_LINE) crowded = true;
  }
  if (!crowded) return problems;
  const counts = new Map<string, { count: number; summary?: Summary }>();
  const kept: Problem[] = [];
  for (const p of problems) {
    if ((perCode.get(p.code) ?? 0) <= PROBLEMS_PER_LINE) {
      kept.push(p);
      continue;
    }
    const key = `${lineOf(p.range.start)} ${p.code}`;
    let seen = counts.get(key);
    if (!seen) counts.set(key, (seen = { count: 0 }));
    seen.count++;
    if (seen.count <= PROBLEMS_PER_LINE) {
      kept.push(p);
    } else if (!seen.summary) {
      seen.summary = { at: kept.length, start: p.range.start, end: p.range.end, omitted: 1 };
      kept.push(p);
    } else {
      seen.summary.end = Math.max(seen.summary.end, p.range.end);
      seen.summary.omitted++;
    }
  }
  for (const { summary } of counts.values()) {
    if (!summary) continue;
    const like = kept[summary.at];
    const more = summary.omitted.toLocaleString('en-US');
    const capped: Problem = {
      code: like.code,
      severity: like.severity,
      message: `…and ${more} more problem${summary.omitted === 1 ? '' : 's'} like the ones before on this line (only the first ${PROBLEMS_PER_LINE} of a kind are listed)`,
      range: { start: summary.start, end: summary.end },
    };
    if (like.tags) capped.tags = like.tags;
    kept[summary.at] = capped;
  }
  return kept;
}
