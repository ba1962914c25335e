import {
  evaluatePql,
  isTimeRelative,
  parsePql,
  referencedPaths,
} from './index.js';

// Wednesday; the ISO week runs Monday 2026-11-23 .. Sunday 2026-11-29.
const NOW = new Date('2026-11-25T12:00:00Z');

const profile: Record<string, unknown> = {
  person: {
    name: { firstName: 'Jane', lastName: 'Doe' },
    birthYear: 1985,
    birthMonth: 6,
    birthDate: '1985-06-15',
    favoriteColors: ['red', 'blue'],
    luckyNumbers: [3, 7],
    isVip: true,
    isBlocked: false,
    nickname: null,
    emailAddress: 'jane.doe@Example.com',
  },
  homeAddress: { countryCode: 'CA', city: 'Vancouver', stateProvince: 'BC' },
  workAddress: { stateProvince: 'BC', country: 'US' },
  score: 4.5,
  lastPurchase: '2026-11-20T10:00:00Z',
  signupTime: '2026-11-25T09:30:00+01:00',
  special: 'a.b*c(d)+[e]?$^|\\x',
  tags: [],
  nested: { list: [{ a: 1 }] },
};

function ev(text: string, data: Record<string, unknown> = profile): boolean {
  return evaluatePql(parsePql(text), data, NOW);
}

function cases(
  title: string,
  rows: ReadonlyArray<readonly [string, boolean]>,
): void {
  describe(title, () => {
    it.each(rows)('%s → %s', (text, expected) => {
      expect(ev(text)).toBe(expected);
    });
  });
}

cases('comparison operators', [
  ['homeAddress.countryCode = "CA"', true],
  ['homeAddress.countryCode = "US"', false],
  ['homeAddress.countryCode != "US"', true],
  ['homeAddress.countryCode != "CA"', false],
  ['person.birthYear < 1990', true],
  ['person.birthYear < 1985', false],
  ['person.birthYear <= 1985', true],
  ['person.birthYear <= 1984', false],
  ['person.birthYear > 1980', true],
  ['person.birthYear > 1985', false],
  ['person.birthYear >= 1985', true],
  ['person.birthYear >= 1986', false],
  ['score = 4.5', true],
  ['score > 4.49', true],
  ['score < 4.5', false],
  ['1985 = person.birthYear', true],
  ['1990 < person.birthYear', false],
  ['homeAddress.city > "Toronto"', true],
  ['homeAddress.city < "Toronto"', false],
  ['person.isVip = true', true],
  ['person.isVip = false', false],
  ['person.isVip != false', true],
  ['person.isVip > false', false],
  ['homeAddress.stateProvince = workAddress.stateProvince', true],
  ['homeAddress.countryCode = workAddress.country', false],
]);

cases('missing values and type mismatches', [
  ['person.middleName = "X"', false],
  ['person.middleName != "X"', false],
  ['person.nickname = "X"', false],
  ['person.nickname != "X"', false],
  ['person.birthYear = "1985"', false],
  ['person.birthYear != "1985"', false],
  ['homeAddress.countryCode < 5', false],
  ['person.name = "Jane"', false],
  ['person.favoriteColors = "red"', false],
  ['homeAddress.countryCode.inner = "CA"', false],
  ['nested.list.a = 1', false],
  ['person.isVip = 1', false],
  ['constructor = 1', false],
  ['person.name.firstName.length = 4', false],
]);

cases('boolean logic and grouping', [
  ['homeAddress.countryCode = "CA" and person.birthYear = 1985', true],
  ['homeAddress.countryCode = "CA" and person.birthYear = 1986', false],
  ['homeAddress.countryCode = "US" or person.birthYear = 1985', true],
  ['homeAddress.countryCode = "US" or person.birthYear = 1986', false],
  ['not (homeAddress.countryCode = "US")', true],
  ['not (homeAddress.countryCode = "CA")', false],
  ['!(homeAddress.countryCode = "US")', true],
  ['!(homeAddress.countryCode = "CA")', false],
  ['not (person.middleName = "X")', true],
  ['score = 1 or score = 2 and score = 4.5', false],
  ['(score = 1 or score = 2) and score = 4.5', false],
  ['score = 4.5 or score = 2 and score = 1', true],
  ['(score = 4.5 or score = 2) and not (score = 1)', true],
  ['((((score = 4.5))))', true],
  ['true', true],
  ['false', false],
  ['person.isVip', true],
  ['person.isBlocked', false],
  ['person.middleName', false],
]);

