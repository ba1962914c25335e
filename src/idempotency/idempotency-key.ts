import { createHash } from 'node:crypto';

/** Pure rules of the `Idempotency-Key` header: parsing and request fingerprints. No I/O here. */

export const MAX_KEY_LENGTH = 255;

/** Visible ASCII and spaces, as a Structured Field string may hold. */
const KEY = /^[\x20-\x7e]+$/;

export type ParsedKey = { key: string } | { error: string };

/**
 * The IETF draft sends the key as a Structured Field string (`"abc"`);
 * Stripe and most clients send it bare. Both mean the same key.
 */
export function parseIdempotencyKey(raw: string): ParsedKey {
  let key = raw.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"'))
    key = key.slice(1, -1).replace(/\\(["\\])/g, '$1');
  if (key.length === 0) return { error: 'Idempotency-Key must not be empty.' };
  if (key.length > MAX_KEY_LENGTH)
    return {
      error: `Idempotency-Key is ${key.length} characters long; at most ${MAX_KEY_LENGTH} are allowed.`,
    };
  if (!KEY.test(key))
    return {
      error: 'Idempotency-Key may contain only printable ASCII characters.',
    };
  return { key };
}

/** JSON with object keys sorted, so the same body sent with another key order is the same request. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map(
        (k) =>
          `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`,
      )
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

export function fingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}
