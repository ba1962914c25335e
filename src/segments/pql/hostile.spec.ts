import fc from 'fast-check';
import {
  DEFAULT_PQL_LIMITS,
  PqlError,
  evaluatePql,
  parsePql,
  type PqlNode,
} from './index.js';

/**
 * Any PQL text is either refused when the definition is written, or
 * evaluates quickly on adversarial profile values. The bound holding by
 * construction is `EVALUATION_BUDGET` (a few ms); the assertion leaves room
 * for a loaded CI machine.
 */
const TIME_LIMIT_MS = 50;
const NOW = new Date('2026-11-25T12:00:00Z');

const regexAtom = fc.constantFrom(
  'a',
  'b',
  '!',
  '.',
  '\\d',
  '\\pL',
  '[ab]',
  '[^!]',
  '(a+)+',
  '(a|aa)*',
  '(a*)*',
  '(.*a){20}',
  '(x+x+)+',
  'a{0,1000}',
  '(?i)',
  '(?s)',
  '^',
  '$',
  '(',
  ')',
  '*',
  '+',
  '?',
  '{2,5}',
  '{1000}',
  '|',
  '\\1',
  '(?=a)',
  '(?<!a)',
  'a++',
  '[a&&b]',
);
const likeAtom = fc.constantFrom('%', '_', 'a', 'b', '!', '\\%', '.*', '(');
const pattern = (atom: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.array(atom, { maxLength: 40 }).map((parts) => parts.join(''));
const literal = fc.constantFrom(
  '"a"',
  '"aaaa"',
  '1',
  'true',
  'date(2020, 1, 1)',
  '"2020-01-01"',
);
const literalList = fc
  .tuple(fc.array(literal, { maxLength: 5 }), fc.nat({ max: 1200 }))
  .map(([items, extra]) =>
    [...items, ...Array.from({ length: extra }, (_, i) => `"v${i}"`)].join(
      ', ',
    ),
  );
const path = fc.constantFrom('s', 'long', 'arr', 'dates', 'missing');

const predicate: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(path, pattern(regexAtom)).map(([p, r]) => `${p}.matches("${r}")`),
  fc.tuple(path, pattern(likeAtom)).map(([p, l]) => `${p} like "${l}"`),
  fc
    .tuple(path, fc.constantFrom('contains', 'startsWith', 'doesNotEndWith'))
    .map(([p, fn]) => `${p}.${fn}("aaa!", false)`),
  fc.tuple(path, literalList).map(([p, l]) => `${p}.intersects([${l}])`),
  fc.tuple(path, literalList).map(([p, l]) => `${p} in [${l}]`),
  fc.tuple(path, literal).map(([p, l]) => `${p}.includes(${l})`),
  fc.tuple(path, literal).map(([p, l]) => `${p} = ${l}`),
);

const expression: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    predicate,
    fc
      .tuple(tie('e'), fc.constantFrom(' and ', ' or '), tie('e'))
      .map(([l, op, r]) => `${l}${op}${r}`),
    tie('e').map((e) => `not (${e})`),
    fc
      .tuple(predicate, fc.nat({ max: 300 }))
      .map(([p, n]) => Array.from({ length: n + 1 }, () => p).join(' or ')),
  ),
})).e;

const profiles: Record<string, unknown>[] = [
  {
    s: 'a'.repeat(30_000) + '!',
    long: 'a'.repeat(500_000),
    arr: Array.from({ length: 120_000 }, () => '2020-01-01'),
    dates: Array.from({ length: 100_000 }, () => '2020-01-01T00:00:00Z'),
  },
  {
    s: 'ab'.repeat(20_000),
    long: '!'.repeat(1_000_000),
    arr: Array.from({ length: 300_000 }, (_, i) => `v${i}`),
    dates: 'a'.repeat(100_000),
  },
];

function parseOrRefuse(text: string): PqlNode | null {
  try {
    return parsePql(text, { limits: DEFAULT_PQL_LIMITS });
  } catch (e) {
    if (e instanceof PqlError) return null;
    throw e;
  }
}

describe('hostile PQL: refused at definition time or evaluated within the time limit', () => {
  it('holds for generated expressions on adversarial profiles', () => {
    let evaluated = 0;
    let refused = 0;
    fc.assert(
      fc.property(expression, (text) => {
        const node = parseOrRefuse(text);
        if (node === null) {
          refused++;
          return;
        }
        evaluated++;
        for (const profile of profiles) {
          // Best of three: a garbage-collection pause of this file's large
          // heap, or the machine's other load, is not the evaluation's cost.
          let ms = Infinity;
          for (let i = 0; i < 3 && ms > TIME_LIMIT_MS; i++) {
            const t0 = performance.now();
            evaluatePql(node, profile, NOW);
            ms = Math.min(ms, performance.now() - t0);
          }
          if (ms > TIME_LIMIT_MS) {
            throw new Error(`${ms.toFixed(1)} ms evaluating: ${text}`);
          }
        }
      }),
      { numRuns: 300, seed: 13 },
    );
    // Both outcomes occur, so the property is not vacuous.
    expect(evaluated).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(20);
  });
});
