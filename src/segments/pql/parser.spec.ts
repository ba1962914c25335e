import fc from 'fast-check';
import { PqlError, parsePql, type PqlNode } from './index.js';

function parseError(text: string): PqlError {
  try {
    parsePql(text);
  } catch (e) {
    if (e instanceof PqlError) return e;
    throw e;
  }
  throw new Error(`expected a PqlError for: ${text}`);
}

describe('parsePql: tree shape and positions', () => {
  it('parses a comparison with spans', () => {
    const node = parsePql('homeAddress.countryCode = "CA"');
    expect(node).toMatchObject({
      kind: 'compare',
      op: '=',
      start: 0,
      end: 30,
      left: {
        kind: 'path',
        segments: ['homeAddress', 'countryCode'],
        path: 'homeAddress.countryCode',
        start: 0,
        end: 23,
      },
      right: { kind: 'string', value: 'CA', start: 26, end: 30 },
    });
  });

  it('gives and precedence over or and flattens chains', () => {
    const node = parsePql('a = 1 or b = 2 and c = 3 or d = 4');
    expect(node.kind).toBe('or');
    if (node.kind !== 'or') return;
    expect(node.operands.map((o) => o.kind)).toEqual([
      'compare',
      'and',
      'compare',
    ]);
    expect(node.end).toBe(33);
  });

  it('widens a parenthesised node to include the parentheses', () => {
    const node = parsePql(' ( a = 1 ) ');
    expect(node).toMatchObject({ kind: 'compare', start: 1, end: 10 });
  });

  it('parses literals', () => {
    const node = parsePql(
      'a in ["x", -3, 2.5, 1e3, true, false, date(2020, 3, 14)]',
    );
    expect(node.kind).toBe('in');
    if (node.kind !== 'in') return;
    expect(node.list.items).toMatchObject([
      { kind: 'string', value: 'x' },
      { kind: 'number', value: -3, integer: true },
      { kind: 'number', value: 2.5, integer: false },
      { kind: 'number', value: 1000, integer: false },
      { kind: 'boolean', value: true },
      { kind: 'boolean', value: false },
      {
        kind: 'date',
        parts: [2020, 3, 14],
        startMs: Date.UTC(2020, 2, 14),
        endMs: Date.UTC(2020, 2, 15),
      },
    ]);
  });

  it('decodes string escapes and keeps unknown ones', () => {
    const node = parsePql('a = "q\\"b\\\\s\\n\\u0041\\d"');
    expect(node).toMatchObject({ right: { value: 'q"b\\s\nA\\d' } });
  });

  it('parses every occurs form', () => {
    const specs = [
      'a occurs <= 3 hours before now',
      'a occurs = 1 year from today',
      'a occurs last week',
      'a occurs this month',
      'a occurs next millennium',
      'a occurs between date(2020, 1, 1) and today',
      'a occurs before yesterday',
      'a occurs after date(2020, 1, 1, 10, 30)',
      'a occurs on tomorrow',
      'a occurs today',
    ].map((t) => (parsePql(t) as Extract<PqlNode, { kind: 'occurs' }>).spec);
    expect(specs.map((s) => s.form)).toEqual([
      'relative',
      'relative',
      'period',
      'period',
      'period',
      'between',
      'before',
      'after',
      'on',
      'on',
    ]);
    expect(specs[0]).toMatchObject({
      op: '<=',
      amount: 3,
      unit: 'hour',
      direction: 'before',
      anchor: { kind: 'relativeTime', word: 'now' },
    });
    expect(specs[1]).toMatchObject({ direction: 'after', unit: 'year' });
    expect(specs[4]).toMatchObject({ which: 'next', unit: 'millennium' });
  });

  it('accepts plural and singular units', () => {
    for (const unit of [
      'millisecond',
      'milliseconds',
      'second',
      'seconds',
      'minute',
      'minutes',
      'hour',
      'hours',
      'day',
      'days',
      'week',
      'weeks',
      'month',
      'months',
      'year',
      'years',
      'decade',
      'decades',
      'century',
      'centuries',
      'millennium',
      'millennia',
    ]) {
      expect(() => parsePql(`a occurs < 2 ${unit} before now`)).not.toThrow();
    }
  });

  it('parses method calls into dedicated nodes', () => {
    expect(parsePql('a.b.startsWith("x", false)')).toMatchObject({
      kind: 'stringFunction',
      fn: 'startsWith',
      caseSensitive: false,
      needle: 'x',
      target: { path: 'a.b' },
      start: 0,
      end: 26,
    });
    expect(parsePql('a.contains("AbC", false)')).toMatchObject({
      needle: 'abc',
    });
    expect(parsePql('a.isNotNull()')).toMatchObject({
      kind: 'nullCheck',
      negated: true,
    });
    expect(parsePql('a.includes(3)')).toMatchObject({
      kind: 'includes',
      value: { value: 3 },
    });
    expect(parsePql('a.intersects([1])')).toMatchObject({ kind: 'intersects' });
    expect(parsePql('a.matches("(?i)^x")')).toMatchObject({ kind: 'matches' });
  });

  it('treats keywords as field names after a dot', () => {
    expect(parsePql('a.in.like.occurs = 1')).toMatchObject({
      left: { segments: ['a', 'in', 'like', 'occurs'] },
    });
  });

  it('allows whitespace and newlines anywhere between tokens', () => {
    expect(() => parsePql('\n  a\n.\tb   =\r\n 1  ')).not.toThrow();
  });
});

