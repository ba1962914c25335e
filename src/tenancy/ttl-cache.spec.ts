import { describe, expect, it } from 'vitest';
import { TtlCache } from './ttl-cache.js';

const clock = () => {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe('TtlCache', () => {
  it('answers until the TTL ends', () => {
    const c = clock();
    const cache = new TtlCache<string>(100, 10, c.now);
    cache.set('a', 'A', cache.generation());
    c.advance(99);
    expect(cache.get('a')).toBe('A');
    c.advance(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops a value loaded before an invalidation (the load raced a change)', () => {
    const cache = new TtlCache<string>(100, 10);
    const before = cache.generation();
    cache.delete('a');
    cache.set('a', 'stale', before);
    expect(cache.get('a')).toBeUndefined();
    const cleared = cache.generation();
    cache.clear();
    cache.set('b', 'stale', cleared);
    expect(cache.get('b')).toBeUndefined();
    cache.set('b', 'fresh', cache.generation());
    expect(cache.get('b')).toBe('fresh');
  });

  it('holds at most maxEntries, dropping the oldest stored', () => {
    const cache = new TtlCache<number>(1_000, 3);
    for (let i = 0; i < 5; i++) cache.set(`k${i}`, i, cache.generation());
    expect(cache.size).toBe(3);
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.get('k1')).toBeUndefined();
    expect(cache.get('k4')).toBe(4);
  });

  it('stores nothing with a TTL of 0', () => {
    const cache = new TtlCache<number>(0, 3);
    cache.set('a', 1, cache.generation());
    expect(cache.get('a')).toBeUndefined();
  });
});
