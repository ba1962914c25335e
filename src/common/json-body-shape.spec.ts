import { describe, expect, it } from 'vitest';
import { jsonBodyProblem, jsonDepth } from './json-body-shape.js';

const bytes = (s: string): Uint8Array => Buffer.from(s, 'utf8');

describe('jsonDepth', () => {
  it.each([
    ['1', 0],
    ['{}', 1],
    ['[[1],[2,[3]]]', 3],
    ['{"a":{"b":[{}]}}', 4],
    // Brackets inside strings, escaped quotes and multi-byte text do not count.
    ['{"a":"[[[{{{"}', 1],
    ['{"a":"\\"[[[","b":"é]]]"}', 1],
    ['{"a":1}\n{"b":{"c":2}}\n', 2],
  ])('%s → %i', (text, depth) => {
    expect(jsonDepth(bytes(text), 100)).toBe(depth);
  });

  it('counts NDJSON lines on their own', () => {
    const text = `${'['.repeat(40)}\n${'['.repeat(40)}\n{"a":"\\"[[\n{"b":[]}`;
    expect(jsonDepth(bytes(text), 64)).toBeGreaterThan(64);
    expect(jsonDepth(bytes(text), 64, true)).toBe(40);
  });

  it('stops as soon as the limit is exceeded', () => {
    expect(jsonDepth(bytes('['.repeat(5000)), 64)).toBe(65);
  });
});

describe('jsonBodyProblem', () => {
  it('refuses a bare string and a body nested past the limit', () => {
    expect(jsonBodyProblem(bytes(' \n"x"'), 64)).toBe('string');
    expect(
      jsonBodyProblem(bytes(`${'['.repeat(65)}${']'.repeat(65)}`), 64),
    ).toBe('too-deep');
  });

  it('accepts objects, arrays and scalars within the limit', () => {
    expect(
      jsonBodyProblem(bytes(`${'['.repeat(64)}${']'.repeat(64)}`), 64),
    ).toBeUndefined();
    expect(jsonBodyProblem(bytes('{"profiles":[]}'), 64)).toBeUndefined();
    expect(jsonBodyProblem(bytes('null'), 64)).toBeUndefined();
  });
});
