import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import { ENV, Env } from '../config/env.js';
import { isDatabaseUnavailable } from '../database/unavailable.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ExportExecutor } from './export-executor.js';
import {
  type FlowCursorEntity,
  type LaneRef,
  laneKey,
} from './flow-cursor.entity.js';
import { LANE_CATCH_UP_MS, RunnerRepository } from './runner.repository.js';

/** Channel the change-log trigger notifies on commit; a hint only, never the source of truth. */
export const CHANGES_CHANNEL = 'fse_profile_changes';
/** A lane with a backlog yields its slot after this long so other lanes get a turn. */
const SLICE_MS = 5_000;
/** How often a replica deletes change-log rows every flow has exported (retention is in hours; the scan is not free). */
const PURGE_INTERVAL_MS = 10 * 60_000;
/**
 * Retries while the database is unreachable back off up to this: a refused
 * connect costs nothing, and exports should resume within seconds of the
 * database's return, not after RUNNER_MAX_BACKOFF_MS.
 */
const OUTAGE_MAX_BACKOFF_MS = 5_000;
/** How long a shutdown waits for in-flight steps: well inside SHUTDOWN_TIMEOUT_MS's default. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * Decides what is due and claims it (STYLE §10): ticks every RUNNER_INTERVAL_MS
 * and wakes on NOTIFY so a change reaches the hub well under a second after
 * commit. Each claimed flow runs in its own slot so one failing flow never
 * delays the others.
 */
