/**
 * JSON that PostgreSQL wrote as text, passed to the response without parsing
 * it into objects and serializing them again, byte for byte what
 * `JSON.stringify(JSON.parse(text))` gives.
 */

/** A response body that is already JSON text; the controller sends it as is. */
export class JsonText {
  constructor(readonly text: string) {}
}

const SPACE = 32;
const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;
const LOWER_U = 117;
/** Integers of up to this many digits are exact doubles, printed as they are read. */
const SAFE_DIGITS = 15;

const isWhitespace = (c: number): boolean =>
  c === SPACE || c === 10 || c === 13 || c === 9;

/** A key JavaScript objects order before the others (an array index). */
function isIndexKey(s: string, from: number, to: number): boolean {
  if (to === from || to - from > 10) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < ZERO || c > NINE) return false;
  }
  return (
    (to - from === 1 || s.charCodeAt(from) !== ZERO) &&
    Number(s.slice(from, to)) < 2 ** 32 - 1
  );
}

/**
 * `text` (valid JSON from PostgreSQL's `json`/`jsonb` output) without the
 * whitespace between tokens; undefined where dropping it would not give what
 * parsing and serializing gives: a number a double does not hold exactly as
 * written (a fraction, an exponent, more than 15 digits, `-0`), a `\u` escape
 * (JSON.stringify writes most of those characters as themselves), or an
 * object key that is an array index (JavaScript moves those keys first).
 * PostgreSQL escapes strings as JSON.stringify does otherwise.
 */
export function compactJson(text: string): string | undefined {
  const n = text.length;
  let out = '';
  let start = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const from = i + 1;
      for (i = from; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === QUOTE) break;
        if (d === BACKSLASH) {
          if (text.charCodeAt(i + 1) === LOWER_U) return undefined;
          i++;
        }
      }
      if (i >= n) return undefined;
      let j = i + 1;
      while (j < n && isWhitespace(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) === COLON && isIndexKey(text, from, i))
        return undefined;
    } else if (isWhitespace(c)) {
      out += text.slice(start, i);
      while (i + 1 < n && isWhitespace(text.charCodeAt(i + 1))) i++;
      start = i + 1;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      const from = c === MINUS ? i + 1 : i;
      let j = from;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d < ZERO || d > NINE) break;
        j++;
      }
      const next = text.charCodeAt(j);
      if (
        j - from > SAFE_DIGITS ||
        next === 46 /* . */ ||
        next === 101 /* e */ ||
        next === 69 /* E */ ||
        (c === MINUS && j - from === 1 && text.charCodeAt(from) === ZERO)
      )
        return undefined;
      i = j - 1;
    }
  }
  return start === 0 ? text : out + text.slice(start);
}

/** `text` as JSON.stringify(JSON.parse(text)) writes it. */
export function canonicalJson(text: string): string {
  return compactJson(text) ?? JSON.stringify(JSON.parse(text));
}

/**
 * What a controller returns for `body`: JSON text goes out as it is, with the
 * Content-Type `res.json` would set (Express then adds the charset and the
 * ETag of the same bytes); anything else is serialized as usual. For
 * handlers declared `@Res({ passthrough: true })`.
 */
export function jsonBody<T>(
  res: { set(field: string, value: string): unknown },
  body: JsonText | T,
): T {
  if (!(body instanceof JsonText)) return body;
  res.set('Content-Type', 'application/json');
  // Nest sends a string with res.send, which keeps the type set here.
  return body.text as unknown as T;
}
