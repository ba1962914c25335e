import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { ENV, type Env } from '../config/env.js';
import { APP_LOGGER } from '../logging/logger.js';
import { admit, sliceOf, WindowCount } from './window-count.js';

export interface RateDecision {
  allowed: boolean;
  /** Seconds until the current window ends (only when not allowed). */
  retryAfterSeconds: number;
}

const WINDOW_MS = 60_000;
/** Windows older than this are deleted by the periodic cleanup. */
const KEEP_WINDOWS = 2;

/**
 * Fixed one-minute windows, counted in memory and added to shared counts in
 * PostgreSQL (`rate_limit_windows`) every RATE_LIMIT_SYNC_MS, or at once when
 * this replica has admitted RATE_LIMIT_LOCAL_PERCENT of the limit since its
 * last sync (WindowCount states the bound this gives). A request costs no
 * database write; a client below the limit costs one write per second per
 * replica. Windows follow the database clock (learned at each sync), so
 * replicas agree on them.
 */
@Injectable()
export class RateLimiter
  implements
    OnApplicationBootstrap,
    BeforeApplicationShutdown,
    OnApplicationShutdown
{
  private readonly counts = new Map<string, WindowCount>();
  /** Database clock minus this process's clock, in ms. */
  private clockOffset = 0;
  private syncTimer?: NodeJS.Timeout;
  private cleanupTimer?: NodeJS.Timeout;
  private syncFailures = 0;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(ENV) private readonly env: Env,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.syncTimer = setInterval(
      () => void this.syncAll(),
      this.env.RATE_LIMIT_SYNC_MS,
    );
    this.syncTimer.unref();
    this.cleanupTimer = setInterval(() => void this.cleanup(), WINDOW_MS);
    this.cleanupTimer.unref();
  }

  /** What was counted here reaches the shared counts before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.syncTimer) clearInterval(this.syncTimer);
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    await this.syncAll();
  }

  onApplicationShutdown(): void {
    if (this.syncTimer) clearInterval(this.syncTimer);
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
  }

  /** Answers at once unless this replica must first add its count to the shared one (see WindowCount). */
  consume(bucket: string, limit: number): RateDecision | Promise<RateDecision> {
    const now = Date.now() + this.clockOffset;
    const windowStart = now - (now % WINDOW_MS);
    let count = this.counts.get(bucket);
    if (count?.windowStart !== windowStart) {
      // Hits of a finished window still count there (a replica that has not synced them may be asked about it).
      if (count?.pending) void this.sync(bucket, count).catch(() => undefined);
      count = new WindowCount(windowStart);
      this.counts.set(bucket, count);
    }
    const retryAfterSeconds = Math.max(
      1,
      Math.ceil((windowStart + WINDOW_MS - now) / 1000),
    );
    const slice = sliceOf(limit, this.env.RATE_LIMIT_LOCAL_PERCENT);
    switch (admit(count, limit, slice)) {
      case 'allow':
        return { allowed: true, retryAfterSeconds: 0 };
      case 'reject':
        return { allowed: false, retryAfterSeconds };
      case 'sync':
        return this.sync(bucket, count).then((total) =>
          total <= limit
            ? { allowed: true, retryAfterSeconds: 0 }
            : { allowed: false, retryAfterSeconds },
        );
    }
  }

  /** Adds `count.pending` to the shared count; returns the shared count after it. */
  private async sync(bucket: string, count: WindowCount): Promise<number> {
    const n = count.pending;
    count.pending = 0;
    count.inflight += n;
    const sentAt = Date.now();
    try {
      const rows = (await this.dataSource.query(
        `INSERT INTO rate_limit_windows AS w (bucket, window_start, hits)
         VALUES ($1, to_timestamp($2::float8 / 1000), $3)
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = w.hits + excluded.hits
         RETURNING w.hits, extract(epoch FROM clock_timestamp()) * 1000 AS db_now`,
        [bucket, count.windowStart, n],
      )) as { hits: number; db_now: string | number }[];
      const total = Number(rows[0]?.hits ?? 0);
      // The database's clock at about the middle of the round trip.
      this.clockOffset = Math.round(
        Number(rows[0]?.db_now ?? Date.now()) - (sentAt + Date.now()) / 2,
      );
      count.synced = Math.max(count.synced, total);
      return total;
    } catch (err) {
      count.pending += n;
      throw err;
    } finally {
      count.inflight -= n;
    }
  }

  /** Adds every bucket's pending hits to the shared counts and forgets finished windows. */
  private async syncAll(): Promise<void> {
    const now = Date.now() + this.clockOffset;
    const current = now - (now % WINDOW_MS);
    const work: Promise<unknown>[] = [];
    for (const [bucket, count] of this.counts) {
      if (count.pending > 0) work.push(this.sync(bucket, count));
      else if (count.windowStart < current && count.inflight === 0)
        this.counts.delete(bucket);
    }
    const failed = (await Promise.allSettled(work)).find(
      (r) => r.status === 'rejected',
    );
    if (!failed) {
      this.syncFailures = 0;
      return;
    }
    // Kept pending and retried at the next tick; logged once per outage.
    if (this.syncFailures++ === 0)
      this.logger.warn(
        { err: (failed as PromiseRejectedResult).reason as unknown },
        'rate limit counts could not be added to PostgreSQL; retrying',
      );
  }

  /** Drops finished windows (every replica runs it; the statement is idempotent). */
  async cleanup(): Promise<void> {
    try {
      await this.dataSource.query(
        `DELETE FROM rate_limit_windows
          WHERE window_start < date_trunc('minute', now()) - $1::int * interval '1 minute'`,
        [KEEP_WINDOWS],
      );
    } catch (err) {
      this.logger.warn({ err }, 'rate limit cleanup failed');
    }
  }
}