@Injectable()
export class RunnerScheduler
  implements
    OnApplicationBootstrap,
    BeforeApplicationShutdown,
    OnApplicationShutdown
{
  private readonly logger = new Logger('RunnerScheduler');
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private timer?: NodeJS.Timeout;
  private listener?: pg.Client;
  private listenRetry?: NodeJS.Timeout;
  private listenFailures = 0;
  /** Consecutive failed ticks; no tick starts before `resumeAt`. */
  private tickFailures = 0;
  private resumeAt = 0;
  /**
   * Lanes whose lease could not be released (the database was gone when
   * their slice ended): released by the next tick that reaches the
   * database, so they do not wait RUNNER_LEASE_MS for the lease to lapse.
   */
  private readonly unreleased = new Map<string, LaneRef>();
  /** Lanes being exported, by laneKey. */
  private readonly active = new Map<
    string,
    { work: Promise<void>; failing: boolean }
  >();
  /**
   * Lanes that end their slice because this runner holds more than its
   * share of their flow (see surplus): counted out at once, so two lanes of
   * one flow reaching a step boundary together do not both leave.
   */
  private readonly leaving = new Set<string>();
  /** Live runner processes at the last announcement, this one included. */
  private runners = 1;
  private announcedAt = 0;
  private nextAdvanceAt = 0;
  private ticking = false;
  /** The tick in progress (claims, cursors): stop() waits for it too. */
  private ticked?: Promise<void>;
  private nextPurgeAt = 0;
  private purging?: Promise<void>;
  private again = false;
  private stopped = true;
  private stopping?: Promise<void>;

  constructor(
    @Inject(ENV) private readonly env: Env,
    private readonly repo: RunnerRepository,
    private readonly executor: ExportExecutor,
    @Inject('DATABASE_URL') private readonly databaseUrl: string,
    private readonly metrics: MetricsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.env.RUNNER_ENABLED) return;
    await this.start();
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.stopping = undefined;
    await this.listen();
    this.timer = setInterval(() => this.wake(), this.env.RUNNER_INTERVAL_MS);
    this.wake();
    this.logger.log(
      `runner ${this.owner} started (interval ${this.env.RUNNER_INTERVAL_MS} ms)`,
    );
  }

  /** Runs a tick now (or right after the current one). */
  wake(): void {
    if (this.stopped || Date.now() < this.resumeAt) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    this.ticked = this.tick()
      .then(() => {
        if (this.tickFailures > 0)
          this.logger.log('runner reaches the database again');
        this.tickFailures = 0;
      })
      .catch((err: unknown) => this.tickFailed(err))
      .finally(() => {
        this.ticking = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Backs off (the interval keeps firing; wake() skips until resumeAt); an outage is logged once. */
  private tickFailed(err: unknown): void {
    this.tickFailures++;
    const outage = isDatabaseUnavailable(err);
    const delay = outage
      ? Math.min(OUTAGE_MAX_BACKOFF_MS, this.backoff(this.tickFailures))
      : this.backoff(this.tickFailures);
    this.resumeAt = Date.now() + delay;
    if (!outage)
      this.logger.error({ err }, `runner tick failed: ${String(err)}`);
    else if (this.tickFailures === 1)
      this.logger.warn(
        `database unavailable (${String(err)}); the runner retries with backoff`,
      );
  }

  private async tick(): Promise<void> {
    for (const [key, ref] of this.unreleased) {
      if (this.active.has(key)) continue;
      await this.repo.release(this.owner, ref);
      this.unreleased.delete(key);
    }
    await this.repo.ensureCursors(this.env.RUNNER_LANES);
    await this.announce();
    if (Date.now() >= this.nextAdvanceAt) {
      this.nextAdvanceAt = Date.now() + LANE_CATCH_UP_MS;
      await this.repo.advanceIdleLanes();
    }
    this.purgeNow();
    let free = this.env.RUNNER_CONCURRENCY - this.active.size;
    if (free <= 0) return;
    const healthy = await this.repo.claim(
      this.owner,
      free,
      this.env.RUNNER_LEASE_MS,
      false,
      [...this.active.keys()],
      this.runners,
    );
    // Stopped meanwhile: launch nothing; stop() releases every lease of this owner.
    if (this.stopped) return;
    healthy.forEach((c) => this.launch(c, false));
    free -= healthy.length;
    // Failing flows (a wrong key, an unreachable namespace) may wait a long
    // time per attempt; they never take the last slot, so healthy flows keep moving.
    const failingActive = [...this.active.values()].filter(
      (a) => a.failing,
    ).length;
    const failingRoom = Math.min(
      free,
      Math.max(1, this.env.RUNNER_CONCURRENCY - 1) - failingActive,
    );
    if (failingRoom <= 0) return;
    const failing = await this.repo.claim(
      this.owner,
      failingRoom,
      this.env.RUNNER_LEASE_MS,
      true,
      [...this.active.keys()],
      this.runners,
    );
    if (this.stopped) return;
    failing.forEach((c) => this.launch(c, true));
  }

  /**
   * Refreshes this runner's announcement (a few times per lease period: a
   * runner that stops announcing counts as gone after RUNNER_LEASE_MS, when
   * its leases have lapsed too) and learns how many runners share the lanes.
   */
  private async announce(): Promise<void> {
    const every = Math.max(100, Math.floor(this.env.RUNNER_LEASE_MS / 5));
    if (Date.now() - this.announcedAt < every) return;
    this.runners = await this.repo.announce(
      this.owner,
      this.env.RUNNER_LEASE_MS,
    );
    this.announcedAt = Date.now();
  }

  /**
   * Whether this lane should hand its flow back at this step boundary: this
   * runner holds more lanes of the flow than its share, ⌈lanes / live
   * runners⌉ (more runners appeared since it claimed them). The lane is
   * released at its committed position, as at the end of a slice, and a
   * runner with room claims it.
   */
  private surplus(ref: LaneRef, lanes: number): boolean {
    const share = Math.ceil(lanes / Math.max(1, this.runners));
    let held = 0;
    for (const key of this.active.keys())
      if (key.startsWith(`${ref.flowId}/`) && !this.leaving.has(key)) held++;
    if (held <= share) return false;
    this.leaving.add(laneKey(ref));
    return true;
  }

  /** In the background: a long purge never holds up exports. */
  private purgeNow(): void {
    if (this.purging || Date.now() < this.nextPurgeAt) return;
    this.nextPurgeAt = Date.now() + PURGE_INTERVAL_MS;
    this.purging = this.repo
      .purgeConsumedChanges(this.env.CHANGE_LOG_RETENTION_HOURS)
      .then((n) => {
        if (n) this.logger.log(`deleted ${n} exported change-log rows`);
      })
      .catch((err: unknown) =>
        this.logger.warn({ err }, `change-log purge failed: ${String(err)}`),
      )
      .finally(() => (this.purging = undefined));
  }

  private launch(cursor: FlowCursorEntity, failing: boolean): void {
    const key = laneKey(cursor);
    const work = this.runLane(cursor).finally(() => {
      this.active.delete(key);
      this.leaving.delete(key);
      // A slot freed up: there may be more due work.
      this.wake();
    });
    this.active.set(key, { work, failing });
  }

  private async runLane(first: FlowCursorEntity): Promise<void> {
    let cursor = first;
    const ref: LaneRef = { flowId: first.flowId, lane: first.lane };
    const key = laneKey(ref);
    const sliceEnd = Date.now() + SLICE_MS;
    /** The last step's commit released the lease already. */
    let released = false;
    // A slow step (a reconnecting producer, a busy hub) must not outlive its
    // lease, or another runner would export the same changes concurrently.
    const heartbeat = setInterval(
      () => {
        void this.repo
          .renew(this.owner, ref, this.env.RUNNER_LEASE_MS)
          .catch(() => undefined);
      },
      Math.max(250, Math.floor(this.env.RUNNER_LEASE_MS / 3)),
    );
    try {
      for (;;) {
        const result = await this.executor.step(
          this.owner,
          cursor,
          this.env.RUNNER_BATCH_SIZE,
          (n) => this.backoff(n),
        );
        released = result === 'done';
        if (
          result !== 'more' ||
          this.stopped ||
          Date.now() > sliceEnd ||
          this.surplus(ref, cursor.lanes)
        ) {
          // A step's commit may still be in flight: it lands before the lease goes.
          await this.executor.settle(key);
          return;
        }
        if (!(await this.repo.renew(this.owner, ref, this.env.RUNNER_LEASE_MS)))
          return;
        const fresh =
          this.executor.pendingCursor(key) ?? (await this.repo.reload(ref));
        if (!fresh) return;
        cursor = fresh;
      }
    } catch (err) {
      // Not a publish failure (the executor records those): back off so a
      // broken flow does not spin, and keep its position.
      this.metrics.recordStepError();
      const message = err instanceof Error ? err.message : String(err);
      // An outage is the database's, not the flow's: the flow keeps its
      // position and failure count, and a later tick claims it again (ticks
      // back off while the database stays away).
      if (isDatabaseUnavailable(err)) {
        this.logger.warn(
          { flowId: cursor.flowId },
          `flow ${cursor.flowId} step stopped: database unavailable (${message})`,
        );
        return;
      }
      this.logger.error(
        { flowId: cursor.flowId },
        `flow ${cursor.flowId} step failed: ${message}`,
      );
      // A commit still in flight lands first: its `failures = 0` must not
      // overwrite the failure recorded here.
      await this.executor.settle(key).catch(() => undefined);
      await this.repo
        .defer(this.owner, ref, this.backoff(cursor.failures + 1), message)
        .catch(() => undefined);
    } finally {
      // Whatever ended the slice, the commit in flight lands (or fails) before the lease goes.
      await this.executor.settle(key).catch(() => undefined);
      clearInterval(heartbeat);
      if (!released)
        await this.repo
          .release(this.owner, ref)
          .catch(() => this.unreleased.set(key, ref));
    }
  }

  /** Exponential backoff with jitter, capped by RUNNER_MAX_BACKOFF_MS. */
  backoff(failures: number): number {
    const base = Math.min(
      this.env.RUNNER_MAX_BACKOFF_MS,
      250 * 2 ** Math.min(failures, 16),
    );
    return Math.round(base / 2 + Math.random() * (base / 2));
  }

  /**
   * The LISTEN connection, reconnected (with backoff) whenever it is lost or
   * cannot be opened, e.g. while the database restarts. Polling every
   * RUNNER_INTERVAL_MS covers the gap; NOTIFY only makes exports prompter.
   */
  private async listen(): Promise<void> {
    this.listenRetry = undefined;
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.databaseUrl });
    let gone = false;
    // pg reports a lost connection as 'error' and/or 'end'; a failed connect as a rejection.
    const lost = (why: string): void => {
      if (gone) return;
      gone = true;
      if (this.listener === client) this.listener = undefined;
      client.end().catch(() => undefined);
      this.relisten(why);
    };
    client.on('notification', () => this.wake());
    client.on('error', (err) => lost(err.message));
    client.on('end', () => lost('connection closed'));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (err) {
      lost(err instanceof Error ? err.message : String(err));
      return;
    }
    if (gone) return;
    if (this.stopped) {
      gone = true;
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    if (this.listenFailures > 0) {
      this.logger.log('LISTEN connection restored');
      // Changes committed while it was down notified nobody.
      this.wake();
    }
    this.listenFailures = 0;
  }

  private relisten(why: string): void {
    if (this.stopped) return;
    if (this.listenFailures++ === 0)
      this.logger.warn(
        `LISTEN connection lost (${why}); polling continues while it reconnects`,
      );
    this.listenRetry = setTimeout(
      () => void this.listen(),
      Math.min(OUTAGE_MAX_BACKOFF_MS, this.backoff(this.listenFailures)),
    );
    this.listenRetry.unref();
  }

  /**
   * Stops claiming, lets in-flight steps finish (bounded), releases leases so
   * another replica continues. A step still publishing when the bound passes
   * (a hub that never acknowledges) has committed nothing: whoever takes the
   * flow next sends its batch again, under the same messageIds.
   */
  stop(timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
    this.stopping ??= this.stopSteps(timeoutMs);
    return this.stopping;
  }

  private async stopSteps(timeoutMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.listenRetry) clearTimeout(this.listenRetry);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await Promise.race([
      (async () => {
        // A tick in progress may still launch flows (stopped is set, so it
        // launches nothing new); then the flows' steps finish.
        await this.ticked?.catch(() => undefined);
        await Promise.allSettled([
          ...[...this.active.values()].map((a) => a.work),
          this.purging,
        ]);
      })(),
      new Promise((r) => setTimeout(r, timeoutMs).unref()),
    ]);
    await this.repo.release(this.owner).catch(() => undefined);
    await this.repo.retire(this.owner).catch(() => undefined);
  }

  /** Starts stopping while requests drain, so the two bounds run side by side. */
  beforeApplicationShutdown(): void {
    void this.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}