cases('in / notIn', [
  ['person.birthMonth in [3, 6, 9]', true],
  ['person.birthMonth in [1, 2]', false],
  ['person.birthMonth in []', false],
  ['homeAddress.countryCode in ["US", "CA"]', true],
  ['homeAddress.countryCode in ["ca"]', false],
  ['person.birthMonth in ["6"]', false],
  ['person.birthMonth notIn [1, 2]', true],
  ['person.birthMonth notIn [6]', false],
  ['person.middleName in ["X"]', false],
  ['person.middleName notIn ["X"]', false],
  ['person.nickname notIn ["X"]', false],
  ['person.birthDate in [date(1985, 6, 15), date(1990, 1, 1)]', true],
  ['person.birthDate in [date(1985, 6, 16)]', false],
]);

cases('like', [
  ['homeAddress.city like "%ou%"', true],
  ['homeAddress.city like "%xx%"', false],
  ['homeAddress.city like "Van%"', true],
  ['homeAddress.city like "van%"', false],
  ['homeAddress.city like "%ver"', true],
  ['homeAddress.city like "Vancouve_"', true],
  ['homeAddress.city like "Vancouv_"', false],
  ['homeAddress.city like "V_n%r"', true],
  ['homeAddress.city like "Vancouver"', true],
  ['homeAddress.city like "Vancouve"', false],
  ['special like "a.b*c(d)+[e]?$^|\\\\x"', true],
  ['special like "a_b*c(d)+[e]?$^|%"', true],
  ['special like "aXb%"', false],
  ['special like ".*"', false],
  ['person.birthYear like "19%"', false],
  ['person.middleName like "%"', false],
]);

describe('like escapes', () => {
  it('treats \\% and \\_ as literal characters', () => {
    const data = { code: '100%_off' };
    expect(ev('code like "100\\%\\_off"', data)).toBe(true);
    expect(ev('code like "100\\%Xoff"', data)).toBe(false);
    expect(ev('code like "100\\%%"', data)).toBe(true);
    expect(ev('code like "100\\%%"', { code: '1000' })).toBe(false);
  });

  it('matches one code point with _', () => {
    expect(ev('emoji like "a_b"', { emoji: 'a😀b' })).toBe(true);
  });
});

cases('string functions', [
  ['person.name.firstName.startsWith("Ja")', true],
  ['person.name.firstName.startsWith("ja")', false],
  ['person.name.firstName.startsWith("ja", false)', true],
  ['person.name.firstName.startsWith("ja", true)', false],
  ['person.emailAddress.endsWith(".com")', true],
  ['person.emailAddress.endsWith(".org")', false],
  ['person.emailAddress.endsWith("EXAMPLE.COM", false)', true],
  ['person.emailAddress.contains("@Example")', true],
  ['person.emailAddress.contains("@example")', false],
  ['person.emailAddress.contains("@example", false)', true],
  ['person.name.firstName.doesNotStartWith("Jo")', true],
  ['person.name.firstName.doesNotStartWith("Ja")', false],
  ['person.name.firstName.doesNotStartWith("ja", false)', false],
  ['person.emailAddress.doesNotEndWith(".org")', true],
  ['person.emailAddress.doesNotEndWith(".com")', false],
  ['person.emailAddress.doesNotContain("xyz")', true],
  ['person.emailAddress.doesNotContain("doe")', false],
  ['person.name.firstName.equals("Jane")', true],
  ['person.name.firstName.equals("jane")', false],
  ['person.name.firstName.equals("jane", false)', true],
  ['person.name.firstName.notEqualTo("John")', true],
  ['person.name.firstName.notEqualTo("Jane")', false],
  ['person.middleName.startsWith("J")', false],
  ['person.middleName.doesNotStartWith("J")', false],
  ['person.middleName.doesNotContain("J")', false],
  ['person.birthYear.contains("19")', false],
  ['person.favoriteColors.contains("red")', false],
]);

cases('matches', [
  ['person.name.firstName.matches("^J.n")', true],
  ['person.name.firstName.matches("^j")', false],
  ['person.name.firstName.matches("(?i)^j")', true],
  ['person.emailAddress.matches("[a-z]+\\\\.[a-z]+@")', true],
  ['person.emailAddress.matches("\\d")', false],
  ['person.middleName.matches(".*")', false],
  ['person.birthYear.matches("1985")', false],
]);

