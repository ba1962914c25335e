import { describe, expect, it } from 'vitest';
import { boolChars, jsonLines } from './json-lines.js';

describe('jsonLines', () => {
  it('gives one JSON document per line, so a split on newlines is exact', () => {
    const values = [
      { a: 'line\nbreak', b: [1, 2] },
      'quote " and \\ backslash',
      null,
      undefined,
      [],
      { nested: { emoji: '😀', tab: '\t' } },
    ];
    const text = jsonLines(values);
    const lines = text.split('\n');
    expect(lines).toHaveLength(values.length);
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      values[0],
      values[1],
      null,
      null,
      [],
      values[5],
    ]);
  });

  it('is empty for no values and has no trailing separator', () => {
    expect(jsonLines([])).toBe('');
    expect(jsonLines([1, 2])).toBe('1\n2');
  });
});

describe('boolChars', () => {
  it('writes one t/f character per value', () => {
    expect(boolChars([true, false, false, true])).toBe('tfft');
    expect(boolChars([])).toBe('');
  });
});
