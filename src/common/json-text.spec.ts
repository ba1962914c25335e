import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, compactJson } from './json-text.js';

/** JSON laid out as PostgreSQL's json and jsonb output functions lay it out. */
function pgLayout(value: unknown, keySep = ' : '): string {
  if (Array.isArray(value))
    return `[${value.map((v) => pgLayout(v, keySep)).join(', ')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}${keySep}${pgLayout(v, keySep)}`)
      .join(', ')}}`;
  return JSON.stringify(value);
}

describe('compactJson', () => {
  it.each([
    [
      '{"a" : 1, "b" : [1, 2, {"c": "x , y : z"}]}',
      '{"a":1,"b":[1,2,{"c":"x , y : z"}]}',
    ],
    ['{"s" : "quote \\" and \\\\ , \\n"}', '{"s":"quote \\" and \\\\ , \\n"}'],
    [
      '[-12, 0, 123456789012345, true, false, null]',
      '[-12,0,123456789012345,true,false,null]',
    ],
    ['{"é" : "ünïcode ☃"}', '{"é":"ünïcode ☃"}'],
    ['{"10x" : 1, "a1" : 2}', '{"10x":1,"a1":2}'],
    ['["10", "007"]', '["10","007"]'],
  ])('%s', (text, compact) => {
    expect(compactJson(text)).toBe(compact);
    expect(compactJson(text)).toBe(JSON.stringify(JSON.parse(text)));
  });

  it.each([
    // Numbers a double does not print as written.
    '[1.0]',
    '[1.5]',
    '[1e3]',
    '[1E3]',
    '[1234567890123456]',
    '[-0]',
    // JSON.stringify writes "\u00e9" as é.
    '["\\u00e9"]',
    // JavaScript puts array-index keys first.
    '{"a" : 1, "10" : 2}',
    '{"a" : 1, "0" : 2}',
  ])('leaves %s to JSON.parse', (text) => {
    expect(compactJson(text)).toBeUndefined();
    expect(canonicalJson(text)).toBe(JSON.stringify(JSON.parse(text)));
  });

  it('gives what parsing and serializing gives, or nothing', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.constantFrom(' : ', ': '),
        (value, keySep) => {
          const text = pgLayout(value, keySep);
          const expected = JSON.stringify(JSON.parse(text));
          const compact = compactJson(text);
          if (compact !== undefined) expect(compact).toBe(expected);
          expect(canonicalJson(text)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('compacts documents of strings, integers and plain keys', () => {
    const doc = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string({ unit: 'grapheme' }),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value')),
        fc.dictionary(fc.stringMatching(/^[A-Za-z_][\w ,:"]*$/), tie('value')),
      ),
    })).value;
    fc.assert(
      fc.property(doc, (value) => {
        const text = pgLayout(value);
        // Control characters come back as \u escapes: those are left to JSON.parse.
        // eslint-disable-next-line no-control-regex
        if (/[\u0000-\u001f]/.test(text)) return;
        expect(compactJson(text)).toBe(JSON.stringify(JSON.parse(text)));
      }),
    );
  });
});
