import { MINUTE_MS, MinuteBuckets, minuteSeries } from './minute-buckets.js';

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);

describe('MinuteBuckets', () => {
  it('adds steps of one flow in one minute together and keeps minutes and flows apart', () => {
    const b = new MinuteBuckets();
    b.add('f1', T0 + 1_000, 3, 0);
    b.add('f1', T0 + 59_999, 2, 1);
    b.add('f1', T0 + MINUTE_MS, 5, 0);
    b.add('f2', T0 + 5_000, 1, 0);
    b.add('f2', T0 + 6_000, 0, 0);
    expect(b.drain()).toEqual([
      { flowId: 'f1', minute: T0, exports: 5, failures: 1 },
      { flowId: 'f1', minute: T0 + MINUTE_MS, exports: 5, failures: 0 },
      { flowId: 'f2', minute: T0, exports: 1, failures: 0 },
    ]);
    expect(b.drain()).toEqual([]);
  });

  it('restores a failed flush on top of what came in meanwhile', () => {
    const b = new MinuteBuckets();
    b.add('f1', T0, 3, 0);
    const drained = b.drain();
    b.add('f1', T0 + 10, 4, 2);
    b.restore(drained);
    expect(b.drain()).toEqual([
      { flowId: 'f1', minute: T0, exports: 7, failures: 2 },
    ]);
  });
});

describe('minuteSeries', () => {
  it('covers the last N minutes up to the current one, zero-filled, oldest first', () => {
    const now = T0 + 2 * MINUTE_MS + 30_000;
    const series = minuteSeries(
      [
        { minute: T0 + MINUTE_MS, exports: 4, failures: 1 },
        // Outside the window: left out.
        { minute: T0 - 5 * MINUTE_MS, exports: 9, failures: 0 },
      ],
      now,
      3,
    );
    expect(series).toEqual([
      { at: T0, exports: 0, failures: 0 },
      { at: T0 + MINUTE_MS, exports: 4, failures: 1 },
      { at: T0 + 2 * MINUTE_MS, exports: 0, failures: 0 },
    ]);
  });
});
