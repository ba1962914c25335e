import { describe, expect, it } from 'vitest';
import {
  FragmentError,
  changedPaths,
  identityMapsEqual,
  leafPaths,
  mergeAttributes,
  normalizeFragment,
  unionIdentityMaps,
} from './profile-merge.js';

describe('mergeAttributes', () => {
  it('merges objects deeply, replaces scalars and arrays, removes nulls and emptied objects', () => {
    const base = {
      a: { b: 1, c: [1, 2], d: { e: 'x' } },
      f: 'keep',
      g: { h: 1 },
    };
    const merged = mergeAttributes(base, {
      a: { b: 2, c: [3], d: null },
      g: { h: null },
      i: { j: null },
    });
    expect(merged).toEqual({ a: { b: 2, c: [3] }, f: 'keep' });
    // The input is not mutated.
    expect(base.a.d).toEqual({ e: 'x' });
  });

  it('replaces a scalar with an object and an object with a scalar', () => {
    expect(mergeAttributes({ a: 1 }, { a: { b: 2 } })).toEqual({ a: { b: 2 } });
    expect(mergeAttributes({ a: { b: 2 } }, { a: 'flat' })).toEqual({
      a: 'flat',
    });
  });
});

describe('changedPaths', () => {
  it('lists changed leaves only', () => {
    expect(
      changedPaths(
        { a: { b: 1, c: 2 }, d: [1] },
        { a: { b: 1, c: 3 }, d: [1] },
      ),
    ).toEqual(['a.c']);
    expect(changedPaths({ a: { b: 1 } }, { a: { b: 1 } })).toEqual([]);
  });

  it('lists both sides of a replaced or removed object', () => {
    expect(changedPaths({ a: { b: 1, c: 2 } }, {})).toEqual(['a.b', 'a.c']);
    expect(changedPaths({ a: { b: 1 } }, { a: 'x' })).toEqual(['a', 'a.b']);
    expect(changedPaths({}, { x: { y: { z: 1 } }, w: [] })).toEqual([
      'w',
      'x.y.z',
    ]);
  });

  it('compares arrays by value and order', () => {
    expect(changedPaths({ t: [1, 2] }, { t: [2, 1] })).toEqual(['t']);
    expect(leafPaths({ a: { b: [1, { c: 2 }] } })).toEqual(['a.b']);
  });
});

describe('identity maps', () => {
  it('lower-cases namespaces, dedupes ids and unions with flags from the newer side', () => {
    const f = normalizeFragment({
      identityMap: {
        ECID: [{ id: '1' }, { id: '1', primary: true }],
        Email: [{ id: 'a' }],
      },
    });
    expect(f.identityMap).toEqual({
      ecid: [{ id: '1', primary: true }],
      email: [{ id: 'a' }],
    });
    expect(f.identities).toHaveLength(2);
    const u = unionIdentityMaps(f.identityMap, {
      ecid: [{ id: '2' }],
      email: [{ id: 'a', authenticatedState: 'authenticated' }],
    });
    expect(u).toEqual({
      ecid: [{ id: '1', primary: true }, { id: '2' }],
      email: [{ id: 'a', authenticatedState: 'authenticated' }],
    });
    expect(
      identityMapsEqual(
        { a: [{ id: '1' }, { id: '2' }], b: [] },
        { b: [], a: [{ id: '2' }, { id: '1' }] },
      ),
    ).toBe(true);
    expect(
      identityMapsEqual(
        { a: [{ id: '1' }] },
        { a: [{ id: '1', primary: true }] },
      ),
    ).toBe(false);
  });

  it('rejects records that cannot be stored', () => {
    const bad: unknown[] = [
      null,
      [],
      'x',
      {},
      { identityMap: {} },
      { identityMap: { email: [] } },
      { identityMap: { email: [{ id: '' }] } },
      { identityMap: { email: [{ id: 1 }] } },
      { identityMap: { email: [{ id: 'a', extra: 1 }] } },
      { identityMap: { email: [{ id: 'a', primary: 'yes' }] } },
      { identityMap: { email: [{ id: 'a', authenticatedState: 'maybe' }] } },
      { identityMap: { '1bad': [{ id: 'a' }] } },
      { identityMap: { email: [{ id: 'a' }] }, segmentMembership: {} },
      { identityMap: { email: [{ id: 'a' }] }, nested: { 'x.y': 1 } },
      { identityMap: { email: [{ id: 'a' }] }, big: 'x'.repeat(65 * 1024) },
      {
        identityMap: {
          email: Array.from({ length: 101 }, (_, i) => ({ id: String(i) })),
        },
      },
    ];
    for (const value of bad) {
      expect(
        () => normalizeFragment(value),
        JSON.stringify(value)?.slice(0, 60),
      ).toThrow(FragmentError);
    }
    let deep: Record<string, unknown> = { v: 1 };
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect(() =>
      normalizeFragment({ identityMap: { email: [{ id: 'a' }] }, ...deep }),
    ).toThrow(/deeper/);
  });
});
