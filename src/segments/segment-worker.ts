import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ENV, type Env } from '../config/env.js';
import type { TenantRef } from '../database/transaction.js';
import { isDatabaseUnavailable } from '../database/unavailable.js';
import {
  DEFAULT_JOB_BATCH_SIZE,
  DEFAULT_LEASE_MS,
  SegmentJobsService,
} from './segment-jobs.service.js';

const POLL_MS = 1000;
/** While the database is unreachable, ticks back off from POLL_MS up to this. */
const OUTAGE_MAX_DELAY_MS = 5_000;
/** How long a shutdown waits for the batch in progress (inside SHUTDOWN_TIMEOUT_MS's default). */
const STOP_TIMEOUT_MS = 10_000;

export interface RunOnceOptions {
  /** Worker identity for leases (default: this worker's id). */
  owner?: string;
  batchSize?: number;
  leaseMs?: number;
  /** Stop after this many batches (tests use it to simulate a crash mid-job). */
  maxBatches?: number;
  /** Only jobs of this sandbox. */
  tenant?: TenantRef;
}

/** How often a replica purges expired memberships and finished jobs. */
const PURGE_INTERVAL_MS = 3_600_000;

export interface RunOnceResult {
  jobs: number;
  batches: number;
}

/**
 * The segment background worker: runs queued evaluation jobs, queues the
 * time-relative sweep every SEGMENT_SWEEP_INTERVAL_MS and purges exited
 * memberships after MEMBERSHIP_RETENTION_DAYS. Runs when
 * SEGMENT_WORKER_ENABLED (default: RUNNER_ENABLED) is true; tests drive it
 * through runOnce()/sweep() instead. Shutdown waits for the current batch.
 */
@Injectable()
export class SegmentWorker
  implements
    OnApplicationBootstrap,
    BeforeApplicationShutdown,
    OnApplicationShutdown
{
  private readonly logger = new Logger('SegmentWorker');
  private readonly id = `segment-worker-${randomUUID()}`;
  private timer?: NodeJS.Timeout;
  private current?: Promise<void>;
  private stopped = false;
  private nextSweepAt = 0;
  private nextPurgeAt = 0;
  /** Consecutive ticks that found the database unreachable. */
  private outageTicks = 0;
  /**
   * A job whose batch failed because the database went away: still ours
   * (running, our lease), so the next run resumes it at its cursor instead of
   * waiting for the lease to lapse, and the outage costs it no attempt.
   */
  private held?: { id: string; owner: string } & TenantRef;

  constructor(
    @Inject(ENV) private readonly env: Env,
    private readonly jobs: SegmentJobsService,
  ) {}

  get enabled(): boolean {
    return this.env.SEGMENT_WORKER_ENABLED ?? this.env.RUNNER_ENABLED;
  }

  onApplicationBootstrap(): void {
    if (this.enabled) this.schedule(0);
  }

  /** No new batch starts once the shutdown begins, while requests still drain. */
  beforeApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /**
   * Waits for the batch in progress, bounded (a batch commits whole or not
   * at all), then hands this worker's jobs back at their cursor. Without the
   * database they stay leased and are resumed once the lease lapses.
   */
  async onApplicationShutdown(): Promise<void> {
    this.beforeApplicationShutdown();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.current,
      new Promise((r) => (timer = setTimeout(r, STOP_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (this.enabled) await this.jobs.release(this.id).catch(() => undefined);
  }

  /** Runs claimable jobs until none is left (or `maxBatches` batches ran). */
  async runOnce(opts: RunOnceOptions = {}): Promise<RunOnceResult> {
    const owner = opts.owner ?? this.id;
    const batchSize = opts.batchSize ?? DEFAULT_JOB_BATCH_SIZE;
    const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    const max = opts.maxBatches ?? Number.POSITIVE_INFINITY;
    let jobs = 0;
    let batches = 0;
    while (!this.stopped && batches < max) {
      const job =
        this.takeHeld(owner, opts.tenant) ??
        (await this.jobs.claim(owner, leaseMs, opts.tenant));
      if (!job) break;
      jobs++;
      while (!this.stopped && batches < max) {
        batches++;
        let outcome;
        try {
          outcome = await this.jobs.runBatch(job.id, owner, batchSize, leaseMs);
        } catch (err) {
          if (isDatabaseUnavailable(err)) {
            this.held = {
              id: job.id,
              owner,
              orgId: job.org_id,
              sandboxName: job.sandbox_name,
            };
            throw err;
          }
          this.logger.error(
            { err, jobId: job.id },
            'segment evaluation batch failed',
          );
          await this.jobs.fail(
            job.id,
            owner,
            err instanceof Error ? err.message : String(err),
          );
          break;
        }
        if (outcome !== 'continue') break;
      }
    }
    return { jobs, batches };
  }

  private takeHeld(
    owner: string,
    only?: TenantRef,
  ): { id: string; org_id: string; sandbox_name: string } | undefined {
    const held = this.held;
    if (
      !held ||
      held.owner !== owner ||
      (only &&
        (only.orgId !== held.orgId || only.sandboxName !== held.sandboxName))
    )
      return undefined;
    this.held = undefined;
    return {
      id: held.id,
      org_id: held.orgId,
      sandbox_name: held.sandboxName,
    };
  }

  /**
   * Queues the time-relative sweep, and purges expired memberships at most
   * once an hour: the purge reads every profile's memberships, and the
   * retention is counted in days.
   */
  async sweep(): Promise<{ queued: number; purgedMemberships: number }> {
    const queued = await this.jobs.enqueueSweeps();
    if (Date.now() < this.nextPurgeAt) return { queued, purgedMemberships: 0 };
    this.nextPurgeAt = Date.now() + PURGE_INTERVAL_MS;
    const purged = await this.jobs.purge(this.env.MEMBERSHIP_RETENTION_DAYS);
    return { queued, purgedMemberships: purged.memberships };
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.tick().then((ok) =>
        this.schedule(
          ok
            ? POLL_MS
            : Math.min(OUTAGE_MAX_DELAY_MS, POLL_MS * 2 ** this.outageTicks),
        ),
      );
    }, delay);
    this.timer.unref();
  }

  /** False when the database was unreachable (the next tick backs off). */
  private async tick(): Promise<boolean> {
    try {
      if (Date.now() >= this.nextSweepAt) {
        this.nextSweepAt = Date.now() + this.env.SEGMENT_SWEEP_INTERVAL_MS;
        await this.sweep();
      }
      await this.runOnce();
      if (this.outageTicks > 0)
        this.logger.log('segment worker reaches the database again');
      this.outageTicks = 0;
      return true;
    } catch (err) {
      if (!isDatabaseUnavailable(err)) {
        this.logger.error({ err }, 'segment worker tick failed');
        return true;
      }
      if (this.outageTicks++ === 0)
        this.logger.warn(
          `database unavailable (${String(err)}); segment jobs resume when it is back`,
        );
      return false;
    }
  }
}
