import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { BatchedLookup } from './batched-lookup.js';

/** A lookup over `table` that records each fetch's keys. */
function lookup(table: Record<string, string>, maxBatch?: number) {
  const fetches: string[][] = [];
  const batched = new BatchedLookup<string, string>((keys) => {
    fetches.push(keys);
    return Promise.resolve(keys.map((k) => table[k]));
  }, maxBatch);
  return { batched, fetches };
}

describe('BatchedLookup', () => {
  it('answers the lookups of one turn with one fetch, each with its own row', async () => {
    const { batched, fetches } = lookup({ a: 'A', b: 'B', c: 'C' });
    const rows = await Promise.all(
      ['c', 'a', 'x', 'b', 'a'].map((k) => batched.load(k)),
    );
    expect(rows).toEqual(['C', 'A', undefined, 'B', 'A']);
    expect(fetches).toEqual([['c', 'a', 'x', 'b', 'a']]);
  });

  it('starts a new batch for a lookup of a later turn', async () => {
    const { batched, fetches } = lookup({ a: 'A', b: 'B' });
    expect(await batched.load('a')).toBe('A');
    expect(await batched.load('b')).toBe('B');
    expect(fetches).toEqual([['a'], ['b']]);
  });

  it('splits a turn into fetches of at most maxBatch keys', async () => {
    const { batched, fetches } = lookup({ a: 'A', b: 'B', c: 'C' }, 2);
    expect(
      await Promise.all(['a', 'b', 'c'].map((k) => batched.load(k))),
    ).toEqual(['A', 'B', 'C']);
    expect(fetches).toEqual([['a', 'b'], ['c']]);
  });

  it('rejects every lookup of a failed fetch, and only those', async () => {
    let calls = 0;
    const batched = new BatchedLookup<string, string>((keys) =>
      ++calls === 1
        ? Promise.reject(new Error('database gone'))
        : Promise.resolve(keys),
    );
    const failed = await Promise.allSettled([
      batched.load('a'),
      batched.load('b'),
    ]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await batched.load('c')).toBe('c');
  });

  it('fetches outside the context of the request that started the batch', async () => {
    const requests = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    const batched = new BatchedLookup<string, string>((keys) => {
      seen.push(requests.getStore());
      return Promise.resolve(keys);
    });
    await requests.run('request 1', () => batched.load('a'));
    expect(seen).toEqual([undefined]);
  });
});