cases('null checks', [
  ['person.middleName.isNull()', true],
  ['person.nickname.isNull()', true],
  ['person.name.firstName.isNull()', false],
  ['person.name.firstName.isNotNull()', true],
  ['person.middleName.isNotNull()', false],
  ['person.nickname.isNotNull()', false],
  ['homeAddress.isNotNull()', true],
  ['tags.isNull()', false],
  ['person.isBlocked.isNotNull()', true],
]);

cases('array functions', [
  ['person.favoriteColors.includes("red")', true],
  ['person.favoriteColors.includes("green")', false],
  ['person.luckyNumbers.includes(7)', true],
  ['person.luckyNumbers.includes("7")', false],
  ['tags.includes("x")', false],
  ['homeAddress.city.includes("V")', false],
  ['person.missing.includes("x")', false],
  ['person.favoriteColors.intersects(["green", "blue"])', true],
  ['person.favoriteColors.intersects(["green", "pink"])', false],
  ['person.favoriteColors.intersects([])', false],
  ['person.luckyNumbers.intersects([1, 3])', true],
  ['person.missing.intersects([1, 3])', false],
]);

cases('dates in comparisons', [
  ['person.birthDate = date(1985, 6, 15)', true],
  ['person.birthDate = date(1985, 6, 16)', false],
  ['person.birthDate != date(1985, 6, 16)', true],
  ['person.birthDate < date(1990, 1, 1)', true],
  ['person.birthDate < date(1985, 6, 15)', false],
  ['person.birthDate <= date(1985, 6, 15)', true],
  ['person.birthDate > date(1985, 6, 14)', true],
  ['person.birthDate > date(1985, 6, 15)', false],
  ['person.birthDate >= date(1985, 6, 15)', true],
  ['date(1990, 1, 1) > person.birthDate', true],
  ['lastPurchase = date(2026, 11, 20)', true],
  ['lastPurchase = date(2026, 11, 20, 10, 0, 0)', true],
  ['lastPurchase = date(2026, 11, 20, 10, 0, 1)', false],
  ['lastPurchase < now', true],
  ['lastPurchase > now', false],
  ['lastPurchase < today', true],
  ['signupTime = today', true],
  ['signupTime = yesterday', false],
  ['signupTime < tomorrow', true],
  ['person.birthYear < date(2000, 1, 1)', false],
  ['homeAddress.city < date(2000, 1, 1)', false],
]);

cases('occurs relative to now/today', [
  ['lastPurchase occurs < 7 days before now', true],
  ['lastPurchase occurs < 5 days before now', false],
  ['lastPurchase occurs <= 5 days before today', true],
  ['lastPurchase occurs > 3 days before now', true],
  ['lastPurchase occurs > 6 days before now', false],
  ['lastPurchase occurs >= 5 days before now', true],
  ['lastPurchase occurs = 5 days before today', true],
  ['lastPurchase occurs = 4 days before today', false],
  ['lastPurchase occurs != 4 days before today', true],
  ['lastPurchase occurs = 122 hours before now', true],
  ['lastPurchase occurs < 1 months before now', true],
  ['lastPurchase occurs = 1 week before now', true],
  ['lastPurchase occurs < 3 days after now', false],
  ['person.birthDate occurs > 40 years before today', true],
  ['person.birthDate occurs > 42 years before today', false],
  ['signupTime occurs = 0 days before today', true],
  ['lastPurchase occurs last week', true],
  ['lastPurchase occurs this week', false],
  ['signupTime occurs this week', true],
  ['signupTime occurs this month', true],
  ['lastPurchase occurs this month', true],
  ['lastPurchase occurs next month', false],
  ['lastPurchase occurs last month', false],
  ['lastPurchase occurs this year', true],
  ['person.birthDate occurs this decade', false],
  ['person.birthDate occurs last century', true],
  ['person.birthDate occurs this century', false],
  ['signupTime occurs today', true],
  ['signupTime occurs on today', true],
  ['lastPurchase occurs on yesterday', false],
  ['lastPurchase occurs before today', true],
  ['lastPurchase occurs after today', false],
  ['lastPurchase occurs before now', true],
  ['person.missing occurs this year', false],
  ['homeAddress.city occurs before now', false],
  ['person.birthYear occurs before now', false],
]);

describe('occurs after / next (future dates)', () => {
  const data = { renewal: '2026-11-27T08:00:00Z', trialEnd: '2026-12-01' };
  it.each([
    ['renewal occurs < 3 days after now', true],
    ['renewal occurs < 1 days after now', false],
    ['renewal occurs <= 2 days after today', true],
    ['renewal occurs > 1 days after now', true],
    ['renewal occurs >= 3 days after now', false],
    ['renewal occurs = 2 days from today', true],
    ['renewal occurs = 2 days before today', false],
    ['renewal occurs this week', true],
    ['trialEnd occurs next week', true],
    ['trialEnd occurs next month', true],
    ['renewal occurs next week', false],
    ['renewal occurs after now', true],
    ['renewal occurs after tomorrow', true],
    ['renewal occurs on tomorrow', false],
  ] as const)('%s → %s', (text, expected) => {
    expect(ev(text, data)).toBe(expected);
  });
});

