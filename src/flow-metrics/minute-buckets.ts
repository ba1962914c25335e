/**
 * Per-minute export counts of flows, accumulated in memory between flushes.
 * No I/O here: flow-metrics.service.ts drains it into flow_export_minutes.
 */

export const MINUTE_MS = 60_000;

export interface MinuteCount {
  flowId: string;
  /** Start of the UTC minute, epoch milliseconds. */
  minute: number;
  exports: number;
  failures: number;
}

export class MinuteBuckets {
  private counts = new Map<string, MinuteCount>();

  add(flowId: string, at: number, exports: number, failures: number): void {
    if (exports <= 0 && failures <= 0) return;
    const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    const key = `${flowId}|${minute}`;
    const c = this.counts.get(key);
    if (c) {
      c.exports += exports;
      c.failures += failures;
    } else this.counts.set(key, { flowId, minute, exports, failures });
  }

  /** Everything counted since the last drain, emptied. */
  drain(): MinuteCount[] {
    const out = [...this.counts.values()];
    this.counts = new Map();
    return out;
  }

  /** Puts counts back (a flush that failed), adding to what came in since. */
  restore(rows: MinuteCount[]): void {
    for (const r of rows) this.add(r.flowId, r.minute, r.exports, r.failures);
  }
}

export interface MinutePoint {
  /** Start of the minute, epoch milliseconds. */
  at: number;
  exports: number;
  failures: number;
}

/**
 * The `minutes` minutes ending with the one containing `now`, oldest first,
 * with zeros where nothing was stored: a chart's x axis never has gaps.
 */
export function minuteSeries(
  stored: { minute: number; exports: number; failures: number }[],
  now: number,
  minutes: number,
): MinutePoint[] {
  const last = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const first = last - (minutes - 1) * MINUTE_MS;
  const byMinute = new Map(stored.map((s) => [s.minute, s]));
  const points: MinutePoint[] = [];
  for (let at = first; at <= last; at += MINUTE_MS) {
    const s = byMinute.get(at);
    points.push({ at, exports: s?.exports ?? 0, failures: s?.failures ?? 0 });
  }
  return points;
}
