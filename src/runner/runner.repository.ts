import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { newVersion } from '../common/etag.js';
import type { Queryable, TenantRef } from '../database/transaction.js';
import { markSeen } from '../memberships/seen.js';
import {
  type ChangePosition,
  type ProfileChange,
  type ReaderPosition,
  changesAfterSql,
  enteringAfter,
  logHorizon,
  purgeConsumedChanges,
  readChangesToHorizon,
} from '../profile-store/change-log.js';
import {
  type ExportStateOptions,
  type ProfileState,
  loadBackfillStates,
  loadExportStates,
  realizationsSeen,
} from '../profile-store/profile-state.js';
import { storeStepRecords } from '../records/record-writes.js';
import { SegmentsService } from '../segments/segments.service.js';
import { exportPositions } from './export-positions.js';
import type { FlowMapping, SegmentInfo } from './mapping.js';
import {
  accumulate,
  type RunMetricsJson,
  type StepOutcome,
} from './run-metrics.js';
import { FlowCursorEntity, type LaneRef } from './flow-cursor.entity.js';
import type { Lane } from '../profile-store/lanes.js';
import type { Backfill, StoredMapping } from './step-plan.js';

/** A flow's identity in the hour's run, the lane, and the runner holding the lane's lease. */
export interface RunContext {
  owner: string;
  flowId: string;
  lane: number;
  orgId: string;
  sandboxName: string;
  sandboxId: string;
  flowSpecId: string;
}

const EMPTY_MAPPING: FlowMapping = {
  segmentIds: [],
  attributePaths: [],
  mandatoryFields: [],
};

/**
 * A cursor's `updated_at` set to this makes the flow count as edited
 * (claims compare it with the flow's `updated_at`): its next step records
 * the mapping and starts any backfill, even when no change is pending.
 */
export const EDITED_SQL = 'to_timestamp(0)';

/**
 * A lane with no changes of its own follows the log's horizon (see
 * positionAfterRead): advanceIdleLanes moves it this long after its last
 * step or move, and a claim takes it for that only after twice as long
 * (when advanceIdleLanes could not, e.g. its delivery job is running). The
 * purge and exportPositions go by a flow's slowest lane.
 */
export const LANE_CATCH_UP_MS = 1000;

/**
 * The runner's statements over its own tables (cursors, runs) and its reads
 * through the profile store and the segment catalogue.
 */