cases('occurs with date literals', [
  [
    'lastPurchase occurs between date(2026, 11, 1) and date(2026, 11, 30)',
    true,
  ],
  [
    'lastPurchase occurs between date(2026, 11, 20) and date(2026, 11, 20)',
    true,
  ],
  [
    'lastPurchase occurs between date(2026, 10, 1) and date(2026, 10, 31)',
    false,
  ],
  ['lastPurchase occurs between date(2026, 11, 21) and now', false],
  ['lastPurchase occurs before date(2026, 11, 21)', true],
  ['lastPurchase occurs before date(2026, 11, 20)', false],
  ['lastPurchase occurs after date(2026, 11, 19)', true],
  ['lastPurchase occurs after date(2026, 11, 20)', false],
  ['lastPurchase occurs on date(2026, 11, 20)', true],
  ['lastPurchase occurs date(2026, 11, 21)', false],
  ['lastPurchase occurs < 2 days after date(2026, 11, 19)', true],
  ['lastPurchase occurs > 2 days after date(2026, 11, 19)', false],
  [
    'lastPurchase occurs between date(2026, 11, 1) and date(2026, 11, 30) and person.birthYear = 1985',
    true,
  ],
]);

cases('parameter prefixes', [
  ['$1.homeAddress.countryCode = "CA"', true],
  ['$1.homeAddress.countryCode = "US"', false],
  ['(Profile) => Profile.homeAddress.countryCode = "CA"', true],
  ['(Profile) => Profile.homeAddress.countryCode = "US"', false],
  ['(P) => P.person.name.firstName.startsWith("J") and P.score > 4', true],
  ['p => p.person.favoriteColors.includes("red")', true],
]);

describe('robustness', () => {
  const exprs = [
    'a = 1',
    'a != "x"',
    'a < date(2020, 1, 1)',
    'a in [1, "x", true, date(2020, 1, 1)]',
    'a notIn [1]',
    'a like "%x_"',
    'a.startsWith("x", false)',
    'a.matches("x+")',
    'a.includes(1)',
    'a.intersects([1, "x"])',
    'a.isNull()',
    'a occurs < 3 days before now',
    'a occurs last month',
    'a occurs between date(2020, 1, 1) and today',
    'a.b.c = 1',
    'a',
  ];
  const weird: unknown[] = [
    undefined,
    null,
    0,
    -1,
    Number.MAX_VALUE,
    '',
    'x',
    '2020-13-45',
    '2020-02-30T25:99:99Z',
    true,
    [],
    [null, {}, [1]],
    {},
    { b: { c: {} } },
    { toString: 1, valueOf: 1 },
    Object.create(null) as unknown,
  ];
  it('never throws and always returns a boolean for odd profile data', () => {
    for (const text of exprs) {
      const node = parsePql(text);
      for (const value of weird) {
        for (const now of [NOW, new Date(NaN)]) {
          const result = evaluatePql(node, { a: value }, now);
          expect(typeof result).toBe('boolean');
        }
      }
    }
  });

  it('does not read inherited properties', () => {
    expect(ev('__proto__.x.isNotNull()', {})).toBe(false);
    expect(ev('toString.isNotNull()', {})).toBe(false);
    expect(ev('hasOwnProperty.isNull()', {})).toBe(true);
  });

  it('keeps month-end calendar arithmetic clamped', () => {
    const node = parsePql('d occurs = 1 month before now');
    const now = new Date('2026-03-31T12:00:00Z');
    expect(evaluatePql(node, { d: '2026-02-28T01:00:00Z' }, now)).toBe(true);
    expect(evaluatePql(node, { d: '2026-03-02T01:00:00Z' }, now)).toBe(false);
  });

  it('reads timestamps with offsets as instants', () => {
    // 2026-11-25T09:30+01:00 is 08:30Z, before 09:00Z.
    expect(ev('signupTime < date(2026, 11, 25, 9, 0, 0)')).toBe(true);
    expect(ev('signupTime < date(2026, 11, 25, 8, 0, 0)')).toBe(false);
  });
});

