import { parsePql, toPqlJson } from './index.js';

describe('toPqlJson', () => {
  it('matches the published example for a comparison', () => {
    expect(toPqlJson(parsePql('workAddress.country = "US"'))).toEqual({
      nodeType: 'fnApply',
      fnName: '=',
      params: [
        {
          nodeType: 'fieldLookup',
          fieldName: 'country',
          object: {
            nodeType: 'fieldLookup',
            fieldName: 'workAddress',
            object: { nodeType: 'parameterReference', position: 1 },
          },
        },
        { nodeType: 'literal', literalType: 'String', value: 'US' },
      ],
    });
  });

  it('gives the same tree with and without a $1 or lambda prefix', () => {
    const plain = toPqlJson(parsePql('workAddress.country = "US"'));
    expect(toPqlJson(parsePql('$1.workAddress.country = "US"'))).toEqual(plain);
    expect(
      toPqlJson(parsePql('(Profile) => Profile.workAddress.country = "US"')),
    ).toEqual(plain);
  });

  it('encodes logic, lists, functions and occurs', () => {
    const json = toPqlJson(
      parsePql(
        'not (a in [1, 2.5]) and (b.startsWith("x", false) or c occurs < 3 days before today or d.isNull())',
      ),
    );
    expect(json).toMatchObject({
      fnName: 'and',
      params: [
        {
          fnName: 'not',
          params: [
            {
              fnName: 'in',
              params: [
                { fieldName: 'a' },
                {
                  literalType: 'List',
                  value: [
                    { literalType: 'Integer', value: 1 },
                    { literalType: 'Double', value: 2.5 },
                  ],
                },
              ],
            },
          ],
        },
        {
          fnName: 'or',
          params: [
            {
              fnName: 'startsWith',
              params: [{}, { value: 'x' }, { value: false }],
            },
            {
              fnName: 'occurs',
              params: [
                { fieldName: 'c' },
                { value: '<' },
                { value: 3 },
                { value: 'day' },
                { value: 'before' },
                { nodeType: 'fnApply', fnName: 'today', params: [] },
              ],
            },
            { fnName: 'isNull' },
          ],
        },
      ],
    });
  });

  it('is plain JSON for every supported construct', () => {
    for (const text of [
      'a like "%x"',
      'a.matches("^x")',
      'a.includes(date(2020, 1, 2))',
      'a.intersects(["x"])',
      'a notIn [true]',
      'a occurs last week',
      'a occurs between date(2020, 1, 1) and now',
      'a occurs before tomorrow',
      'true',
      'a.equals("x")',
    ]) {
      const json = toPqlJson(parsePql(text));
      expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    }
  });
});
