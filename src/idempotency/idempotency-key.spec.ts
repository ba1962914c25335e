import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  fingerprint,
  parseIdempotencyKey,
} from './idempotency-key.js';

describe('parseIdempotencyKey', () => {
  it.each([
    [
      '8e03978e-40d5-43e8-bc93-6894a57f9324',
      '8e03978e-40d5-43e8-bc93-6894a57f9324',
    ],
    ['"8e03978e"', '8e03978e'],
    ['  padded  ', 'padded'],
    ['"with \\"quote\\""', 'with "quote"'],
    ['x'.repeat(255), 'x'.repeat(255)],
  ])('accepts %j', (raw, key) => {
    expect(parseIdempotencyKey(raw)).toEqual({ key });
  });

  it.each([
    ['', 'must not be empty'],
    ['""', 'must not be empty'],
    ['x'.repeat(256), '256 characters long; at most 255'],
    ['caf\u00e9', 'printable ASCII'],
    ['tab\there', 'printable ASCII'],
  ])('refuses %j', (raw, message) => {
    const parsed = parseIdempotencyKey(raw);
    expect('error' in parsed && parsed.error).toContain(message);
  });
});

describe('fingerprint', () => {
  it('ignores key order but not values, nesting or array order', () => {
    const a = { name: 'n', params: { a: 1, b: [1, 2] } };
    expect(fingerprint({ params: { b: [1, 2], a: 1 }, name: 'n' })).toBe(
      fingerprint(a),
    );
    expect(fingerprint({ ...a, name: 'm' })).not.toBe(fingerprint(a));
    expect(fingerprint({ name: 'n', params: { a: 1, b: [2, 1] } })).not.toBe(
      fingerprint(a),
    );
    expect(canonicalJson({ b: null, a: 'x' })).toBe('{"a":"x","b":null}');
    expect(canonicalJson(undefined)).toBe('null');
  });
});