@Injectable()
export class RunnerRepository {
  /** Per flow, the hour's run as this process last wrote it (see commitInOne). */
  private readonly runs = new Map<string, KnownRun>();
  /** Per flow, the tail of its commits taking turns (see inTurn). */
  private readonly turns = new Map<string, Promise<unknown>>();

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly segments: SegmentsService,
  ) {}

  /**
   * Gives every flow its lanes' cursors, `lanes` of them (the flow's lane
   * count is fixed here, once). A new cursor starts at the change log's
   * current snapshot horizon; members that qualified before are exported by
   * the backfill.
   */
  async ensureCursors(lanes: number): Promise<void> {
    // Every tick asks; nearly always there is nothing to do, and one
    // statement says so.
    const [todo] = (await this.ds.query(
      `SELECT EXISTS (SELECT 1 FROM flows f WHERE NOT EXISTS (SELECT 1 FROM flow_cursors c WHERE c.flow_id = f.id)) AS missing,
              EXISTS (SELECT 1 FROM flow_cursors c WHERE c.deleted_at IS NULL
                         AND NOT EXISTS (SELECT 1 FROM flows f WHERE f.id = c.flow_id)) AS orphaned`,
    )) as { missing: boolean; orphaned: boolean }[];
    if (todo?.missing) await this.createCursors(lanes);
    // A deleted flow's cursor stays, marked: its position still tells the
    // profile lookup which qualifications that flow exported. Claims join
    // flows, so it is never picked up; the purge ignores it.
    if (todo?.orphaned)
      await this.ds.query(
        `UPDATE flow_cursors c SET deleted_at = now(), lease_owner = NULL, lease_until = NULL
          WHERE c.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM flows f WHERE f.id = c.flow_id)`,
      );
  }

  private async createCursors(lanes: number): Promise<void> {
    await this.ds.transaction(async (em) => {
      // Replicas configured with different lane counts must not each add
      // lanes to one flow: one creator at a time, and only for flows that
      // have no cursor at all.
      await em.query(
        `SELECT pg_advisory_xact_lock(hashtext('fse_flow_cursors_create'))
          WHERE EXISTS (SELECT 1 FROM flows f WHERE NOT EXISTS (SELECT 1 FROM flow_cursors c WHERE c.flow_id = f.id))`,
      );
      await em.query(
        // A new cursor counts as edited: the first step records its mapping
        // and starts the backfill.
        `INSERT INTO flow_cursors (flow_id, lane, lanes, org_id, sandbox_name, last_tx_id, last_change_id, mapping, next_attempt_at, updated_at)
         SELECT f.id, l.n, $2::int, f.org_id, f.sandbox_name, pg_snapshot_xmin(pg_current_snapshot())::text, 0, $1::jsonb, now(), ${EDITED_SQL}
         FROM flows f CROSS JOIN generate_series(0, $2::int - 1) AS l(n)
         WHERE NOT EXISTS (SELECT 1 FROM flow_cursors c WHERE c.flow_id = f.id)
         ON CONFLICT (flow_id, lane) DO NOTHING`,
        [JSON.stringify(EMPTY_MAPPING), lanes],
      );
    });
  }

  /**
   * Says this runner is alive (runner_processes) and returns how many live
   * runners there are, itself included: announcements older than `ttlMs`
   * are of runners that died (a stopped runner retires its own), and rows
   * long dead are deleted on the way.
   */
  async announce(owner: string, ttlMs: number): Promise<number> {
    const rows = (await this.ds.query(
      `WITH me AS (
         INSERT INTO runner_processes (owner, seen_at) VALUES ($1, now())
         ON CONFLICT (owner) DO UPDATE SET seen_at = now()),
       gone AS (
         DELETE FROM runner_processes
          WHERE seen_at < now() - ($2::int * interval '10 milliseconds') AND owner <> $1)
       SELECT 1 + count(*)::int AS n FROM runner_processes
        WHERE owner <> $1 AND seen_at > now() - ($2::int * interval '1 millisecond')`,
      [owner, ttlMs],
    )) as { n: number }[];
    return rows[0]?.n ?? 1;
  }

  /** A stopping runner no longer counts: the others' share of lanes grows at once. */
  async retire(owner: string): Promise<void> {
    await this.ds.query(`DELETE FROM runner_processes WHERE owner = $1`, [
      owner,
    ]);
  }

  /**
   * Claims lanes of enabled flows that have work (new committed changes of
   * the lane's profiles, a pending backfill, a replay or resync share, an
   * edited flow, or a retry that is due) and that nobody else holds.
   * SKIP LOCKED keeps runners apart; ordering by next_attempt_at, which a
   * release moves to now, rotates between lanes. Of one flow, a runner holds
   * at most its share, ⌈lanes / live runners⌉ (all of them when it is
   * alone), so a hot flow spreads over every runner process.
   */
  async claim(
    owner: string,
    limit: number,
    leaseMs: number,
    /** Claim flows whose last attempt failed (true) or healthy ones (false). */
    failing: boolean,
    /** Lanes (laneKey) this runner is already working on, whatever their lease says. */
    busy: string[] = [],
    /** Live runner processes (see announce), this one included. */
    runners = 1,
  ): Promise<FlowCursorEntity[]> {
    const res = (await this.ds.query(
      `WITH mine AS (
         SELECT flow_id, count(*)::int AS n FROM flow_cursors
          WHERE lease_owner = $1 AND lease_until > now() GROUP BY flow_id),
       candidate AS (
         SELECT c.flow_id, c.lane, c.next_attempt_at,
                row_number() OVER (PARTITION BY c.flow_id ORDER BY c.next_attempt_at, c.lane) AS rank,
                (c.lanes + $6::int - 1) / $6::int - COALESCE(m.n, 0) AS room
           FROM flow_cursors c JOIN flows f ON f.id = c.flow_id
           LEFT JOIN mine m ON m.flow_id = c.flow_id
         WHERE f.state = 'enabled' AND c.next_attempt_at <= now() AND (c.failures > 0) = $4
           AND (c.flow_id::text || '/' || c.lane) <> ALL($5::text[])
           AND (c.lease_until IS NULL OR c.lease_until < now())
           AND (c.backfill IS NOT NULL OR c.failures > 0 OR f.updated_at > c.updated_at
                OR c.flow_version IS DISTINCT FROM f.version
                OR EXISTS (SELECT 1 FROM delivery_jobs j WHERE j.flow_id = c.flow_id AND j.lane = c.lane AND j.state = 'running')
                OR ${changesAfterSql({ orgId: 'c.org_id', sandboxName: 'c.sandbox_name', txId: 'c.last_tx_id::xid8', changeId: 'c.last_change_id', lane: 'c.lane', lanes: 'c.lanes' })}
                OR (GREATEST(c.updated_at, c.caught_up_at) < now() - interval '${2 * LANE_CATCH_UP_MS} milliseconds'
                    AND ${changesAfterSql({ orgId: 'c.org_id', sandboxName: 'c.sandbox_name', txId: 'c.last_tx_id::xid8', changeId: 'c.last_change_id' })}))
       ),
       due AS (
         SELECT c.flow_id, c.lane FROM flow_cursors c
           JOIN candidate d ON d.flow_id = c.flow_id AND d.lane = c.lane
          WHERE d.rank <= d.room
            AND (c.lease_until IS NULL OR c.lease_until < now())
          ORDER BY d.next_attempt_at
          LIMIT $2
          FOR UPDATE OF c SKIP LOCKED
       )
       UPDATE flow_cursors c SET lease_owner = $1, lease_until = now() + ($3::int * interval '1 millisecond')
       FROM due WHERE c.flow_id = due.flow_id AND c.lane = due.lane
       RETURNING c.flow_id, c.lane`,
      [owner, limit, leaseMs, failing, busy, Math.max(1, Math.floor(runners))],
    )) as unknown[];
    const list = rowsOf(res) as { flow_id: string; lane: number }[];
    if (list.length === 0) return [];
    return this.ds
      .getRepository(FlowCursorEntity)
      .findBy(list.map((r) => ({ flowId: r.flow_id, lane: r.lane })));
  }

  /**
   * Moves idle lanes to the log's horizon in one statement, where a step
   * would take them (positionAfterRead after a batch that was not full)
   * without claiming, reading and committing each: a lane nobody holds,
   * with nothing else due (no backfill, failure, edit or delivery job) and
   * no change of its own below the horizon. Every transaction below the
   * horizon has finished, so no change of the lane can commit behind the new
   * position. `caught_up_at` records it (the claim's catch-up waits for it
   * as for a step), not `updated_at`, which edits of the flow are compared
   * with.
   */
  async advanceIdleLanes(): Promise<number> {
    const res = (await this.ds.query(
      `WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS tx)
       UPDATE flow_cursors c SET last_tx_id = h.tx::text, last_change_id = 0, caught_up_at = now()
         FROM flows f, h
        WHERE f.id = c.flow_id AND f.state = 'enabled' AND c.deleted_at IS NULL
          AND (c.lease_until IS NULL OR c.lease_until < now())
          AND c.backfill IS NULL AND c.failures = 0 AND f.updated_at <= c.updated_at
          AND c.flow_version = f.version
          AND c.last_tx_id::xid8 < h.tx
          AND GREATEST(c.updated_at, c.caught_up_at) < now() - interval '${LANE_CATCH_UP_MS} milliseconds'
          AND NOT EXISTS (SELECT 1 FROM delivery_jobs j WHERE j.flow_id = c.flow_id AND j.lane = c.lane AND j.state = 'running')
          AND NOT ${changesAfterSql({ orgId: 'c.org_id', sandboxName: 'c.sandbox_name', txId: 'c.last_tx_id::xid8', changeId: 'c.last_change_id', lane: 'c.lane', lanes: 'c.lanes', below: 'h.tx' })}
       RETURNING c.flow_id`,
    )) as unknown[];
    return rowsOf(res).length;
  }

  reload(ref: LaneRef): Promise<FlowCursorEntity | null> {
    return this.ds
      .getRepository(FlowCursorEntity)
      .findOneBy({ flowId: ref.flowId, lane: ref.lane });
  }

  /** Extends a lease we still hold; false means another runner took the lane over. */
  async renew(owner: string, ref: LaneRef, leaseMs: number): Promise<boolean> {
    const res = (await this.ds.query(
      `UPDATE flow_cursors SET lease_until = now() + ($4::int * interval '1 millisecond')
       WHERE flow_id = $1 AND lane = $2 AND lease_owner = $3 RETURNING flow_id`,
      [ref.flowId, ref.lane, owner, leaseMs],
    )) as unknown[];
    return rowsOf(res).length > 0;
  }

  /** Releases one lane's lease, or every lease of `owner`. */
  async release(owner: string, ref?: LaneRef): Promise<void> {
    await this.ds.query(
      `UPDATE flow_cursors SET lease_owner = NULL, lease_until = NULL, next_attempt_at = GREATEST(next_attempt_at, now())
       WHERE lease_owner = $1 AND ($2::uuid IS NULL OR (flow_id = $2::uuid AND lane = $3::int))`,
      [owner, ref?.flowId ?? null, ref?.lane ?? 0],
    );
  }

  /** The lane's committed changes after `after` (never past a transaction still in flight) and the horizon they reach. */
  readChangesToHorizon(
    tenant: TenantRef,
    after: ChangePosition,
    limit: number,
    lane: Lane,
  ): Promise<{ changes: ProfileChange[]; horizon: ChangePosition }> {
    return readChangesToHorizon(this.ds, tenant, after, limit, lane);
  }

  /** What an export needs of the given profiles (see loadExportStates). */
  exportStates(
    tenant: TenantRef,
    profileIds: string[],
    segmentIds: string[],
    options?: ExportStateOptions,
  ): Promise<Map<string, ProfileState>> {
    return loadExportStates(this.ds, tenant, profileIds, segmentIds, options);
  }

  /**
   * A backfill page: the lane's next members of the backfill's segments
   * (see memberWalkSql) with their export states, `realized` memberships
   * another flow has exported shown as `existing` (showSeenByOtherFlows) —
   * each member's row read once (loadBackfillStates).
   */
  async backfillPage(
    flow: TenantRef & { id: string },
    backfill: Backfill,
    limit: number,
    lane: Lane,
    segmentIds: string[],
    options?: ExportStateOptions,
  ): Promise<{ ids: string[]; states: Map<string, ProfileState> }> {
    return loadBackfillStates(
      this.ds,
      flow,
      {
        segmentIds: backfill.segmentIds,
        afterProfileId: backfill.afterProfileId,
        limit,
        lane,
      },
      segmentIds,
      await exportPositions(this.ds, flow, flow.id),
      options,
    );
  }

  /** Members the change log will export from `after` (see enteringAfter). */
  enteringAfter(
    tenant: TenantRef,
    profileIds: string[],
    segmentIds: string[],
    after: ChangePosition,
  ): Promise<Set<string>> {
    return enteringAfter(this.ds, tenant, profileIds, segmentIds, after);
  }

  /** The change log's horizon now: every change below it has committed. */
  horizon(): Promise<ChangePosition> {
    return logHorizon(this.ds);
  }

  /**
   * A backfill shows a `realized` membership as `existing` once another
   * flow has exported it, as the profile lookup reports it (in place).
   */
  async showSeenByOtherFlows(
    flow: TenantRef & { id: string },
    states: Map<string, ProfileState>,
  ): Promise<void> {
    if (states.size === 0) return;
    const seen = await realizationsSeen(
      this.ds,
      flow,
      [...states.keys()],
      await exportPositions(this.ds, flow, flow.id),
    );
    for (const [profileId, segmentIds] of seen) {
      const state = states.get(profileId);
      if (state) markSeen(state.memberships, segmentIds);
    }
  }

  /** Names and created/updated times of the mapped segments (missing ones omitted). */
  async segmentInfo(
    tenant: TenantRef,
    segmentIds: string[],
  ): Promise<Map<string, SegmentInfo>> {
    if (segmentIds.length === 0) return new Map();
    const rows = await this.segments.findByIds(tenant, segmentIds);
    return new Map(
      rows.map((r) => [
        r.id,
        {
          name: r.name,
          createdAt: r.createdAt.getTime(),
          updatedAt: r.updatedAt.getTime(),
        },
      ]),
    );
  }

  /**
   * Deletes change-log rows no flow needs any more (see purgeConsumedChanges):
   * every flow that is not deleted reads its tenant's log.
   */
  purgeConsumedChanges(
    retentionHours: number,
    batch = 10_000,
  ): Promise<number> {
    return purgeConsumedChanges(
      this.ds,
      retentionHours,
      readerPositions,
      batch,
    );
  }

  /**
   * After the hub acknowledged a step: advance the position (only if we still
   * hold the lease) and add the step to the hour's run, together: one
   * statement (commitInOne) or one transaction.
   * Profile rows are not written: the position is what turns the `realized`
   * memberships the step showed into `existing` (see realizationsSeen).
   */
  async commitStep(input: StepCommit): Promise<boolean> {
    const { outcome } = input;
    // Commits of one flow's lanes in this process take turns: they all add
    // to the hour's run, and each then finds the version the last one wrote.
    if (outcome && !outcome.records.length && !outcome.consent.length) {
      const done = await this.inTurn(input.flowId, () =>
        this.commitInOne(input, outcome),
      );
      if (done !== undefined) return done;
    }
    const hourStart = outcome ? hourOf(outcome.at) : null;
    try {
      const written = await this.ds.transaction(async (em) => {
        // The position moves and the hour's run is locked and read in one
        // statement: every lane of the flow adds to that run, so the lock is
        // held for as few round trips as possible.
        const [row] = (await em.query(
          `WITH cur AS (${CURSOR_COMMIT_SQL})
           SELECT (SELECT count(*) FROM cur)::int AS leased, r.id, r.metrics
             FROM (SELECT 1) AS one
             LEFT JOIN (SELECT id, metrics FROM runs WHERE $8::timestamptz IS NOT NULL
                           AND flow_id = $1 AND hour_start = $8::timestamptz FOR UPDATE) AS r ON true`,
          cursorCommitParams(input, hourStart),
        )) as { leased: number; id: string | null; metrics: unknown }[];
        if (!row?.leased) throw new LeaseLost();
        if (!outcome) return undefined;
        return this.recordRun(
          em,
          input,
          outcome,
          row.id ? { id: row.id, metrics: row.metrics } : undefined,
        );
      });
      if (written) this.remember(input.flowId, written);
      return true;
    } catch (err) {
      // Another runner owns the lane now: nothing of this step is kept.
      if (err instanceof LeaseLost) return false;
      throw err;
    }
  }

  /**
   * The commit as one statement, no transaction: the position moves and
   * the step is added to the hour's run whose version this process knows
   * (the one it last wrote, or read now); fse_check fails the statement
   * when another writer moved the run meanwhile, and the run is read again.
   * Undefined: the hour has no run yet, or it kept moving — the caller's
   * locking transaction then does it.
   */
  private async commitInOne(
    input: StepCommit,
    outcome: StepOutcome,
  ): Promise<boolean | undefined> {
    const hourStart = hourOf(outcome.at);
    for (let attempt = 0; attempt < 2; attempt++) {
      let run = this.runs.get(input.flowId);
      if (run?.hourStart !== hourStart.getTime()) {
        const [row] = (await this.ds.query(
          `SELECT id, version::text AS version, metrics FROM runs WHERE flow_id = $1 AND hour_start = $2`,
          [input.flowId, hourStart],
        )) as { id: string; version: string; metrics: unknown }[];
        if (!row) return undefined;
        run = { hourStart: hourStart.getTime(), ...row };
      }
      const metrics = accumulate(
        run.metrics as Partial<RunMetricsJson>,
        outcome,
      );
      const version = newVersion();
      try {
        const [row] = (await this.ds.query(
          `WITH cur AS (${CURSOR_COMMIT_SQL}),
                run AS (UPDATE runs SET metrics = $11::jsonb, version = $12, updated_at = now()
                         WHERE id = $8 AND version = $13 AND EXISTS (SELECT 1 FROM cur) RETURNING id)
           SELECT (SELECT count(*) FROM cur)::int AS leased,
                  fse_check(NOT EXISTS (SELECT 1 FROM cur) OR EXISTS (SELECT 1 FROM run), 'the run moved') AS ok`,
          [
            ...cursorCommitParams(input, run.id),
            JSON.stringify(metrics),
            version,
            run.version,
          ],
        )) as { leased: number }[];
        // Another runner owns the lane now: nothing of this step is kept.
        if (!row?.leased) return false;
        this.remember(input.flowId, { ...run, version, metrics });
        return true;
      } catch (err) {
        if (!isRunMoved(err)) throw err;
        this.runs.delete(input.flowId);
      }
    }
    return undefined;
  }

  /** Keeps the run's version for the flow's next commit (the most recent flows only). */
  private remember(flowId: string, run: KnownRun): void {
    this.runs.delete(flowId);
    this.runs.set(flowId, run);
    if (this.runs.size > MAX_KNOWN_RUNS) {
      const oldest = this.runs.keys().next().value;
      if (oldest !== undefined) this.runs.delete(oldest);
    }
  }

  /** Runs `fn` after every earlier call for `key` has settled. */
  private inTurn<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.turns.get(key) ?? Promise.resolve()).then(fn, fn);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.turns.set(key, settled);
    void settled.then(() => {
      if (this.turns.get(key) === settled) this.turns.delete(key);
    });
    return next;
  }

  /** An unexpected error: keep the position, retry after `delayMs`. */
  async defer(
    owner: string,
    ref: LaneRef,
    delayMs: number,
    error: string,
  ): Promise<void> {
    await this.ds.query(
      `UPDATE flow_cursors SET failures = failures + 1, last_error = $3,
              next_attempt_at = now() + ($4::int * interval '1 millisecond'), updated_at = now()
       WHERE flow_id = $1 AND lease_owner = $2 AND lane = $5`,
      [ref.flowId, owner, error.slice(0, 2000), delayMs, ref.lane],
    );
  }

  /** A failed step: the position stays, the flow is retried after `delayMs`, the run shows the error. */
  async recordFailure(
    input: RunContext & {
      delayMs: number;
      error: string;
      outcome: StepOutcome;
    },
  ): Promise<void> {
    this.runs.delete(input.flowId);
    await this.ds.transaction(async (em) => {
      await em.query(
        `UPDATE flow_cursors SET failures = failures + 1, last_error = $3,
                next_attempt_at = now() + ($4::int * interval '1 millisecond'), lease_owner = NULL, lease_until = NULL, updated_at = now()
         WHERE flow_id = $1 AND lease_owner = $2 AND lane = $5`,
        [input.flowId, input.owner, input.error, input.delayMs, input.lane],
      );
      await this.recordRun(em, input, input.outcome);
    });
  }

  /**
   * Adds a step to the hour's run (created on the hour's first step).
   * `locked`: the run row, already locked by the caller's transaction.
   */
  private async recordRun(
    em: EntityManager,
    input: Omit<RunContext, 'owner' | 'lane'>,
    outcome: StepOutcome,
    locked?: { id: string; metrics: unknown },
  ): Promise<KnownRun | undefined> {
    const hourStart = hourOf(outcome.at);
    const run = locked ?? (await this.lockRun(em, input, hourStart));
    if (!run) return undefined;
    const metrics = accumulate(run.metrics as Partial<RunMetricsJson>, outcome);
    const version = newVersion();
    await em.query(
      `UPDATE runs SET metrics = $2::jsonb, version = $3, updated_at = now() WHERE id = $1`,
      [run.id, JSON.stringify(metrics), version],
    );
    await storeStepRecords(
      em,
      { ...input, runId: run.id },
      outcome.records,
      outcome.consent,
    );
    return { hourStart: hourStart.getTime(), id: run.id, version, metrics };
  }

  /** Creates the hour's run if it is the hour's first step, and locks it. */
  private async lockRun(
    em: EntityManager,
    input: Omit<RunContext, 'owner' | 'lane'>,
    hourStart: Date,
  ): Promise<{ id: string; metrics: unknown } | undefined> {
    await em.query(
      `INSERT INTO runs (org_id, sandbox_name, sandbox_id, flow_id, flow_spec_id, hour_start, version, metrics)
       VALUES ($1, $2, $3, $4, $5, $6, $7, '{}'::jsonb)
       ON CONFLICT (flow_id, hour_start) DO NOTHING`,
      [
        input.orgId,
        input.sandboxName,
        input.sandboxId,
        input.flowId,
        input.flowSpecId,
        hourStart,
        newVersion(),
      ],
    );
    const [run] = (await em.query(
      `SELECT id, metrics FROM runs WHERE flow_id = $1 AND hour_start = $2 FOR UPDATE`,
      [input.flowId, hourStart],
    )) as { id: string; metrics: unknown }[];
    return run;
  }
}

