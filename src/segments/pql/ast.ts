import type { LinearMatcher } from './regex.js';

/** Start (inclusive) and end (exclusive) 0-based offsets into the PQL text. */
export interface Span {
  start: number;
  end: number;
}

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type TimeUnit =
  | 'millisecond'
  | 'second'
  | 'minute'
  | 'hour'
  | 'day'
  | 'week'
  | 'month'
  | 'year'
  | 'decade'
  | 'century'
  | 'millennium';

export type RelativeTimeWord = 'now' | 'today' | 'yesterday' | 'tomorrow';

export type StringFunctionName =
  | 'startsWith'
  | 'endsWith'
  | 'contains'
  | 'doesNotStartWith'
  | 'doesNotEndWith'
  | 'doesNotContain'
  | 'equals'
  | 'notEqualTo';

// ---- value nodes --------------------------------------------------------

/** An attribute of the profile; `$1.` and lambda-variable prefixes are already stripped. */
export interface PathNode extends Span {
  kind: 'path';
  segments: readonly string[];
  /** Dotted form of `segments`, e.g. `homeAddress.countryCode`. */
  path: string;
}

export interface StringLiteralNode extends Span {
  kind: 'string';
  value: string;
}

export interface NumberLiteralNode extends Span {
  kind: 'number';
  value: number;
  /** `true` for an integer literal (`3`), `false` for a double (`3.0`, `1e3`). */
  integer: boolean;
}

export interface BooleanLiteralNode extends Span {
  kind: 'boolean';
  value: boolean;
}

/**
 * `date(y, m, d[, h[, min[, s[, ms]]]])`, month 1-based, UTC. With three
 * arguments it denotes the whole day `[startMs, endMs)`; with more, the single
 * millisecond `[startMs, startMs + 1)`.
 */
export interface DateLiteralNode extends Span {
  kind: 'date';
  parts: readonly number[];
  startMs: number;
  endMs: number;
}

/** `now` (an instant) or `today` / `yesterday` / `tomorrow` (UTC days). */
export interface RelativeTimeNode extends Span {
  kind: 'relativeTime';
  word: RelativeTimeWord;
}

export type ScalarLiteralNode =
  StringLiteralNode | NumberLiteralNode | BooleanLiteralNode | DateLiteralNode;

export interface ArrayLiteralNode extends Span {
  kind: 'array';
  items: readonly ScalarLiteralNode[];
}

export type TimeNode = DateLiteralNode | RelativeTimeNode;

export type PqlValueNode = PathNode | ScalarLiteralNode | RelativeTimeNode;

// ---- boolean (expression) nodes -----------------------------------------

export interface AndNode extends Span {
  kind: 'and';
  operands: readonly PqlNode[];
}

export interface OrNode extends Span {
  kind: 'or';
  operands: readonly PqlNode[];
}

export interface NotNode extends Span {
  kind: 'not';
  operand: PqlNode;
}

/** A bare `true` / `false`. */
export interface ConstantNode extends Span {
  kind: 'constant';
  value: boolean;
}

/** `left op right`. A bare path used as a condition is `path = true`. */
export interface CompareNode extends Span {
  kind: 'compare';
  op: CompareOp;
  left: PqlValueNode;
  right: PqlValueNode;
}

/** `value in [..]` or, with `negated`, `value notIn [..]`. */
export interface InNode extends Span {
  kind: 'in';
  negated: boolean;
  value: PqlValueNode;
  list: ArrayLiteralNode;
}

export interface LikeNode extends Span {
  kind: 'like';
  value: PqlValueNode;
  pattern: StringLiteralNode;
  /** Compiled at parse time to RE2: `%` → any run, `_` → one character, `\%` `\_` literal. */
  matcher: LinearMatcher;
}

export interface StringFunctionNode extends Span {
  kind: 'stringFunction';
  fn: StringFunctionName;
  target: PathNode;
  argument: StringLiteralNode;
  caseSensitive: boolean;
  /** `argument.value`, lower-cased when not case sensitive. */
  needle: string;
}

export interface MatchesNode extends Span {
  kind: 'matches';
  target: PathNode;
  pattern: StringLiteralNode;
  /** Compiled at parse time to RE2; inline flags such as a leading `(?i)` are RE2's. */
  matcher: LinearMatcher;
}

/** `.isNull()` or, with `negated`, `.isNotNull()`. */
export interface NullCheckNode extends Span {
  kind: 'nullCheck';
  negated: boolean;
  target: PathNode;
}

export interface IncludesNode extends Span {
  kind: 'includes';
  target: PathNode;
  value: ScalarLiteralNode;
}

export interface IntersectsNode extends Span {
  kind: 'intersects';
  target: PathNode;
  list: ArrayLiteralNode;
}

/** `occurs <op> N unit before|after|from <time>` (`from` is read as `after`). */
export interface OccursRelative {
  form: 'relative';
  op: CompareOp;
  amount: number;
  unit: TimeUnit;
  direction: 'before' | 'after';
  anchor: TimeNode;
}

/** `occurs last|this|next unit`. */
export interface OccursPeriod {
  form: 'period';
  which: 'last' | 'this' | 'next';
  unit: TimeUnit;
}

/** `occurs between <time> and <time>` (both ends inclusive of their whole period). */
export interface OccursBetween {
  form: 'between';
  from: TimeNode;
  to: TimeNode;
}

/** `occurs before <time>`, `occurs after <time>`, `occurs [on] <time>`. */
export interface OccursAnchored {
  form: 'before' | 'after' | 'on';
  anchor: TimeNode;
}

export type OccursSpec =
  OccursRelative | OccursPeriod | OccursBetween | OccursAnchored;

export interface OccursNode extends Span {
  kind: 'occurs';
  target: PathNode;
  spec: OccursSpec;
}

/** A parsed PQL condition (what `parsePql` returns and `evaluatePql` takes). */
export type PqlNode =
  | AndNode
  | OrNode
  | NotNode
  | ConstantNode
  | CompareNode
  | InNode
  | LikeNode
  | StringFunctionNode
  | MatchesNode
  | NullCheckNode
  | IncludesNode
  | IntersectsNode
  | OccursNode;

/** Every node kind, boolean and value. */
export type PqlAnyNode = PqlNode | PqlValueNode | ArrayLiteralNode;