describe('parsePql: errors name the position and what was expected', () => {
  it.each([
    ['', 0, 'Expected an expression but found end of input'],
    ['   ', 3, 'Expected an expression'],
    ['a =', 3, 'Expected a value but found end of input'],
    ['a = 1 b = 2', 6, "Expected 'and', 'or' or end of input but found 'b'"],
    ['a = 1 and', 9, 'Expected a value but found end of input'],
    ['a = 1 or or b = 1', 9, "found keyword 'or'"],
    ['(a = 1', 6, "Expected ')' to close '('"],
    ['a = 1)', 5, "Expected 'and', 'or' or end of input but found ')'"],
    ['not a = 1', 4, "Expected '(' after 'not'"],
    ['!a = 1', 1, "Expected '(' after '!'"],
    ['not (a = 1', 10, "Expected ')' to close 'not ('"],
    ['a = "unterminated', 4, 'Unterminated string literal'],
    ["a = 'x'", 4, 'String literals must use double quotes'],
    ['a = 1 & b = 2', 6, "Unexpected character '&'"],
    ['a == 1', 3, "Expected a value but found '='"],
    ['a = = 1', 4, "Expected a value but found '='"],
    ['a in 1', 5, "Expected an array literal '[...]' after 'in'"],
    ['a notIn "x"', 8, "after 'notIn'"],
    ['a in [1, 2', 10, "Expected ']' to close the array"],
    ['a in [b]', 6, 'Expected a literal'],
    ['a in [[1]]', 6, 'Expected a literal'],
    ['a like 5', 7, "Expected a string after 'like'"],
    ['a.', 2, "Expected an attribute or function name after '.'"],
    ['a.1 = 2', 2, "Expected an attribute or function name after '.'"],
    ['a 1', 2, 'Expected a comparison operator'],
    ['"x"', 3, 'Expected a comparison operator'],
    ['1abc = 2', 0, "Invalid number '1a'"],
    ['a = 1e999', 4, 'out of range'],
    ['a = [1]', 4, "An array literal is only allowed after 'in'"],
    ['a = b.isNull()', 4, "Expected a value after '=' but found a condition"],
    ['a.isNull() = true', 11, "Expected 'and', 'or' or end of input"],
    ['a.startsWith(1)', 13, "'startsWith' expects a string argument"],
    ['a.startsWith("x", "y")', 18, 'must be true or false'],
    ['a.startsWith()', 2, "'startsWith' expects a string and an optional"],
    ['a.startsWith("a", true, 1)', 2, 'got 3 argument(s)'],
    ['a.isNull(1)', 2, "'isNull' expects no arguments"],
    ['a.includes([1])', 11, "use 'intersects'"],
    ['a.intersects(1)', 13, "'intersects' expects an array literal"],
    ['a.matches("(")', 10, 'Invalid regular expression'],
    ['a.matches("[a-")', 10, 'Invalid regular expression'],
    ['a.startsWith("x"', 16, "Expected ')' to close 'startsWith('"],
    [
      'a.startsWith("x").contains("y")',
      17,
      "Unsupported: calls chained after 'startsWith()'",
    ],
    ['a occurs', 8, "Expected a comparison, 'last', 'this', 'next'"],
    ['a occurs < x days before now', 11, 'Expected a non-negative integer'],
    ['a occurs < -3 days before now', 11, 'Expected a non-negative integer'],
    ['a occurs < 3 fortnights before now', 13, 'Expected a time unit'],
    ['a occurs < 3 days ago', 18, "Expected 'before', 'after' or 'from'"],
    [
      'a occurs < 3 days before later',
      25,
      'Expected now, today, yesterday, tomorrow or date(...)',
    ],
    ['a occurs last', 13, 'Expected a time unit'],
    ['a occurs between today', 22, "Expected 'and' in 'occurs between"],
    ['a occurs between date(2020, 1, 1) or today', 34, "Expected 'and'"],
    ['"x" occurs last week', 0, "'occurs' must follow an attribute path"],
    ['a occurs before currentDate()', 16, "Unsupported function 'currentDate'"],
    ['a = date(2020, 13, 1)', 15, 'Invalid date: month must be 1-12'],
    ['a = date(2021, 2, 29)', 18, 'Invalid date: day must be 1-28'],
    ['a = date(2020, 1)', 4, 'date(...) expects year, month, day'],
    ['a = date(2020, 1, 1, 24)', 21, 'hour must be 0-23'],
    [
      'a = date(2020, -1, 1)',
      15,
      'Expected a non-negative integer in date(...)',
    ],
    [
      'a = date(2020.5, 1, 1)',
      9,
      'Expected a non-negative integer in date(...)',
    ],
    ['$2.a = 1', 0, 'Only the first parameter ($1, the profile) is supported'],
    ['$1 = 1', 3, "Expected '.' and an attribute name after '$1'"],
    ['$ = 1', 1, "Expected a parameter number after '$'"],
    ['(P) => P = 1', 9, "Expected '.' and an attribute name after 'P'"],
    ['a = "\\u00zz"', 5, 'Invalid unicode escape'],
  ] as const)('%j → position %i', (text, position, message) => {
    const err = parseError(text);
    expect(err.position).toBe(position);
    expect(err.reason).toContain(message);
    expect(err.message).toBe(`${err.reason} at line 1, column ${position + 1}`);
  });

  it.each([
    [
      'person.name.regexGroup("x", 1) = "y"',
      12,
      "Unsupported function 'regexGroup'",
    ],
    ['a.count() > 3', 2, "Unsupported function 'count'"],
    ['a.sum(x) > 3', 2, "Unsupported function 'sum'"],
    ['a.subsetOf([1])', 2, "Unsupported function 'subsetOf'"],
    ['a.getMonth() = 6', 2, "Unsupported function 'getMonth'"],
    ['a.foo()', 2, "Unsupported function 'foo'"],
    ['a = currentMonth()', 4, "Unsupported function 'currentMonth'"],
    ['upper(a) = "X"', 0, "Unsupported function 'upper'"],
    [
      'exists E from xEvent where (E.x = 1)',
      0,
      "Unsupported quantifier 'exists'",
    ],
    ['forall E from xEvent: (E.x = 1)', 0, "Unsupported quantifier 'forall'"],
    [
      'xEvent.commerce.order.priceTotal > 10',
      0,
      "ExperienceEvent queries ('xEvent') are not supported",
    ],
    ['a = 1 and xEvent.x = 2', 10, "ExperienceEvent queries ('xEvent')"],
    ['if (a = 1, true, false)', 0, "Unsupported function 'if'"],
    ['sum X.p over X from xEvent > 3', 0, "Unsupported aggregation 'sum'"],
    ['count(xEvent) > 3', 0, "Unsupported aggregation 'count'"],
    ['let S = (a) in (S = 1)', 0, "Unsupported expression 'let'"],
    ['a = 1 : b', 6, "Unexpected character ':'"],
    ['a = 1 and b ~ xEvent', 12, "Unexpected character '~'"],
  ] as const)('unsupported: %j', (text, position, message) => {
    const err = parseError(text);
    expect(err.position).toBe(position);
    expect(err.reason).toContain(message);
  });

  it('reports the exact message format from the brief', () => {
    expect(parseError('person.name.regexGroup("x", 1) = "y"').message).toBe(
      "Unsupported function 'regexGroup' at line 1, column 13",
    );
  });

  it('computes line and column on later lines', () => {
    const err = parseError('a = 1\n  and\n    b ~ 2');
    expect(err).toMatchObject({ position: 18, line: 3, column: 7 });
    expect(err.message).toBe("Unexpected character '~' at line 3, column 7");
  });

  it('keywords are case sensitive', () => {
    expect(parseError('a = 1 AND b = 2').reason).toContain("found 'AND'");
    expect(parseError('a = 1 Or b = 2').reason).toContain("found 'Or'");
    expect(parseError('a IN [1]').reason).toContain("found 'IN'");
    expect(parsePql('a = TRUE')).toMatchObject({
      right: { kind: 'path', path: 'TRUE' },
    });
    expect(parseError('NOT (a = 1)').reason).toBe("Unsupported function 'NOT'");
    expect(parseError('a OCCURS last week').reason).toContain("found 'OCCURS'");
  });

  it('is a real Error subclass', () => {
    const err = parseError('(');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('PqlError');
  });

  it('rejects absurd nesting with a PqlError instead of a stack overflow', () => {
    const deep = '('.repeat(5000) + 'a = 1' + ')'.repeat(5000);
    expect(parseError(deep).reason).toContain('nested too deeply');
    const notDeep = 'not ('.repeat(5000) + 'a = 1' + ')'.repeat(5000);
    expect(parseError(notDeep).reason).toContain('nested too deeply');
    expect(() =>
      parsePql('('.repeat(60) + 'a = 1' + ')'.repeat(60)),
    ).not.toThrow();
  });

  it('rejects a non-string input with a PqlError', () => {
    expect(() => parsePql(42 as unknown as string)).toThrow(PqlError);
  });
});

