import { RE2JS, RE2JSException, RE2JSSyntaxException } from 're2js';

/**
 * A compiled `matches` or `like` pattern. Matching runs on RE2 (re2js), whose
 * time is linear in the input: at most about `cost` steps per input character,
 * so `value.length * cost` bounds one test whatever the pattern or the value.
 */
export class LinearMatcher {
  /** Steps per input character in the worst case (the RE2 program size). */
  readonly cost: number;

  constructor(private readonly re: RE2JS) {
    this.cost = Math.max(1, re.programSize());
  }

  /** True when the pattern matches somewhere in `value` (`like` patterns are anchored). */
  test(value: string): boolean {
    return this.re.test(value);
  }
}

/** A pattern RE2 cannot run; `index` is the offset in the pattern it is about. */
export class PatternError extends Error {
  constructor(
    readonly reason: string,
    readonly index: number,
  ) {
    super(reason);
  }
}

const SYNTAX_NOTE = '(PQL regular expressions use RE2 syntax)';

/**
 * Constructs java.util.regex accepts but RE2 cannot run in linear time (or
 * reads differently), found before RE2 sees the pattern so the error can say
 * what the construct is and where it starts. Returns null when there is none.
 */
function findJavaOnlySyntax(pattern: string): PatternError | null {
  const n = pattern.length;
  // Where the previous item's quantifier starts (-1: none), so a following
  // `+` makes it possessive.
  let quantifierStart = -1;
  let braceStart = -1;
  for (let i = 0; i < n;) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (next >= '1' && next <= '9') {
        return new PatternError(
          `Backreference '\\${next}' is not supported ${SYNTAX_NOTE}`,
          i,
        );
      }
      if (next === 'k' && pattern[i + 2] === '<') {
        return new PatternError(
          `Named backreference '\\k<…>' is not supported ${SYNTAX_NOTE}`,
          i,
        );
      }
      if (next === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        i = end < 0 ? n : end + 2;
      } else {
        i += 2;
      }
      quantifierStart = -1;
      continue;
    }
    if (c === '[') {
      const end = scanClass(pattern, i);
      if (end.intersection >= 0) {
        return new PatternError(
          `Character class intersection '&&' is not supported ${SYNTAX_NOTE}`,
          end.intersection,
        );
      }
      i = end.next;
      quantifierStart = -1;
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2, i + 4);
      const lookaround = rest.startsWith('=')
        ? 'Lookahead'
        : rest.startsWith('!')
          ? 'Negative lookahead'
          : rest === '<='
            ? 'Lookbehind'
            : rest === '<!'
              ? 'Negative lookbehind'
              : null;
      if (lookaround !== null) {
        return new PatternError(
          `${lookaround} is not supported ${SYNTAX_NOTE}`,
          i,
        );
      }
      if (rest.startsWith('>')) {
        return new PatternError(
          `Atomic group '(?>…)' is not supported ${SYNTAX_NOTE}`,
          i,
        );
      }
    }
    if (c === '+' && quantifierStart >= 0) {
      return new PatternError(
        `Possessive quantifier is not supported ${SYNTAX_NOTE}`,
        quantifierStart,
      );
    }
    if (c === '*' || c === '+' || c === '?') {
      quantifierStart = i;
    } else if (
      c === '}' &&
      braceStart >= 0 &&
      /^\d+(,\d*)?$/.test(pattern.slice(braceStart + 1, i))
    ) {
      quantifierStart = braceStart;
    } else {
      quantifierStart = -1;
    }
    if (c === '{') braceStart = i;
    else if (c === '}') braceStart = -1;
    i++;
  }
  return null;
}

/** The end of the character class opening at `start`, and where a Java `&&` is, if any. */
function scanClass(
  pattern: string,
  start: number,
): { next: number; intersection: number } {
  const n = pattern.length;
  let i = start + 1;
  if (pattern[i] === '^') i++;
  // A `]` right after `[` or `[^` is a literal.
  if (pattern[i] === ']') i++;
  let intersection = -1;
  while (i < n) {
    const c = pattern[i];
    if (c === '\\') {
      i += 2;
    } else if (c === '[' && pattern[i + 1] === ':') {
      const close = pattern.indexOf(':]', i + 2);
      i = close < 0 ? i + 1 : close + 2;
    } else if (c === ']') {
      return { next: i + 1, intersection };
    } else {
      if (c === '&' && pattern[i + 1] === '&' && intersection < 0) {
        intersection = i;
      }
      i++;
    }
  }
  return { next: n, intersection };
}

function compileRe2(pattern: string, source: string): RE2JS {
  try {
    return RE2JS.compile(source);
  } catch (e) {
    if (e instanceof RE2JSSyntaxException) {
      // RE2 names the offending fragment, not its offset: the fragment's first
      // occurrence is where a reader should look.
      const fragment = e.input ?? '';
      const at = fragment === '' ? -1 : pattern.indexOf(fragment);
      return throwPattern(
        `Invalid regular expression: ${e.getDescription()}${fragment ? ` '${fragment}'` : ''} ${SYNTAX_NOTE}`,
        Math.max(at, 0),
      );
    }
    if (e instanceof RE2JSException) {
      return throwPattern(`Invalid regular expression: ${e.message}`, 0);
    }
    throw e;
  }
}

