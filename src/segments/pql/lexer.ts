import { PqlError } from './errors.js';

export type TokenType =
  'ident' | 'param' | 'string' | 'number' | 'punct' | 'eof';

export interface Token {
  type: TokenType;
  /** Identifier name, punctuation, decoded string value or number source text. */
  value: string;
  start: number;
  end: number;
}

const PUNCT2 = new Set(['!=', '<=', '>=', '=>']);
const PUNCT1 = new Set(['(', ')', '[', ']', ',', '.', '=', '<', '>', '!']);

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
};

/**
 * Reads tokens on demand, so an error earlier in the text is always reported
 * before a lexical error later in it. After the end, `eof` repeats.
 */
export class Lexer {
  private readonly tokens: Token[] = [];
  private offset = 0;

  constructor(private readonly text: string) {}

  /** The token `index` positions from the start (0-based). */
  at(index: number): Token {
    while (this.tokens.length <= index) {
      const last = this.tokens[this.tokens.length - 1];
      if (last !== undefined && last.type === 'eof') return last;
      this.tokens.push(this.scan());
    }
    return this.tokens[index];
  }

  private scan(): Token {
    const text = this.text;
    const n = text.length;
    let i = this.offset;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
    const tok = scanToken(text, i);
    this.offset = tok.end;
    return tok;
  }
}

function scanToken(text: string, start: number): Token {
  const n = text.length;
  if (start >= n) return { type: 'eof', value: '', start: n, end: n };
  let i = start;
  const c = text.charCodeAt(i);
  if (isIdentStart(c)) {
    while (i < n && isIdentPart(text.charCodeAt(i))) i++;
    return { type: 'ident', value: text.slice(start, i), start, end: i };
  }
  if (c === 36 /* $ */) {
    i++;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i === start + 1) {
      throw new PqlError("Expected a parameter number after '$'", text, i);
    }
    return { type: 'param', value: text.slice(start, i), start, end: i };
  }
  if (
    isDigit(c) ||
    (c === 45 /* - */ && i + 1 < n && isDigit(text.charCodeAt(i + 1)))
  ) {
    i = scanNumber(text, i);
    if (i < n && isIdentStart(text.charCodeAt(i))) {
      throw new PqlError(
        `Invalid number '${text.slice(start, i + 1)}'`,
        text,
        start,
      );
    }
    return { type: 'number', value: text.slice(start, i), start, end: i };
  }
  if (c === 34 /* " */) {
    const { value, end } = scanString(text, i);
    return { type: 'string', value, start, end };
  }
  if (c === 39 /* ' */) {
    throw new PqlError(
      'String literals must use double quotes (")',
      text,
      start,
    );
  }
  const two = text.slice(i, i + 2);
  if (PUNCT2.has(two)) {
    return { type: 'punct', value: two, start, end: i + 2 };
  }
  const one = text[i];
  if (PUNCT1.has(one)) {
    return { type: 'punct', value: one, start, end: i + 1 };
  }
  const cp = text.codePointAt(i) ?? c;
  throw new PqlError(
    `Unexpected character '${String.fromCodePoint(cp)}'`,
    text,
    start,
  );
}

function scanNumber(text: string, i: number): number {
  const n = text.length;
  if (text.charCodeAt(i) === 45) i++;
  while (i < n && isDigit(text.charCodeAt(i))) i++;
  if (
    i + 1 < n &&
    text.charCodeAt(i) === 46 &&
    isDigit(text.charCodeAt(i + 1))
  ) {
    i++;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
  }
  const e = text.charCodeAt(i);
  if (i < n && (e === 101 || e === 69)) {
    let j = i + 1;
    const sign = text.charCodeAt(j);
    if (sign === 43 || sign === 45) j++;
    if (j < n && isDigit(text.charCodeAt(j))) {
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      i = j;
    }
  }
  return i;
}

/**
 * Reads a double-quoted string. JSON escapes are decoded; an unknown escape
 * such as `\d` or `\%` is kept as written (backslash included), so regex and
 * `like` patterns can be written with single backslashes.
 */
function scanString(
  text: string,
  start: number,
): { value: string; end: number } {
  const n = text.length;
  let i = start + 1;
  let out = '';
  let chunk = i;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      out += text.slice(chunk, i);
      return { value: out, end: i + 1 };
    }
    if (c === 92 /* \ */) {
      out += text.slice(chunk, i);
      if (i + 1 >= n) break;
      const next = text[i + 1];
      const simple = SIMPLE_ESCAPES[next];
      if (simple !== undefined) {
        out += simple;
        i += 2;
      } else if (next === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          throw new PqlError(
            'Invalid unicode escape in string literal',
            text,
            i,
          );
        }
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else {
        out += '\\' + next;
        i += 2;
      }
      chunk = i;
      continue;
    }
    i++;
  }
  throw new PqlError('Unterminated string literal', text, start);
}

/**
 * The offset in `text` of the character at `index` of the decoded value of
 * the string literal starting at `literalStart` (its opening quote), so an
 * error inside a pattern can point into the PQL text.
 */
export function offsetInStringLiteral(
  text: string,
  literalStart: number,
  index: number,
): number {
  let i = literalStart + 1;
  let decoded = 0;
  while (i < text.length && decoded < index) {
    if (text.charCodeAt(i) !== 92 /* \ */) {
      i++;
      decoded++;
      continue;
    }
    const next = text[i + 1];
    if (SIMPLE_ESCAPES[next] !== undefined) {
      i += 2;
      decoded++;
    } else if (next === 'u') {
      i += 6;
      decoded++;
    } else {
      // Kept as written: two decoded characters for two written ones.
      if (index - decoded === 1) return i + 1;
      i += 2;
      decoded += 2;
    }
  }
  return i;
}