describe('parsePql: fuzzing', () => {
  function onlyPqlErrors(text: string): boolean {
    try {
      parsePql(text);
      return true;
    } catch (e) {
      return (
        e instanceof PqlError && e.position >= 0 && e.position <= text.length
      );
    }
  }

  it('random strings give a node or a PqlError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), onlyPqlErrors),
      {
        numRuns: 3000,
      },
    );
  });

  const pieces = [
    'a',
    'b.c',
    '$1',
    '$1.x',
    '(P) =>',
    'P.x',
    '=',
    '!=',
    '<',
    '<=',
    '>',
    '>=',
    'and',
    'or',
    'not',
    '!',
    '(',
    ')',
    '[',
    ']',
    ',',
    '.',
    '"x"',
    '"%a_"',
    '"("',
    '1',
    '-2',
    '3.5',
    'true',
    'false',
    'in',
    'notIn',
    'like',
    'occurs',
    'between',
    'last',
    'this',
    'next',
    'day',
    'weeks',
    'before',
    'after',
    'from',
    'on',
    'now',
    'today',
    'date(2020, 1, 1)',
    'date(',
    'startsWith("a")',
    '.contains("x", false)',
    '.matches("[")',
    '.isNull()',
    '.includes(1)',
    '.intersects([1])',
    'xEvent',
    'exists',
    'count()',
    '"unterminated',
    '\\',
    '@',
  ];

  it('random token soups give a node or a PqlError', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...pieces), { maxLength: 25 }),
        fc.constantFrom(' ', '', '\n'),
        (parts, sep) => onlyPqlErrors(parts.join(sep)),
      ),
      { numRuns: 5000 },
    );
  });
});
