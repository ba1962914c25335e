import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { messageIdOf } from './messages.js';

describe('messageIdOf', () => {
  it('is a stable UUID-shaped digest of the export parts (version 5 nibble, RFC variant)', () => {
    const id = messageIdOf('flow', 'target', 'profile', 'change:1:2');
    expect(id).toBe(messageIdOf('flow', 'target', 'profile', 'change:1:2'));
    expect(id).not.toBe(messageIdOf('flow', 'target', 'profile', 'change:1:3'));
    expect(id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    // Everything but the version and variant bits is the sha256 prefix, so ids
    // stay the same across releases (a retried export keeps its messageId).
    const hex = createHash('sha256')
      .update('flow|target|profile|change:1:2')
      .digest('hex');
    const plain = id.replaceAll('-', '');
    expect(plain.slice(0, 12)).toBe(hex.slice(0, 12));
    expect(plain.slice(13, 16)).toBe(hex.slice(13, 16));
    expect(plain.slice(18, 32)).toBe(hex.slice(18, 32));
  });
});
