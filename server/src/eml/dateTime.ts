/**
 * Parses and checks RFC 5322 §3.3 date-times: `[day-of-week ","] day month year hour ":" minute
 * [":" second] zone`, accepting the obsolete forms of §4.3 (two-digit years, named zones) with a note.
 */
import { OffsetRange } from '../../../common/problem';
import { ProblemSink } from './problems';
import { isSpecial, Token, tokenize } from './structured';

export interface DateTimeValue {
  /** The instant, in milliseconds since 1970-01-01 UTC. */
  epochMs: number;
  /** The zone offset written in the field, in minutes east of UTC. */
  offsetMinutes: number;
  range: OffsetRange;
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** The obsolete zone names of RFC 5322 §4.3 with their offsets in hours. */
const OBS_ZONES: Record<string, number> = { ut: 0, gmt: 0, z: 0, edt: -4, est: -5, cdt: -5, cst: -6, mdt: -6, mst: -7, pdt: -7, pst: -8 };

function isDigits(s: string, min: number, max: number): boolean {
  if (s.length < min || s.length > max) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/**
 * Parses a date-time in `text[start, end)`. With a sink, problems are reported; the value is returned
 * when the date-time could be understood, even with warnings.
 */
export function parseDateTime(text: string, start: number, end: number, sink?: ProblemSink): DateTimeValue | undefined {
  const { tokens, error } = tokenize(text, start, end);
  const all: OffsetRange = tokens.length > 0 ? { start: tokens[0].start, end: tokens[tokens.length - 1].end } : { start, end };
  const syntax = (range: OffsetRange, message: string): undefined => {
    sink?.add('eml-date-syntax', range, `${message} Expected a date-time such as \`Mon, 23 Nov 2026 09:15:00 +0100\` (RFC 5322 §3.3).`);
    return undefined;
  };
  if (error) return syntax(error, error.message);
  if (tokens.length === 0) return syntax({ start, end }, 'The date is empty.');
  const word = (t: Token | undefined): string => (t ? text.slice(t.start, t.end) : '');
  if (/^\d{4}-\d{2}-\d{2}/.test(text.slice(all.start, all.start + 10))) {
    return syntax(all, 'This is an ISO 8601 date, which mail does not use.');
  }
  let i = 0;
  let weekday: Token | undefined;
  if (tokens[0].kind === 'atom' && /^[A-Za-z]+$/.test(word(tokens[0]))) {
    weekday = tokens[0];
    if (!DAYS.includes(word(weekday).toLowerCase())) return syntax(weekday, `\`${word(weekday)}\` is not a day of the week (Mon … Sun).`);
    if (!isSpecial(text, tokens[1], ',')) return syntax(weekday, 'The day of the week must be followed by a comma.');
    i = 2;
  }
  const dayT = tokens[i];
  const monthT = tokens[i + 1];
  const yearT = tokens[i + 2];
  if (!dayT || !isDigits(word(dayT), 1, 2)) return syntax(dayT ?? all, 'Expected the day of the month (1 or 2 digits).');
  if (!monthT || !MONTHS.includes(word(monthT).toLowerCase())) return syntax(monthT ?? dayT, 'Expected a month name (Jan … Dec).');
  if (!yearT || !isDigits(word(yearT), 2, 4)) return syntax(yearT ?? monthT, 'Expected a year of four digits.');
  const hourT = tokens[i + 3];
  const minuteT = tokens[i + 5];
  if (!hourT || !isDigits(word(hourT), 2, 2) || !isSpecial(text, tokens[i + 4], ':') || !minuteT || !isDigits(word(minuteT), 2, 2)) {
    return syntax(hourT ?? yearT, 'Expected the time as `hh:mm` or `hh:mm:ss` with two digits each.');
  }
  let k = i + 6;
  let secondT: Token | undefined;
  if (isSpecial(text, tokens[k], ':')) {
    secondT = tokens[k + 1];
    if (!secondT || !isDigits(word(secondT), 2, 2)) return syntax(secondT ?? tokens[k], 'Expected two digits of seconds.');
    k += 2;
  }
  const zoneT = tokens[k];
  if (!zoneT) return syntax({ start: tokens[k - 1].start, end: tokens[k - 1].end }, 'The zone (such as `+0000`) is missing.');
  let offsetMinutes: number;
  const zone = word(zoneT);
  let obsolete: string | undefined;
  if (/^[+-]\d{4}$/.test(zone)) {
    const hh = Number(zone.slice(1, 3));
    const mm = Number(zone.slice(3, 5));
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (hh * 60 + mm);
    if (mm > 59 || hh > 14) {
      sink?.add('eml-date-zone', zoneT, `Zone \`${zone}\` is not a real offset: offsets run from -1200 to +1400 with minutes 00 to 59 (RFC 5322 §3.3).`);
    }
  } else if (OBS_ZONES[zone.toLowerCase()] !== undefined) {
    offsetMinutes = OBS_ZONES[zone.toLowerCase()] * 60;
    obsolete = `Zone name \`${zone}\` is obsolete (RFC 5322 §4.3); write a numeric offset such as \`${formatOffset(offsetMinutes)}\`.`;
  } else if (/^[A-IK-Za-ik-z]$/.test(zone)) {
    // Military zones are obsolete and their meaning was reversed in RFC 822; §4.3 treats them as -0000.
    offsetMinutes = 0;
    obsolete = `Military zone \`${zone}\` is obsolete and ambiguous (RFC 5322 §4.3); write a numeric offset.`;
  } else {
    return syntax(zoneT, `\`${zone}\` is not a zone; write \`+hhmm\` or \`-hhmm\` (four digits).`);
  }
  if (k + 1 < tokens.length) {
    return syntax({ start: tokens[k + 1].start, end: tokens[tokens.length - 1].end }, 'Unexpected text after the zone.');
  }
  let year = Number(word(yearT));
  if (word(yearT).length < 4) {
    // Two-digit years: 00–49 are 2000–2049, 50–99 are 1950–1999; three digits add 1900 (RFC 5322 §4.3).
    year = word(yearT).length === 2 ? (year < 50 ? 2000 + year : 1900 + year) : 1900 + year;
    obsolete ??= `A ${word(yearT).length}-digit year is obsolete (RFC 5322 §4.3); write ${year}.`;
  }
  const month = MONTHS.indexOf(word(monthT).toLowerCase());
  const day = Number(word(dayT));
  const hour = Number(word(hourT));
  const minute = Number(word(minuteT));
  const second = secondT ? Number(word(secondT)) : 0;
  if (year < 1900) {
    // RFC 5322 §3.3: the year is any numeric year 1900 or later.
    sink?.add('eml-date-invalid', yearT, `The year ${year} is before 1900, which RFC 5322 §3.3 does not allow.`);
    return undefined;
  }
  if (day < 1 || day > daysInMonth(year, month)) {
    sink?.add('eml-date-invalid', { start: dayT.start, end: yearT.end }, `${word(monthT)} ${year} has no day ${day}.`);
    return undefined;
  }
  if (hour > 23 || minute > 59 || second > 60) {
    sink?.add('eml-date-invalid', { start: hourT.start, end: (secondT ?? minuteT).end }, 'The time is impossible: hours run 00–23, minutes 00–59 and seconds 00–60 (RFC 5322 §3.3).');
    return undefined;
  }
  const epochMs = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offsetMinutes * 60000;
  if (weekday) {
    // The day of the week is that of the local date written, not of the UTC instant (RFC 5322 §3.3).
    const actual = new Date(Date.UTC(year, month, day)).getUTCDay();
    if (DAYS.indexOf(word(weekday).toLowerCase()) !== actual) {
      sink?.add('eml-date-weekday', weekday, `${day} ${word(monthT)} ${year} is a ${DAY_NAMES[actual]}, not a ${word(weekday)} (RFC 5322 §3.3).`, {
        fixes: [{ title: `Change to ${DAY_NAMES[actual]}`, edits: [{ range: { start: weekday.start, end: weekday.end }, newText: DAY_NAMES[actual] }], preferred: true }],
      });
    }
  }
  if (obsolete) sink?.add('eml-date-obsolete', { start: all.start, end: all.end }, obsolete);
  return { epochMs, offsetMinutes, range: all };
}

export function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
}
