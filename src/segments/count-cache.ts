/**
 * The answer for one key: the latest count, the one before it when the
 * latest did not finish in time, or nothing.
 */
export type CountAnswer<T> =
  | { status: 'counted' | 'stale'; value: T; countedAt: number }
  | { status: 'unavailable' };

export interface CountCacheOptions {
  /** Shortest time a count is served before the next request counts again. */
  freshMs: number;
  /**
   * A count is served for at least this many times as long as it took, and
   * a count that timed out is not tried again for this many timeouts: one
   * key never spends more than 1/costFactor of the time counting.
   */
  costFactor: number;
  /** How long a count may run (the caller enforces it; undefined means it timed out). */
  timeoutMs: number;
  /** Keys kept; the one stored longest ago goes first. */
  maxEntries: number;
  now?: () => number;
}

interface Entry<T> {
  value?: T;
  countedAt?: number;
  /** The latest count timed out. */
  failed: boolean;
  /** No new count starts before this. */
  freshUntil: number;
  running?: Promise<void>;
}

/**
 * Expensive counts kept per key (a tenant) for a while, so that requests
 * share them instead of each scanning: concurrent requests wait for the one
 * count in flight, and a count is reused until it is older than `freshMs` and
 * than `costFactor` times its own duration. No I/O here: the caller passes
 * the count.
 */
export class CountCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly now: () => number;

  constructor(private readonly opts: CountCacheOptions) {
    this.now = opts.now ?? Date.now;
  }

  async get(
    key: string,
    count: () => Promise<T | undefined>,
  ): Promise<CountAnswer<T>> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { failed: false, freshUntil: 0 };
      this.store(key, entry);
    }
    if (!entry.running && this.now() >= entry.freshUntil)
      entry.running = this.recount(entry, count);
    if (entry.running) await entry.running;
    return answerOf(entry);
  }

  private async recount(
    entry: Entry<T>,
    count: () => Promise<T | undefined>,
  ): Promise<void> {
    const { freshMs, costFactor, timeoutMs } = this.opts;
    const started = this.now();
    try {
      const value = await count();
      const ended = this.now();
      if (value === undefined) {
        entry.failed = true;
        entry.freshUntil = ended + Math.max(freshMs, costFactor * timeoutMs);
      } else {
        entry.value = value;
        entry.countedAt = started;
        entry.failed = false;
        entry.freshUntil =
          ended + Math.max(freshMs, costFactor * (ended - started));
      }
    } finally {
      entry.running = undefined;
    }
  }

  private store(key: string, entry: Entry<T>): void {
    this.entries.set(key, entry);
    if (this.entries.size <= this.opts.maxEntries) return;
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}

function answerOf<T>(entry: Entry<T>): CountAnswer<T> {
  if (entry.value === undefined || entry.countedAt === undefined)
    return { status: 'unavailable' };
  return {
    status: entry.failed ? 'stale' : 'counted',
    value: entry.value,
    countedAt: entry.countedAt,
  };
}
