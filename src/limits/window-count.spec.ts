import { describe, expect, it } from 'vitest';
import { admit, sliceOf, WindowCount } from './window-count.js';

describe('sliceOf', () => {
  it.each([
    [6000, 2, 120],
    [30, 2, 1],
    [3, 50, 1],
    [1000, 0, 1],
  ])('limit %i at %i %% → %i', (limit, percent, slice) => {
    expect(sliceOf(limit, percent)).toBe(slice);
  });
});

describe('admit', () => {
  it('admits locally until the slice, then asks for a sync', () => {
    const w = new WindowCount(0);
    expect([1, 2, 3].map(() => admit(w, 100, 3))).toEqual([
      'allow',
      'allow',
      'sync',
    ]);
    expect(w.pending).toBe(3);
  });

  it('rejects once what it knows reaches the limit, without counting the rejection', () => {
    const w = new WindowCount(0);
    w.synced = 8;
    w.inflight = 1;
    expect(admit(w, 10, 5)).toBe('allow');
    expect(admit(w, 10, 5)).toBe('reject');
    expect(w.known).toBe(10);
  });

  it('alone, admits exactly the limit whatever the slice', () => {
    for (const slice of [1, 7, 50]) {
      const w = new WindowCount(0);
      let admitted = 0;
      for (let i = 0; i < 300; i++) {
        const a = admit(w, 100, slice);
        if (a === 'sync') {
          // What a sync does: the pending hits join the shared count.
          w.synced += w.pending;
          w.pending = 0;
        }
        if (a !== 'reject') admitted++;
      }
      expect(admitted).toBe(100);
    }
  });
});