describe('referencedPaths', () => {
  it('lists every attribute read, once, without prefixes', () => {
    const node = parsePql(
      '$1.homeAddress.countryCode = "CA" and (person.name.firstName.startsWith("J") or not (homeAddress.countryCode in ["US"])) and lastPurchase occurs last week and person.tags.includes("x") and a = b',
    );
    expect(referencedPaths(node)).toEqual([
      'homeAddress.countryCode',
      'person.name.firstName',
      'lastPurchase',
      'person.tags',
      'a',
      'b',
    ]);
  });

  it('strips a lambda variable', () => {
    expect(
      referencedPaths(
        parsePql('(Profile) => Profile.x.y = 1 and Profile.z.isNull()'),
      ),
    ).toEqual(['x.y', 'z']);
  });

  it('is empty for a constant', () => {
    expect(referencedPaths(parsePql('true'))).toEqual([]);
  });
});

describe('isTimeRelative', () => {
  it.each([
    ['a occurs < 3 days before now', true],
    ['a occurs last week', true],
    ['a occurs this month', true],
    ['a occurs before today', true],
    ['a occurs between date(2020, 1, 1) and tomorrow', true],
    ['b = 1 or not (a < now)', true],
    ['a > yesterday', true],
    ['a occurs between date(2020, 1, 1) and date(2021, 1, 1)', false],
    ['a occurs before date(2020, 1, 1)', false],
    ['a < date(2020, 1, 1)', false],
    ['a = 1 and b.startsWith("x")', false],
  ] as const)('%s → %s', (text, expected) => {
    expect(isTimeRelative(parsePql(text))).toBe(expected);
  });
});

describe('occurs boundaries (whole-unit periods, UTC)', () => {
  const at = (text: string, value: string): boolean =>
    evaluatePql(parsePql(text), { t: value }, NOW);

  it('"< N days before now" covers the N-1 previous whole days and today up to now', () => {
    const q = 't occurs < 7 days before now';
    expect(at(q, '2026-11-18T23:59:59.999Z')).toBe(false);
    expect(at(q, '2026-11-19T00:00:00Z')).toBe(true);
    expect(at(q, '2026-11-25T12:00:00Z')).toBe(true);
    expect(at(q, '2026-11-25T12:00:00.001Z')).toBe(false);
  });

  it('"= N days before today" is exactly that UTC day', () => {
    const q = 't occurs = 1 day before today';
    expect(at(q, '2026-11-23T23:59:59.999Z')).toBe(false);
    expect(at(q, '2026-11-24T00:00:00Z')).toBe(true);
    expect(at(q, '2026-11-24T23:59:59.999Z')).toBe(true);
    expect(at(q, '2026-11-25T00:00:00Z')).toBe(false);
  });

  it('"last week" is the previous Monday-to-Sunday week', () => {
    expect(at('t occurs last week', '2026-11-16T00:00:00Z')).toBe(true);
    expect(at('t occurs last week', '2026-11-22T23:59:59Z')).toBe(true);
    expect(at('t occurs last week', '2026-11-15T23:59:59Z')).toBe(false);
    expect(at('t occurs last week', '2026-11-23T00:00:00Z')).toBe(false);
  });

  it('"before"/"after" a day exclude the day itself', () => {
    expect(at('t occurs before today', '2026-11-24T23:59:59Z')).toBe(true);
    expect(at('t occurs before today', '2026-11-25T00:00:00Z')).toBe(false);
    expect(at('t occurs after today', '2026-11-25T23:59:59Z')).toBe(false);
    expect(at('t occurs after today', '2026-11-26T00:00:00Z')).toBe(true);
  });

  it('"between" includes both end days', () => {
    const q = 't occurs between date(2026, 1, 1) and date(2026, 1, 31)';
    expect(at(q, '2025-12-31T23:59:59Z')).toBe(false);
    expect(at(q, '2026-01-01T00:00:00Z')).toBe(true);
    expect(at(q, '2026-01-31T23:59:59Z')).toBe(true);
    expect(at(q, '2026-02-01T00:00:00Z')).toBe(false);
  });

  it('accepts date-only, offset and zone-less timestamps and rejects junk', () => {
    const q = 't occurs this month';
    expect(at(q, '2026-11-01')).toBe(true);
    expect(at(q, '2026-11-01T00:30:00+01:00')).toBe(false);
    expect(at(q, '2026-11-30T23:00:00')).toBe(true);
    expect(at(q, '2026-11-31')).toBe(false);
    expect(at(q, 'November 2026')).toBe(false);
    expect(at(q, '1')).toBe(false);
  });
});
