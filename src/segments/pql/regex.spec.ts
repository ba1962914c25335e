import fc from 'fast-check';
import {
  DEFAULT_PQL_LIMITS,
  EVALUATION_BUDGET,
  PqlError,
  evaluatePql,
  parsePql,
  type PqlLimits,
} from './index.js';
import {
  PatternError,
  compileLike,
  compileMatches,
  estimateProgramSize,
} from './regex.js';

const NOW = new Date('2026-11-25T12:00:00Z');

function ev(text: string, data: Record<string, unknown>): boolean {
  return evaluatePql(parsePql(text), data, NOW);
}

function parseError(text: string, limits?: PqlLimits): PqlError {
  try {
    parsePql(text, { limits });
  } catch (e) {
    if (e instanceof PqlError) return e;
    throw e;
  }
  throw new Error(`expected a PqlError for: ${text}`);
}

/** Milliseconds one evaluation takes (best of three, to ignore a GC pause). */
function timeEvaluation(text: string, data: Record<string, unknown>): number {
  const node = parsePql(text);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    evaluatePql(node, data, NOW);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

describe('matches runs on RE2', () => {
  it.each([
    ['a.matches("^(a+)+$")', 'aaaa', true],
    ['a.matches("^(a+)+$")', 'aaaa!', false],
    ['a.matches("(?i)^john")', 'JOHN SMITH', true],
    ['a.matches("^john")', 'JOHN', false],
    ['a.matches("\\\\d{3}-\\\\d{4}")', 'call 555-1234', true],
    ['a.matches("^\\\\p{Lu}\\\\p{Ll}+$")', 'Émile', true],
    ['a.matches("(?s)a.b")', 'a\nb', true],
    ['a.matches("a.b")', 'a\nb', false],
    ['a.matches("(?P<x>ab)+")', 'abab', true],
    ['a.matches("\\\\Qa.b\\\\E")', 'xa.by', true],
    ['a.matches("\\\\Qa.b\\\\E")', 'xaXby', false],
  ])('%s on %j → %s', (text, value, expected) => {
    expect(ev(text, { a: value })).toBe(expected);
  });

  it('does not backtrack: ^(a+)+$ on 30,000 a and ! takes milliseconds', () => {
    const value = 'a'.repeat(30_000) + '!';
    expect(ev('a.matches("^(a+)+$")', { a: value })).toBe(false);
    expect(timeEvaluation('a.matches("^(a+)+$")', { a: value })).toBeLessThan(
      50,
    );
  });
});

describe('Java-only regex syntax is a parse error at its position', () => {
  // Offsets: `a.matches("` is 11 characters, so pattern offset k is column 12 + k.
  it.each([
    ['a.matches("(x)\\\\1")', 14, 3, 'Backreference'],
    ['a.matches("(?<n>x)\\\\k<n>")', 18, 7, 'Named backreference'],
    ['a.matches("x(?=y)")', 12, 1, 'Lookahead'],
    ['a.matches("x(?!y)")', 12, 1, 'Negative lookahead'],
    ['a.matches("(?<=x)y")', 10, 0, 'Lookbehind'],
    ['a.matches("ab(?<!x)y")', 13, 2, 'Negative lookbehind'],
    ['a.matches("x(?>ab)")', 12, 1, 'Atomic group'],
    ['a.matches("ab++")', 13, 2, 'Possessive quantifier'],
    ['a.matches("a{2,3}+")', 12, 1, 'Possessive quantifier'],
    ['a.matches("[a-z&&[^e]]")', 15, 4, "intersection '&&'"],
  ])('%s → offset %i (pattern offset %i)', (text, position, index, what) => {
    const err = parseError(text);
    expect(err.reason).toContain(what);
    expect(err.reason).toContain('RE2 syntax');
    expect(err.reason).toContain(`at pattern offset ${index}`);
    expect(err.position).toBe(position);
    expect(err.column).toBe(position + 1);
  });

  it('points into the PQL text past escapes in the literal', () => {
    // `\"` and `\n` are one decoded character each, written as two.
    const err = parseError('a.matches("\\"\\n(?=x)")');
    expect(err.reason).toContain('at pattern offset 2');
    expect(err.position).toBe(15);
  });

  it('ignores look-alikes that RE2 reads differently', () => {
    expect(() => parsePql('a.matches("\\\\(?=x\\\\)")')).not.toThrow();
    expect(() => parsePql('a.matches("[(?=]")')).not.toThrow();
    expect(() => parsePql('a.matches("[&]&&")')).not.toThrow();
    expect(() => parsePql('a.matches("a+?")')).not.toThrow();
    expect(() => parsePql('a.matches("\\\\Q\\\\1\\\\E")')).not.toThrow();
  });

  it('reports other RE2 syntax errors with the fragment RE2 names', () => {
    const err = parseError('a.matches("ab\\\\e")');
    expect(err.reason).toContain("invalid escape sequence '\\e'");
    expect(err.position).toBe(13);
    expect(parseError('a.matches("x{1001}")').reason).toContain(
      'invalid repeat count',
    );
  });
});

describe('like is a linear matcher', () => {
  it('keeps the like semantics', () => {
    expect(ev('a like "%x%"', { a: 'axb' })).toBe(true);
    expect(ev('a like "x%"', { a: 'axb' })).toBe(false);
    expect(ev('a like "a_b"', { a: 'a\nb' })).toBe(true);
    expect(ev('a like "a.*"', { a: 'abc' })).toBe(false);
    expect(ev('a like "a.*"', { a: 'a.*' })).toBe(true);
    expect(ev('a like "(?i)A"', { a: 'a' })).toBe(false);
    expect(ev('a like "\\\\Q%"', { a: '\\Qx' })).toBe(true);
  });

  it('many % against a long near-miss takes milliseconds', () => {
    const pattern = '%a'.repeat(40) + '%b';
    const value = 'a'.repeat(20_000);
    expect(ev(`a like "${pattern}"`, { a: value })).toBe(false);
    expect(timeEvaluation(`a like "${pattern}"`, { a: value })).toBeLessThan(
      50,
    );
  });
});

describe('definition-time limits', () => {
  const limits: PqlLimits = {
    maxTextLength: 60,
    maxNodes: 8,
    maxArrayItems: 3,
    maxPatternLength: 5,
    maxPatternSize: 1_000,
  };

  it('accepts what is within every limit', () => {
    expect(() =>
      parsePql('a in [1, 2, 3] and b.matches("x+")', { limits }),
    ).not.toThrow();
  });

  it('limits the text length, pointing at the first character past it', () => {
    const err = parseError(`a = "${'x'.repeat(60)}"`, limits);
    expect(err.reason).toBe(
      'PQL text is 66 characters long; at most 60 are allowed',
    );
    expect(err.position).toBe(60);
  });

  it('limits array literals, pointing at the first extra item', () => {
    const err = parseError('a in [1, 2, 3, 4]', limits);
    expect(err.reason).toBe(
      'Array literal has more than 3 items; at most 3 are allowed',
    );
    expect(err.position).toBe(15);
    expect(parseError('a.intersects([1, 2, 3, 4])', limits).position).toBe(23);
  });

  it('limits the node count', () => {
    const err = parseError('a = 1 or b = 2 or c = 3 or d = 4', limits);
    expect(err.reason).toContain('more than 8 nodes');
    expect(err.position).toBe(18);
  });

  it('limits pattern length for matches and like', () => {
    expect(parseError('a.matches("abcdef")', limits).reason).toBe(
      'Pattern is 6 characters long; at most 5 are allowed',
    );
    expect(parseError('a like "abcdef"', limits).position).toBe(7);
  });

  it('limits the estimated program size of the patterns together', () => {
    const big = { ...DEFAULT_PQL_LIMITS, maxPatternSize: 1_000 };
    expect(() =>
      parsePql('a.matches("x{500}") and b like "%x%"', { limits: big }),
    ).not.toThrow();
    const err = parseError(
      'a.matches("x{500}") and b.matches("(ab){300}")',
      big,
    );
    expect(err.reason).toContain('at most 1000 are allowed');
    expect(err.position).toBe(34);
    // One short pattern that would expand to 140,000 instructions (and take
    // most of a second to compile) is refused before it is compiled.
    const t0 = performance.now();
    expect(
      parseError(`a.matches("${'a{1000}'.repeat(140)}")`, DEFAULT_PQL_LIMITS)
        .reason,
    ).toContain('regular-expression instructions');
    expect(performance.now() - t0).toBeLessThan(50);
  });

  it('applies no limits when none are given (stored definitions re-read)', () => {
    const long = Array.from({ length: 1_500 }, (_, i) => i).join(', ');
    expect(() => parsePql(`a in [${long}]`)).not.toThrow();
    expect(parseError(`a in [${long}]`, DEFAULT_PQL_LIMITS).reason).toContain(
      'more than 1000 items',
    );
  });
});

describe('evaluation budget', () => {
  it('a pattern test that would exceed the budget is false', () => {
    // `^(a+)+$` is a 9-step program: 2 units per step and character.
    const fits = 'a'.repeat(Math.floor(EVALUATION_BUDGET / 18) - 2);
    const over = 'a'.repeat(Math.floor(EVALUATION_BUDGET / 18) + 1);
    expect(ev('a.matches("^(a+)+$")', { a: fits })).toBe(true);
    expect(ev('a.matches("^(a+)+$")', { a: over })).toBe(false);
  });

  it('is shared by the predicates of one evaluation', () => {
    // Half the budget each: two fit, the third does not.
    const half = 'a'.repeat(Math.floor(EVALUATION_BUDGET / 36) - 2);
    const data = { a: half, b: half, c: half };
    const two = 'a.matches("^(a+)+$") and b.matches("^(a+)+$")';
    expect(ev(two, data)).toBe(true);
    expect(ev(`${two} and c.matches("^(a+)+$")`, data)).toBe(false);
    // Each evaluation starts with a full budget.
    expect(ev('c.matches("^(a+)+$")', data)).toBe(true);
  });

  it('bounds array scans: intersects and includes on huge arrays', () => {
    const huge = Array.from({ length: 1_000_000 }, (_, i) => `v${i}`);
    expect(ev('a.intersects(["v1", "v2"])', { a: huge.slice(0, 1000) })).toBe(
      true,
    );
    expect(ev('a.intersects(["v1", "v2"])', { a: huge })).toBe(false);
    expect(ev('a.includes("v1")', { a: huge })).toBe(false);
    const dates = Array.from({ length: 100_000 }, () => '2020-01-02');
    expect(ev('a.includes(date(2020, 1, 2))', { a: dates.slice(0, 10) })).toBe(
      true,
    );
    expect(
      timeEvaluation('a.includes(date(2020, 1, 1))', { a: dates }),
    ).toBeLessThan(50);
    const list = `[${Array.from({ length: 1000 }, (_, i) => `"w${i}"`).join(', ')}]`;
    expect(timeEvaluation(`a.intersects(${list})`, { a: huge })).toBeLessThan(
      50,
    );
  });

  it('in/intersects with dates still compare by interval', () => {
    const text =
      'a.intersects([date(2020, 1, 1), date(2020, 1, 2), "x", 3, true])';
    expect(ev(text, { a: ['2020-01-02T23:59:59Z'] })).toBe(true);
    expect(ev(text, { a: ['2020-01-03T00:00:00Z'] })).toBe(false);
    expect(ev(text, { a: ['x'] })).toBe(true);
    expect(ev(text, { a: ['3'] })).toBe(false);
    expect(ev(text, { a: [3] })).toBe(true);
    expect(ev('a in [date(2020, 1, 1), 1]', { a: '2020-01-01' })).toBe(true);
    expect(ev('a in [date(2020, 1, 1), 1]', { a: '1' })).toBe(false);
    expect(ev('today in [date(2026, 11, 25)]', {})).toBe(true);
  });
});

describe('estimateProgramSize', () => {
  it.each([
    'abc',
    '^(a+)+$',
    '(?i)john',
    'x{1000}',
    'x{2,1000}',
    '(ab|cd){10,20}',
    '(?s:.){1000}',
    '(?P<n>a)(?:b{3}){4}',
    '[a-z[:alpha:]]{5}',
    '\\pL{100}',
    '[\\pL\\pN]{100}',
    '(?i)\\p{Greek}+',
    '\\Qa.b{9}\\E{3}',
    '\\x{41}{5}',
    '((a{10}){10}){10}',
    'a|b|c|d*',
  ])('does not underestimate RE2 for %s', (pattern) => {
    expect(estimateProgramSize(pattern)).toBeGreaterThanOrEqual(
      compileMatches(pattern).cost - 2,
    );
  });

  it('is linear for any text (no compile)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 1000 }), (pattern) => {
        expect(estimateProgramSize(pattern)).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 500 },
    );
  });
});

