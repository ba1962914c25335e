import { describe, expect, it } from 'vitest';
import { CountCache } from './count-cache.js';

function clock(start = 1_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => (t += ms),
  };
}

function cacheWith(c: ReturnType<typeof clock>, over = {}) {
  return new CountCache<number>({
    freshMs: 10_000,
    costFactor: 10,
    timeoutMs: 5_000,
    maxEntries: 2,
    now: c.now,
    ...over,
  });
}

describe('CountCache', () => {
  it('concurrent requests share one count, and later ones reuse it while fresh', async () => {
    const c = clock();
    const cache = cacheWith(c);
    let calls = 0;
    let release!: (n: number) => void;
    const count = () => {
      calls++;
      return new Promise<number>((r) => (release = r));
    };
    const a = cache.get('t1', count);
    const b = cache.get('t1', count);
    release(7);
    expect(await a).toEqual({ status: 'counted', value: 7, countedAt: 1_000 });
    expect(await b).toEqual({ status: 'counted', value: 7, countedAt: 1_000 });
    c.advance(9_999);
    expect(await cache.get('t1', () => Promise.resolve(8))).toMatchObject({
      value: 7,
    });
    expect(calls).toBe(1);
    c.advance(1);
    expect(await cache.get('t1', () => Promise.resolve(8))).toEqual({
      status: 'counted',
      value: 8,
      countedAt: 11_000,
    });
  });

  it('keeps a slow count for costFactor times its duration', async () => {
    const c = clock();
    const cache = cacheWith(c);
    const slow = () => {
      c.advance(3_000);
      return Promise.resolve(1);
    };
    await cache.get('t1', slow);
    // Ended at 4,000; kept until 4,000 + 10 × 3,000.
    c.advance(29_999);
    expect(await cache.get('t1', () => Promise.resolve(2))).toMatchObject({
      value: 1,
    });
    c.advance(1);
    expect(await cache.get('t1', () => Promise.resolve(2))).toMatchObject({
      value: 2,
    });
  });

  it('a count that timed out answers unavailable, or the previous count as stale, and waits before trying again', async () => {
    const c = clock();
    const cache = cacheWith(c);
    const timedOut = () => Promise.resolve(undefined);
    expect(await cache.get('t1', timedOut)).toEqual({ status: 'unavailable' });
    c.advance(49_999);
    let calls = 0;
    const counts = () => {
      calls++;
      return Promise.resolve(5);
    };
    expect(await cache.get('t1', counts)).toEqual({ status: 'unavailable' });
    expect(calls).toBe(0);
    c.advance(1);
    expect(await cache.get('t1', counts)).toMatchObject({
      status: 'counted',
      value: 5,
    });
    c.advance(10_000);
    expect(await cache.get('t1', timedOut)).toEqual({
      status: 'stale',
      value: 5,
      countedAt: 51_000,
    });
  });

  it('a failing count fails its callers and is tried again by the next request', async () => {
    const c = clock();
    const cache = cacheWith(c);
    await expect(
      cache.get('t1', () => Promise.reject(new Error('db down'))),
    ).rejects.toThrow('db down');
    expect(await cache.get('t1', () => Promise.resolve(3))).toMatchObject({
      status: 'counted',
      value: 3,
    });
  });

  it('keeps at most maxEntries keys, dropping the one stored first', async () => {
    const c = clock();
    const cache = cacheWith(c);
    let calls = 0;
    const count = () => Promise.resolve(++calls);
    await cache.get('a', count);
    await cache.get('b', count);
    await cache.get('c', count);
    expect(await cache.get('b', count)).toMatchObject({ value: 2 });
    expect(await cache.get('a', count)).toMatchObject({ value: 4 });
  });
});
