/**
 * One replica's view of a rate-limit bucket in one fixed window, and the rule
 * that admits requests against it. No I/O here: RateLimiter adds `pending`
 * to the shared count in PostgreSQL and records what it learned.
 *
 * The view never undercounts this replica's own requests (`synced` includes
 * what it added before, `inflight` what it is adding, `pending` the rest),
 * so one replica alone enforces the limit exactly. Other replicas' requests
 * are only known as of the last sync; a replica admits at most `slice`
 * requests unknown to the others before it must sync, so R replicas
 * together admit at most `limit + (R − 1) × slice` in a window.
 */
export class WindowCount {
  /** The shared count as of the last sync (this replica's synced hits included). */
  synced = 0;
  /** Hits being added to the shared count right now. */
  inflight = 0;
  /** Hits admitted here and not yet added. */
  pending = 0;

  constructor(readonly windowStart: number) {}

  /** What this replica knows was admitted in the window. */
  get known(): number {
    return this.synced + this.inflight + this.pending;
  }
}

export type Admission = 'allow' | 'sync' | 'reject';

/**
 * The most requests one replica admits before adding them to the shared
 * count: `percent` of the limit, at least 1 (every request synced, exact
 * across replicas).
 */
export function sliceOf(limit: number, percent: number): number {
  return Math.max(1, Math.floor((limit * percent) / 100));
}

/**
 * Counts one request: `reject` when the known count already reached the
 * limit; otherwise the request is pending, and `sync` says it must wait for
 * the shared count, which decides it (admitted when the count, this
 * request included, is within the limit).
 */
export function admit(w: WindowCount, limit: number, slice: number): Admission {
  if (w.known >= limit) return 'reject';
  w.pending++;
  return w.pending >= slice ? 'sync' : 'allow';
}
