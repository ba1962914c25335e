import { describe, expect, it } from 'vitest';
import {
  hashInLaneSql,
  inLaneSql,
  laneHash,
  laneOf,
  laneRange,
} from './lanes.js';

const ids = Array.from(
  { length: 4000 },
  (_, i) => `${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`,
);

describe('lanes', () => {
  it('puts each profile in exactly one lane, spread about evenly', () => {
    for (const lanes of [1, 2, 3, 4, 8]) {
      const counts = Array.from({ length: lanes }, () => 0);
      for (const id of ids) {
        const l = laneOf(id, lanes);
        expect(l).toBeGreaterThanOrEqual(0);
        expect(l).toBeLessThan(lanes);
        counts[l] = (counts[l] ?? 0) + 1;
      }
      for (const c of counts)
        expect(c).toBeGreaterThan((ids.length / lanes) * 0.8);
    }
  });

  it('splits a lane into contiguous halves when the lane count doubles', () => {
    for (const id of ids.slice(0, 200))
      expect(Math.floor(laneOf(id, 8) / 2)).toBe(laneOf(id, 4));
  });

  it('hashes the id text (a fixed value, so stored lanes stay valid)', () => {
    // sha256('00000000-0000-0000-0000-000000000000') starts with 0x12b9.
    expect(laneHash('00000000-0000-0000-0000-000000000000')).toBe(0x12b9);
  });

  it('gives each lane the hash range laneOf maps to it, the ranges tiling 0…2¹⁶', () => {
    for (const lanes of [1, 3, 4, 7, 256]) {
      let next = 0;
      for (let lane = 0; lane < lanes; lane++) {
        const { lo, hi } = laneRange({ lane, lanes });
        expect(lo).toBe(next);
        for (const h of [lo, hi - 1])
          expect(Math.floor((h * lanes) / 65_536)).toBe(lane);
        next = hi;
      }
      expect(next).toBe(65_536);
    }
    expect(hashInLaneSql('c.lane_hash', 1, 4)).toBe(
      '(c.lane_hash >= 16384 AND c.lane_hash < 32768)',
    );
  });

  it('adds no predicate for one lane and rejects bad counts', () => {
    expect(inLaneSql('p.id', 0, 1)).toBe('true');
    expect(() => inLaneSql('p.id', 0, 0)).toThrow(RangeError);
    expect(inLaneSql('p.id', 'c.lane', 'c.lanes')).toContain('c.lanes');
  });
});
