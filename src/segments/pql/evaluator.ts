import type {
  ArrayLiteralNode,
  CompareOp,
  OccursSpec,
  PqlNode,
  PqlValueNode,
  ScalarLiteralNode,
  TimeNode,
} from './ast.js';
import { EVALUATION_BUDGET } from './limits.js';
import type { LinearMatcher } from './regex.js';
import { DAY_MS, parseIsoDate, shift, truncate } from './time.js';

/**
 * A time value during evaluation: the half-open interval `[start, end)`.
 * `now` and `date(...)` with a time are one millisecond wide; `today`,
 * `yesterday`, `tomorrow` and `date(y, m, d)` are whole UTC days.
 */
class Interval {
  constructor(
    readonly start: number,
    readonly end: number,
  ) {}
}

interface Context {
  profile: Record<string, unknown>;
  nowMs: number;
  /** Work left for this evaluation; see `EVALUATION_BUDGET`. */
  budget: number;
}

/**
 * Budget units per piece of work, each about a nanosecond on one core (for
 * the worst inputs measured): an RE2 step, a character compared by a string
 * function, an array element compared by `includes`, looked up by
 * `intersects`, or parsed as an ISO date against date literals.
 */
const COST_PER_RE2_STEP = 2;
const COST_PER_CHAR = 5;
const COST_PER_INCLUDES_ELEMENT = 15;
const COST_PER_LOOKUP_ELEMENT = 35;
const COST_PER_DATE_ELEMENT = 850;

/** Spends `cost` units of the evaluation's budget; false (nothing spent) if it would run out. */
function spend(ctx: Context, cost: number): boolean {
  if (cost > ctx.budget) return false;
  ctx.budget -= cost;
  return true;
}

function testPattern(
  matcher: LinearMatcher,
  value: string,
  ctx: Context,
): boolean {
  // RE2 takes at most `cost` steps per character (plus a constant).
  return (
    spend(ctx, (value.length + 1) * matcher.cost * COST_PER_RE2_STEP) &&
    matcher.test(value)
  );
}