function throwPattern(reason: string, index: number): never {
  throw new PatternError(reason, index);
}

/**
 * Compiles a PQL `matches` pattern (a search, not a full match). Inline flags
 * such as a leading `(?i)` are RE2's own. Throws `PatternError` for syntax RE2
 * does not have, naming the construct and its offset in the pattern.
 */
export function compileMatches(pattern: string): LinearMatcher {
  const javaOnly = findJavaOnlySyntax(pattern);
  if (javaOnly !== null) throw javaOnly;
  return new LinearMatcher(compileRe2(pattern, pattern));
}

/**
 * Compiles a `like` pattern to an anchored RE2 program: `%` is any run of
 * characters, `_` exactly one (code point), `\%` and `\_` stand for
 * themselves; every other character is literal.
 */
export function compileLike(pattern: string): LinearMatcher {
  let source = '\\A(?s:';
  let literal = '';
  const flush = (): void => {
    if (literal !== '') source += RE2JS.quote(literal);
    literal = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\' && (pattern[i + 1] === '%' || pattern[i + 1] === '_')) {
      literal += pattern[i + 1];
      i++;
    } else if (ch === '%') {
      flush();
      source += '.*';
    } else if (ch === '_') {
      flush();
      source += '.';
    } else {
      literal += ch;
    }
  }
  flush();
  return new LinearMatcher(compileRe2(pattern, source + ')\\z'));
}

/**
 * Weight of a Unicode class (`\pL`, `[^\p{Greek}]`): hundreds of ranges to
 * compile, more with `(?i)`.
 */
const UNICODE_CLASS_SIZE = 100;
/** The fixed work of compiling any pattern, however short, as instructions. */
const PATTERN_OVERHEAD = 50;

/**
 * An upper estimate of the RE2 program `pattern` compiles to, found without
 * compiling it: compiling is what costs (a 1,000-character pattern can expand
 * to 100,000+ instructions and take seconds), so the limit must come first.
 * A repeat `x{n,m}` counts `x` m times; a Unicode class counts
 * `UNICODE_CLASS_SIZE`, and every pattern `PATTERN_OVERHEAD`. Syntax errors
 * are left to RE2.
 */
export function estimateProgramSize(pattern: string): number {
  const n = pattern.length;
  let i = 0;

  const alternation = (): number => {
    let total = sequence();
    while (pattern[i] === '|') {
      i++;
      total += 1 + sequence();
    }
    return total;
  };

  const sequence = (): number => {
    let total = 0;
    while (i < n && pattern[i] !== '|' && pattern[i] !== ')') {
      let size = atom();
      for (;;) {
        const c = pattern[i];
        if (c === '*' || c === '+' || c === '?') {
          i++;
          size += 1;
          continue;
        }
        const repeat =
          c === '{'
            ? /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i, i + 24))
            : null;
        if (repeat === null) break;
        const min = Number(repeat[1]);
        const max = repeat[3] ? Number(repeat[3]) : repeat[2] ? min + 1 : min;
        // RE2 writes x{n,m} as n copies of x and m-n optional ones (one
        // more instruction each).
        const copies = Math.max(min, max, 1);
        size = size * copies + Math.max(0, max - min) + 1;
        i += repeat[0].length;
      }
      total += size;
    }
    return total;
  };

  const skipTo = (close: string, from: number): number => {
    const at = pattern.indexOf(close, from);
    return at < 0 ? n : at + close.length;
  };

  const atom = (): number => {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === 'Q') {
        const start = i + 2;
        i = skipTo('\\E', start);
        return Math.max(1, i - start);
      }
      if (next === 'p' || next === 'P') {
        i = pattern[i + 2] === '{' ? skipTo('}', i + 2) : i + 3;
        return UNICODE_CLASS_SIZE;
      }
      i = next === 'x' && pattern[i + 2] === '{' ? skipTo('}', i + 2) : i + 2;
      return 1;
    }
    if (c === '[') {
      const end = scanClass(pattern, i).next;
      const unicode = pattern.slice(i, end).match(/\\[pP]/g)?.length ?? 0;
      i = end;
      return Math.max(1, unicode * UNICODE_CLASS_SIZE);
    }
    if (c === '(') {
      i++;
      if (pattern[i] === '?') {
        // Flags `(?i)`, `(?i:…)`, names `(?P<n>…)` / `(?<n>…)`.
        if (pattern[i + 1] === 'P' || pattern[i + 1] === '<') {
          i = skipTo('>', i);
        } else {
          while (i < n && pattern[i] !== ':' && pattern[i] !== ')') i++;
          if (pattern[i] === ')') {
            i++;
            return 0;
          }
          i++;
        }
      }
      const inner = alternation();
      if (pattern[i] === ')') i++;
      return inner + 2;
    }
    i++;
    return 1;
  };

  let total = 0;
  while (i < n) {
    total += alternation();
    // A stray `)`: RE2 refuses it; keep estimating past it.
    if (i < n) i++;
  }
  return PATTERN_OVERHEAD + total;
}
