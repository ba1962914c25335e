import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { APP_LOGGER } from '../logging/logger.js';

export interface RateDecision {
  allowed: boolean;
  /** Seconds until the current window ends (only when not allowed). */
  retryAfterSeconds: number;
}

const WINDOW_MS = 60_000;
/** Windows older than this are deleted by the periodic cleanup. */
const KEEP_WINDOWS = 2;

/**
 * Fixed one-minute windows counted in Postgres, so the limit holds across
 * replicas: one `INSERT … ON CONFLICT DO UPDATE … RETURNING` per request. The
 * window comes from the database clock, so replicas agree on it. Once the
 * database says a bucket is over its limit for a window, this replica rejects
 * that bucket locally until the window ends (counts only grow within a
 * window), which keeps a client hammering past its limit off the database.
 */
@Injectable()
export class RateLimiter
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly blockedUntil = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.cleanup(), WINDOW_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async consume(bucket: string, limit: number): Promise<RateDecision> {
    const now = Date.now();
    const until = this.blockedUntil.get(bucket);
    if (until !== undefined) {
      if (until > now)
        return {
          allowed: false,
          retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1000)),
        };
      this.blockedUntil.delete(bucket);
    }
    const rows = (await this.dataSource.query(
      `INSERT INTO rate_limit_windows AS w (bucket, window_start, hits)
       VALUES ($1, date_trunc('minute', now()), 1)
       ON CONFLICT (bucket, window_start) DO UPDATE SET hits = w.hits + 1
       RETURNING w.hits,
                 extract(epoch FROM w.window_start + interval '1 minute' - clock_timestamp()) AS remaining`,
      [bucket],
    )) as { hits: number; remaining: string | number }[];
    const hits = Number(rows[0]?.hits ?? 0);
    if (hits <= limit) return { allowed: true, retryAfterSeconds: 0 };
    const remainingMs = Math.max(0, Number(rows[0]?.remaining ?? 0) * 1000);
    this.blockedUntil.set(bucket, now + remainingMs);
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil(remainingMs / 1000)),
    };
  }

  /** Drops finished windows (every replica runs it; the statement is idempotent). */
  async cleanup(): Promise<void> {
    const now = Date.now();
    for (const [bucket, until] of this.blockedUntil)
      if (until <= now) this.blockedUntil.delete(bucket);
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
