/**
 * Where a service's slow requests come from (`BENCH_API_TRACE=1`): garbage
 * collection pauses, long event-loop turns, and time the process was ready
 * to run but waited for a core (the kernel's run queue, /proc schedstat),
 * each with its start and end on the clock the load generator also uses, so
 * the slow requests it reports can be matched against them.
 */
import { readFileSync } from 'node:fs';
import {
  constants,
  monitorEventLoopDelay,
  performance,
  PerformanceObserver,
} from 'node:perf_hooks';
import type { Interval } from './load-client.js';

/** A turn of the event loop at least this long (ms) is recorded as a stall. */
const STALL_MS = 10;

/** ns this thread has run and waited to run, from /proc (0 when not on Linux). */
export function schedstat(path = '/proc/thread-self/schedstat'): {
  runNs: number;
  waitNs: number;
} {
  try {
    const [run, wait] = readFileSync(path, 'utf8').split(' ').map(Number);
    return { runNs: run ?? 0, waitNs: wait ?? 0 };
  } catch {
    return { runNs: 0, waitNs: 0 };
  }
}

export interface PauseReport {
  gc: {
    count: number;
    minor: number;
    major: number;
    ms: number;
    maxMs: number;
  };
  /** Event-loop delay percentiles (monitorEventLoopDelay), ms. */
  loopDelay: { p50: number; p99: number; max: number };
  /** Turns of at least STALL_MS: count and total ms. */
  stalls: { count: number; ms: number; maxMs: number };
  /** The main thread: ms per second it ran, and waited for a core while ready. */
  runMsPerS: number;
  runQueueMsPerS: number;
  /** Slow requests, and the mean ms of each that overlapped a GC pause / a long turn. */
  slow: { count: number; meanMs: number; gcMs: number; stallMs: number };
}

const overlap = (a: Interval, bs: Interval[]): number => {
  let ms = 0;
  for (const b of bs)
    ms += Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));
  return ms;
};

const round = (n: number): number => Math.round(n * 10) / 10;

export function tracePauses(): {
  stop(slow: Interval[]): PauseReport;
} {
  const origin = performance.timeOrigin;
  const gcs: (Interval & { kind: number })[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const start = origin + e.startTime;
      gcs.push({
        start,
        end: start + e.duration,
        kind: (e as { detail?: { kind?: number } }).detail?.kind ?? 0,
      });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const stalls: Interval[] = [];
  let last = performance.now();
  // A 1 ms timer runs once per turn when turns are longer: the gap between
  // two runs is the turn's length.
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last >= STALL_MS)
      stalls.push({ start: origin + last, end: origin + now });
    last = now;
  }, 1);
  const t0 = performance.now();
  const s0 = schedstat();
  return {
    stop(slow) {
      const seconds = (performance.now() - t0) / 1000;
      const s1 = schedstat();
      clearInterval(timer);
      delay.disable();
      observer.disconnect();
      const ms = (ns: number): number => ns / 1e6;
      const gcMs = gcs.map((g) => g.end - g.start);
      const stallMs = stalls.map((s) => s.end - s.start);
      const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
      return {
        gc: {
          count: gcs.length,
          minor: gcs.filter(
            (g) => g.kind === constants.NODE_PERFORMANCE_GC_MINOR,
          ).length,
          major: gcs.filter(
            (g) => g.kind === constants.NODE_PERFORMANCE_GC_MAJOR,
          ).length,
          ms: round(sum(gcMs)),
          maxMs: round(Math.max(0, ...gcMs)),
        },
        loopDelay: {
          p50: round(ms(delay.percentile(50))),
          p99: round(ms(delay.percentile(99))),
          max: round(ms(delay.max)),
        },
        stalls: {
          count: stalls.length,
          ms: round(sum(stallMs)),
          maxMs: round(Math.max(0, ...stallMs)),
        },
        runMsPerS: round(ms(s1.runNs - s0.runNs) / seconds),
        runQueueMsPerS: round(ms(s1.waitNs - s0.waitNs) / seconds),
        slow: {
          count: slow.length,
          meanMs: round(
            sum(slow.map((s) => s.end - s.start)) / Math.max(1, slow.length),
          ),
          gcMs: round(
            sum(slow.map((s) => overlap(s, gcs))) / Math.max(1, slow.length),
          ),
          stallMs: round(
            sum(slow.map((s) => overlap(s, stalls))) / Math.max(1, slow.length),
          ),
        },
      };
    },
  };
}