function readPath(
  profile: Record<string, unknown>,
  segments: readonly string[],
): unknown {
  let current: unknown = profile;
  for (const segment of segments) {
    if (
      current === null ||
      typeof current !== 'object' ||
      Array.isArray(current) ||
      !Object.hasOwn(current, segment)
    ) {
      return undefined;
    }
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function timeInterval(node: TimeNode, nowMs: number): Interval {
  if (node.kind === 'date') return new Interval(node.startMs, node.endMs);
  if (node.word === 'now') return new Interval(nowMs, nowMs + 1);
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const offset =
    node.word === 'yesterday' ? -DAY_MS : node.word === 'tomorrow' ? DAY_MS : 0;
  return new Interval(today + offset, today + offset + DAY_MS);
}

function valueOf(
  node: PqlValueNode | ScalarLiteralNode,
  ctx: Context,
): unknown {
  switch (node.kind) {
    case 'path':
      return readPath(ctx.profile, node.segments);
    case 'string':
    case 'number':
    case 'boolean':
      return node.value;
    case 'date':
    case 'relativeTime':
      return timeInterval(node, ctx.nowMs);
  }
}

const FLIPPED: Readonly<Record<CompareOp, CompareOp>> = {
  '=': '=',
  '!=': '!=',
  '<': '>',
  '<=': '>=',
  '>': '<',
  '>=': '<=',
};

function compareOrdered(
  op: CompareOp,
  a: number | string,
  b: number | string,
): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

/** An instant `t` against the interval `[i.start, i.end)`. */
function compareToInterval(op: CompareOp, t: number, i: Interval): boolean {
  if (Number.isNaN(t) || Number.isNaN(i.start)) return false;
  switch (op) {
    case '=':
      return t >= i.start && t < i.end;
    case '!=':
      return t < i.start || t >= i.end;
    case '<':
      return t < i.start;
    case '<=':
      return t < i.end;
    case '>':
      return t >= i.end;
    case '>=':
      return t >= i.start;
  }
}

/**
 * The one comparison used by `=`…`>=`, `in`, `includes` and `intersects`.
 * null/undefined on either side → false; numbers with numbers, strings with
 * strings (code-unit order), booleans only by `=`/`!=`; a time literal against
 * an ISO-8601 string. Any other mix → false, for every operator.
 */
function compareValues(op: CompareOp, a: unknown, b: unknown): boolean {
  if (a === null || a === undefined || b === null || b === undefined) {
    return false;
  }
  if (b instanceof Interval) {
    const t = a instanceof Interval ? a.start : parseIsoDate(a);
    return compareToInterval(op, t, b);
  }
  if (a instanceof Interval) return compareValues(FLIPPED[op], b, a);
  const ta = typeof a;
  if (ta !== typeof b) return false;
  if (ta === 'number' || ta === 'string') {
    return compareOrdered(op, a as number | string, b as number | string);
  }
  if (ta === 'boolean') {
    if (op === '=') return a === b;
    if (op === '!=') return a !== b;
  }
  return false;
}

/**
 * An array literal prepared for membership tests on profile values: strings,
 * numbers and booleans in a Set, date literals as sorted disjoint intervals,
 * so a test costs O(log n) however long the list (profile arrays can be long).
 */
interface ListLookup {
  scalars: ReadonlySet<unknown>;
  /** Sorted, disjoint `[start, end)` intervals (epoch ms). */
  intervals: readonly { start: number; end: number }[];
}

const lookups = new WeakMap<ArrayLiteralNode, ListLookup>();

function lookupOf(list: ArrayLiteralNode): ListLookup {
  let lookup = lookups.get(list);
  if (lookup !== undefined) return lookup;
  const scalars = new Set<unknown>();
  const dates: { start: number; end: number }[] = [];
  for (const item of list.items) {
    if (item.kind === 'date')
      dates.push({ start: item.startMs, end: item.endMs });
    else scalars.add(item.value);
  }
  dates.sort((a, b) => a.start - b.start);
  const intervals: { start: number; end: number }[] = [];
  for (const d of dates) {
    const last = intervals[intervals.length - 1];
    if (last !== undefined && d.start <= last.end) {
      last.end = Math.max(last.end, d.end);
    } else {
      intervals.push({ ...d });
    }
  }
  lookup = { scalars, intervals };
  lookups.set(list, lookup);
  return lookup;
}

function inIntervals(
  t: number,
  intervals: readonly { start: number; end: number }[],
): boolean {
  if (Number.isNaN(t)) return false;
  let lo = 0;
  let hi = intervals.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const i = intervals[mid];
    if (t < i.start) hi = mid - 1;
    else if (t >= i.end) lo = mid + 1;
    else return true;
  }
  return false;
}

/**
 * `value` equal to an item of `list` by `compareValues('=')`: a string,
 * number or boolean equal to a literal of its own type, or a time inside a
 * date literal's interval.
 */
function inList(value: unknown, list: ArrayLiteralNode, ctx: Context): boolean {
  if (value === null || value === undefined) return false;
  if (value instanceof Interval) {
    // A relative time (`today in [...]`): rare and literal-only, so the plain scan.
    for (const item of list.items) {
      if (compareValues('=', value, valueOf(item, ctx))) return true;
    }
    return false;
  }
  return inLookup(value, lookupOf(list));
}

/** `value` (a profile value, never a relative time) in a prepared list. */
function inLookup(value: unknown, lookup: ListLookup): boolean {
  const t = typeof value;
  if (
    (t === 'string' || t === 'number' || t === 'boolean') &&
    lookup.scalars.has(value)
  ) {
    return true;
  }
  return (
    lookup.intervals.length > 0 &&
    inIntervals(parseIsoDate(value), lookup.intervals)
  );
}

function stringFunction(fn: string, haystack: string, needle: string): boolean {
  switch (fn) {
    case 'startsWith':
      return haystack.startsWith(needle);
    case 'endsWith':
      return haystack.endsWith(needle);
    case 'contains':
      return haystack.includes(needle);
    case 'doesNotStartWith':
      return !haystack.startsWith(needle);
    case 'doesNotEndWith':
      return !haystack.endsWith(needle);
    case 'doesNotContain':
      return !haystack.includes(needle);
    case 'equals':
      return haystack === needle;
    default:
      return haystack !== needle;
  }
}

/**
 * `t` (epoch ms of the attribute; NaN → false) against an `occurs` clause.
 * - `on T` / `before T` / `after T`: inside / wholly before / wholly after T's
 *   interval (a day for today/yesterday/tomorrow/date(y,m,d), an instant for now).
 * - `between A and B`: from the start of A to the end of B, both included.
 * - `last|this|next unit`: the previous / current / next calendar `unit`
 *   period around now (weeks Monday–Sunday, decades 2020–2029, …).
 * - `<op> N unit before|after T`: P is the `unit` period containing the
 *   instant N units before/after T's start (months clamp to month end).
 *   `=` inside P, `!=` outside P; `<` strictly between P and T (T's day
 *   included), `<=` P or closer; `>` beyond P, `>=` P or beyond.
 */
function occurs(spec: OccursSpec, t: number, nowMs: number): boolean {
  if (Number.isNaN(t)) return false;
  switch (spec.form) {
    case 'on':
      return compareToInterval('=', t, timeInterval(spec.anchor, nowMs));
    case 'before':
      return compareToInterval('<', t, timeInterval(spec.anchor, nowMs));
    case 'after':
      return compareToInterval('>', t, timeInterval(spec.anchor, nowMs));
    case 'between': {
      const from = timeInterval(spec.from, nowMs);
      const to = timeInterval(spec.to, nowMs);
      return t >= from.start && t < to.end;
    }
    case 'period': {
      const current = truncate(nowMs, spec.unit);
      const offset = spec.which === 'last' ? -1 : spec.which === 'next' ? 1 : 0;
      const start = shift(current, spec.unit, offset);
      const end = shift(current, spec.unit, offset + 1);
      return t >= start && t < end;
    }
    case 'relative': {
      // Whole-unit semantics: P is the `unit` period containing the instant
      // N units before/after the anchor's start. `=` is "inside P"; `<` is
      // "strictly between the anchor and P"; `>` is "beyond P".
      const anchor = timeInterval(spec.anchor, nowMs);
      const before = spec.direction === 'before';
      const ref = shift(
        anchor.start,
        spec.unit,
        before ? -spec.amount : spec.amount,
      );
      const ps = truncate(ref, spec.unit);
      const pe = shift(ps, spec.unit, 1);
      switch (spec.op) {
        case '=':
          return t >= ps && t < pe;
        case '!=':
          return t < ps || t >= pe;
        case '<':
          return before
            ? t >= pe && t < anchor.end
            : t >= anchor.start && t < ps;
        case '<=':
          return before
            ? t >= ps && t < anchor.end
            : t >= anchor.start && t < pe;
        case '>':
          return before ? t < ps : t >= pe;
        case '>=':
          return before ? t < pe : t >= ps;
      }
    }
  }
}

function evaluate(node: PqlNode, ctx: Context): boolean {
  switch (node.kind) {
    case 'and':
      for (const operand of node.operands) {
        if (!evaluate(operand, ctx)) return false;
      }
      return true;
    case 'or':
      for (const operand of node.operands) {
        if (evaluate(operand, ctx)) return true;
      }
      return false;
    case 'not':
      return !evaluate(node.operand, ctx);
    case 'constant':
      return node.value;
    case 'compare':
      return compareValues(
        node.op,
        valueOf(node.left, ctx),
        valueOf(node.right, ctx),
      );
    case 'in': {
      const value = valueOf(node.value, ctx);
      if (value === null || value === undefined) return false;
      const found = inList(value, node.list, ctx);
      return node.negated ? !found : found;
    }
    case 'like': {
      const value = valueOf(node.value, ctx);
      return typeof value === 'string' && testPattern(node.matcher, value, ctx);
    }
    case 'stringFunction': {
      const value = readPath(ctx.profile, node.target.segments);
      if (typeof value !== 'string') return false;
      const chars = value.length + node.needle.length;
      if (!spend(ctx, chars * COST_PER_CHAR)) return false;
      return stringFunction(
        node.fn,
        node.caseSensitive ? value : value.toLowerCase(),
        node.needle,
      );
    }
    case 'matches': {
      const value = readPath(ctx.profile, node.target.segments);
      if (typeof value !== 'string') return false;
      return testPattern(node.matcher, value, ctx);
    }
    case 'nullCheck': {
      const value = readPath(ctx.profile, node.target.segments);
      const isNull = value === null || value === undefined;
      return node.negated ? !isNull : isNull;
    }
    case 'includes': {
      const value = readPath(ctx.profile, node.target.segments);
      if (!Array.isArray(value)) return false;
      const wanted = valueOf(node.value, ctx);
      const perElement =
        wanted instanceof Interval
          ? COST_PER_DATE_ELEMENT
          : COST_PER_INCLUDES_ELEMENT;
      if (!spend(ctx, value.length * perElement)) return false;
      return value.some((element) => compareValues('=', element, wanted));
    }
    case 'intersects': {
      const value = readPath(ctx.profile, node.target.segments);
      if (!Array.isArray(value)) return false;
      const lookup = lookupOf(node.list);
      const perElement =
        lookup.intervals.length > 0
          ? COST_PER_DATE_ELEMENT
          : COST_PER_LOOKUP_ELEMENT;
      if (!spend(ctx, value.length * perElement)) return false;
      return value.some((element) => inLookup(element, lookup));
    }
    case 'occurs': {
      const value = readPath(ctx.profile, node.target.segments);
      return occurs(node.spec, parseIsoDate(value), ctx.nowMs);
    }
  }
}

/**
 * Evaluates a parsed condition against an XDM profile document at time `now`.
 * Never throws for any profile content; see `index.ts` for null and
 * type-mismatch rules (comparisons with a missing side are false). The work
 * done on the profile's values is bounded by `EVALUATION_BUDGET`: a pattern
 * test, string function or array scan that would exceed it is false.
 */
export function evaluatePql(
  node: PqlNode,
  profile: Record<string, unknown>,
  now: Date,
): boolean {
  return evaluate(node, {
    profile,
    nowMs: now.getTime(),
    budget: EVALUATION_BUDGET,
  });
}

function collectPaths(node: PqlNode, out: Set<string>): void {
  const addValue = (value: PqlValueNode): void => {
    if (value.kind === 'path') out.add(value.path);
  };
  switch (node.kind) {
    case 'and':
    case 'or':
      for (const operand of node.operands) collectPaths(operand, out);
      return;
    case 'not':
      collectPaths(node.operand, out);
      return;
    case 'constant':
      return;
    case 'compare':
      addValue(node.left);
      addValue(node.right);
      return;
    case 'in':
    case 'like':
      addValue(node.value);
      return;
    case 'stringFunction':
    case 'matches':
    case 'nullCheck':
    case 'includes':
    case 'intersects':
    case 'occurs':
      out.add(node.target.path);
      return;
  }
}

/** Attribute paths the condition reads (dotted, prefix-free, first-seen order, unique). */
export function referencedPaths(node: PqlNode): string[] {
  const out = new Set<string>();
  collectPaths(node, out);
  return [...out];
}

function isRelativeTime(value: PqlValueNode | TimeNode): boolean {
  return value.kind === 'relativeTime';
}

/**
 * True when the result can change with `now` alone: the condition mentions
 * now/today/yesterday/tomorrow, or uses `occurs last|this|next …`. Conditions
 * whose `occurs` only involves fixed `date(...)` literals are not time relative.
 */
export function isTimeRelative(node: PqlNode): boolean {
  switch (node.kind) {
    case 'and':
    case 'or':
      return node.operands.some(isTimeRelative);
    case 'not':
      return isTimeRelative(node.operand);
    case 'compare':
      return isRelativeTime(node.left) || isRelativeTime(node.right);
    case 'occurs': {
      const spec = node.spec;
      switch (spec.form) {
        case 'period':
          return true;
        case 'between':
          return isRelativeTime(spec.from) || isRelativeTime(spec.to);
        default:
          return isRelativeTime(spec.anchor);
      }
    }
    default:
      return false;
  }
}