describe('any pattern text', () => {
  it('compiles or is a PatternError, and never throws when matching', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc
        .array(
          fc.constantFrom(
            '(',
            ')',
            '[',
            ']',
            '\\',
            '?',
            '<',
            '=',
            '!',
            '+',
            '*',
            '{',
            '}',
            ',',
            '1',
            '&',
            '^',
            '$',
            'P',
            'Q',
            'E',
            'p',
            ':',
            '\uD800',
            'é',
            '%',
            '_',
          ),
          { maxLength: 20 },
        )
        .map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(
        text,
        fc.string({ unit: 'binary', maxLength: 20 }),
        (p, v) => {
          for (const compile of [compileMatches, compileLike]) {
            let matcher;
            try {
              matcher = compile(p);
            } catch (e) {
              expect(e).toBeInstanceOf(PatternError);
              continue;
            }
            expect(typeof matcher.test(v)).toBe('boolean');
          }
        },
      ),
      { numRuns: 800 },
    );
  });

  it('like matches exactly what a direct reading of % and _ accepts', () => {
    // Reference: a memoised recursive matcher over code points.
    const reference = (pattern: string, value: string): boolean => {
      const tokens: string[] = [];
      for (let i = 0; i < pattern.length; i++) {
        const ch = pattern[i];
        if (ch === '\\' && (pattern[i + 1] === '%' || pattern[i + 1] === '_')) {
          tokens.push(`lit:${pattern[++i]}`);
        } else tokens.push(ch === '%' || ch === '_' ? ch : `lit:${ch}`);
      }
      const chars = Array.from(value); // code points, as `_` matches one
      const memo = new Map<string, boolean>();
      const go = (t: number, c: number): boolean => {
        const key = `${t},${c}`;
        const hit = memo.get(key);
        if (hit !== undefined) return hit;
        let r: boolean;
        if (t === tokens.length) r = c === chars.length;
        else if (tokens[t] === '%')
          r = go(t + 1, c) || (c < chars.length && go(t, c + 1));
        else if (c === chars.length) r = false;
        else if (tokens[t] === '_') r = go(t + 1, c + 1);
        else r = tokens[t].slice(4) === chars[c] && go(t + 1, c + 1);
        memo.set(key, r);
        return r;
      };
      return go(0, 0);
    };
    const alphabet = fc.constantFrom('a', 'b', '%', '_', '\\', '.', '*', 'é');
    const str = (max: number) =>
      fc.array(alphabet, { maxLength: max }).map((p) => p.join(''));
    fc.assert(
      fc.property(str(8), str(10), (pattern, value) => {
        expect(compileLike(pattern).test(value)).toBe(
          reference(pattern, value),
        );
      }),
      { numRuns: 3000 },
    );
  });
});