/** Flows whose run version a process keeps (a run's metrics are a few KB). */
const MAX_KNOWN_RUNS = 1_000;

/** What a step's commit writes (see RunnerRepository.commitStep). */
type StepCommit = RunContext & {
  position: ChangePosition;
  mapping: StoredMapping;
  backfill: Backfill | null;
  outcome: StepOutcome | null;
  /** Also release the lease, as release() does (the lane ends its turn). */
  release?: boolean;
  /** The flow's version the step planned with (see CursorFlowVersion1765510000000). */
  flowVersion: string;
};

/** An hour's run as this process last wrote or read it. */
interface KnownRun {
  hourStart: number;
  id: string;
  version: string;
  metrics: unknown;
}

/**
 * A step's position moves only while the lane's lease is ours ($1 flow,
 * $2 owner, $3/$4 position, $5 mapping, $6 backfill, $7 lane, $9 release,
 * $10 the flow version the step planned with).
 */
const CURSOR_COMMIT_SQL = `UPDATE flow_cursors SET last_tx_id = $3, last_change_id = $4, mapping = $5::jsonb, backfill = $6::jsonb, flow_version = $10,
         failures = 0, last_error = NULL, last_success_at = now(), updated_at = now(),
         lease_owner = CASE WHEN $9 THEN NULL ELSE lease_owner END,
         lease_until = CASE WHEN $9 THEN NULL ELSE lease_until END,
         next_attempt_at = CASE WHEN $9 THEN GREATEST(next_attempt_at, now()) ELSE next_attempt_at END
   WHERE flow_id = $1 AND lease_owner = $2 AND lane = $7 RETURNING flow_id`;

