import type { TimeUnit } from './ast.js';

/** All PQL calendar arithmetic is in UTC. */
export const DAY_MS = 86_400_000;

const FIXED_MS: Partial<Record<TimeUnit, number>> = {
  millisecond: 1,
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: DAY_MS,
  week: 7 * DAY_MS,
};

const MONTHS_PER: Partial<Record<TimeUnit, number>> = {
  month: 1,
  year: 12,
  decade: 120,
  century: 1_200,
  millennium: 12_000,
};

/** Unit words accepted by PQL, singular and plural. */
export const UNIT_WORDS: ReadonlyMap<string, TimeUnit> = new Map([
  ['millisecond', 'millisecond'],
  ['milliseconds', 'millisecond'],
  ['second', 'second'],
  ['seconds', 'second'],
  ['minute', 'minute'],
  ['minutes', 'minute'],
  ['hour', 'hour'],
  ['hours', 'hour'],
  ['day', 'day'],
  ['days', 'day'],
  ['week', 'week'],
  ['weeks', 'week'],
  ['month', 'month'],
  ['months', 'month'],
  ['year', 'year'],
  ['years', 'year'],
  ['decade', 'decade'],
  ['decades', 'decade'],
  ['century', 'century'],
  ['centuries', 'century'],
  ['millennium', 'millennium'],
  ['millennia', 'millennium'],
]);

export function daysInMonth(year: number, month1: number): number {
  return new Date(Date.UTC(year, month1, 0)).getUTCDate();
}

/** `Date.UTC` that also works for years 0–99 (which `Date.UTC` maps to 1900–1999). */
export function utc(
  year: number,
  month0: number,
  day = 1,
  hour = 0,
  minute = 0,
  second = 0,
  ms = 0,
): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month0, day);
  d.setUTCHours(hour, minute, second, ms);
  return d.getTime();
}

/**
 * Adds `amount` units to `ms`. Months and longer are calendar months; the day
 * of month is clamped (Jan 31 + 1 month = Feb 28/29).
 */
export function shift(ms: number, unit: TimeUnit, amount: number): number {
  const fixed = FIXED_MS[unit];
  if (fixed !== undefined) return ms + amount * fixed;
  const months = (MONTHS_PER[unit] ?? 0) * amount;
  const d = new Date(ms);
  const total = d.getUTCFullYear() * 12 + d.getUTCMonth() + months;
  const year = Math.floor(total / 12);
  const month0 = total - year * 12;
  const day = Math.min(d.getUTCDate(), daysInMonth(year, month0 + 1));
  return utc(
    year,
    month0,
    day,
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    d.getUTCMilliseconds(),
  );
}

/** Start of the `unit` period containing `ms` (weeks start on Monday, ISO). */
export function truncate(ms: number, unit: TimeUnit): number {
  const fixed = FIXED_MS[unit];
  if (fixed !== undefined && unit !== 'week') {
    return Math.floor(ms / fixed) * fixed;
  }
  if (unit === 'week') {
    const dayStart = Math.floor(ms / DAY_MS) * DAY_MS;
    const weekday = (new Date(dayStart).getUTCDay() + 6) % 7;
    return dayStart - weekday * DAY_MS;
  }
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  switch (unit) {
    case 'month':
      return utc(year, d.getUTCMonth());
    case 'year':
      return utc(year, 0);
    case 'decade':
      return utc(year - mod(year, 10), 0);
    case 'century':
      return utc(year - mod(year, 100), 0);
    default:
      return utc(year - mod(year, 1000), 0);
  }
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Epoch ms of an ISO-8601 date (`2020-03-14`) or date-time
 * (`2020-03-14T10:00:00Z`, `…+01:00`); a date-time without an offset is UTC.
 * Anything else (including numbers) gives NaN, so it compares as false.
 */
export function parseIsoDate(value: unknown): number {
  if (typeof value !== 'string' || value.length > 40) return NaN;
  const m = ISO_DATE.exec(value);
  if (m === null) return NaN;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return NaN;
  }
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (hour > 23 || minute > 59 || second > 59) return NaN;
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  let result = utc(year, month - 1, day, hour, minute, second, ms);
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
    result -= sign * offsetMin * 60_000;
  }
  return result;
}
