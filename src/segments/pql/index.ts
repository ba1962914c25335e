/**
 * PQL (Adobe Profile Query Language) subset for segment definitions: parse
 * `pql/text`, evaluate against an XDM profile document, and introspect.
 *
 * Evaluation rules (all time arithmetic in UTC):
 * - Paths read own properties of nested plain objects only; an array or a
 *   scalar in the middle of a path gives "missing". `$1.` and a lambda
 *   variable (`(Profile) => Profile.x`) are stripped at parse time.
 * - Any comparison (`=` `!=` `<` `<=` `>` `>=`) with a missing/null side is
 *   false, `!=` included. Numbers compare with numbers, strings with strings
 *   (UTF-16 code-unit order), booleans only with `=`/`!=`; any other mix is
 *   false for every operator (no coercion).
 * - Time values: `date(y, m, d)` (month 1-based), `today`, `yesterday`,
 *   `tomorrow` are whole UTC days, `now` and `date(...)` with a time are
 *   instants. A profile value is a time only if it is an ISO-8601 string
 *   (`2020-03-14`, `2020-03-14T10:00:00Z`, with offset; no offset = UTC).
 *   Against a day, `=` means "on that day", `<` "before it", `>` "after it".
 * - `in`: any element equal (same rules). `notIn`: value present and no
 *   element equal; missing/null gives false for both.
 * - `like` and the string functions are false unless the value is a string;
 *   the `doesNot…` forms are false for missing values too.
 *   `matches` is an RE2 search (not a full match; inline flags such as a
 *   leading `(?i)` are RE2's); Java-only syntax (backreferences, lookaround,
 *   possessive quantifiers, atomic groups, `&&` in classes) is a parse error.
 *   `like` and `matches` run in time linear in the value (RE2, via re2js).
 * - `includes` / `intersects` are false unless the value is an array.
 * - `isNull()` is true for missing or null; `isNotNull()` is its negation.
 * - A bare path used as a condition means `path = true`.
 * - `occurs` uses whole-unit periods; see `evaluator.ts` for the exact rules.
 * - One evaluation does at most `EVALUATION_BUDGET` units of work on the
 *   profile's values (RE2 steps, characters, array elements); a predicate
 *   that would exceed what is left is false.
 *
 * `parsePql(text, { limits })` also enforces definition-time `PqlLimits`.
 * This folder imports nothing else of the app.
 */
export * from './ast.js';
export { PqlError } from './errors.js';
export { parsePql, type ParseOptions } from './parser.js';
export {
  DEFAULT_PQL_LIMITS,
  EVALUATION_BUDGET,
  type PqlLimits,
} from './limits.js';
export { evaluatePql, isTimeRelative, referencedPaths } from './evaluator.js';
export { toPqlJson, type PqlJson } from './pql-json.js';