/** CURSOR_COMMIT_SQL's parameters $1–$10, with the caller's own $8. */
function cursorCommitParams(input: StepCommit, eighth: unknown): unknown[] {
  return [
    input.flowId,
    input.owner,
    input.position.txId,
    input.position.id,
    JSON.stringify(input.mapping),
    input.backfill ? JSON.stringify(input.backfill) : null,
    input.lane,
    eighth,
    input.release === true,
    input.flowVersion,
  ];
}

/** fse_check's error: the run moved under a commit that expected its version. */
function isRunMoved(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  return (e.code ?? e.driverError?.code) === 'FSE01';
}

/** The start of the hour's run that a step at `at` (epoch ms) adds to. */
function hourOf(at: number): Date {
  return new Date(Math.floor(at / 3_600_000) * 3_600_000);
}

/** Rolls back a step's commit when the flow's lease has moved on. */
class LeaseLost extends Error {}

/** `ds.query` returns `[rows, count]` for UPDATE … RETURNING and plain rows otherwise. */
function rowsOf(res: unknown[]): unknown[] {
  return Array.isArray(res[0]) ? (res[0] as unknown[]) : res;
}

/**
 * Every tenant's slowest live lane, for the change-log purge: a row is kept
 * while any lane of any flow of its tenant is at or before it (a lane only
 * reads its own profiles' rows, but the purge goes by position alone).
 */
async function readerPositions(q: Queryable): Promise<ReaderPosition[]> {
  const rows = (await q.query(
    `SELECT DISTINCT ON (org_id, sandbox_name) org_id, sandbox_name, last_tx_id, last_change_id::text AS last_change_id
       FROM flow_cursors WHERE deleted_at IS NULL
      ORDER BY org_id, sandbox_name, last_tx_id::xid8, last_change_id`,
  )) as {
    org_id: string;
    sandbox_name: string;
    last_tx_id: string;
    last_change_id: string;
  }[];
  return rows.map((r) => ({
    orgId: r.org_id,
    sandboxName: r.sandbox_name,
    position: { txId: r.last_tx_id, id: r.last_change_id },
  }));
}
