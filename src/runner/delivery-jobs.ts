import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { newVersion } from '../common/etag.js';
import { type Queryable, sqlState } from '../database/transaction.js';
import type { FlowEntity } from '../flows/flow.entity.js';
import type { ProfileState } from '../profile-store/profile-state.js';
import {
  heldConsents,
  markReplayed,
  replayableRecords,
  storeStepRecords,
} from '../records/record-writes.js';
import { RunEntity } from '../runs/run.entity.js';
import {
  DeliveryJobEntity,
  type DeliveryJobOp,
} from './delivery-job.entity.js';
import type { FlowMapping } from './mapping.js';
import {
  accumulate,
  emptyMetrics,
  type RunMetricsJson,
  type StepOutcome,
} from './run-metrics.js';
import { RunnerRepository } from './runner.repository.js';
import type { Candidate } from './select.js';

/** One page of a job: the profiles to export now and how far the job gets with them. */
export interface JobPage {
  candidates: Candidate[];
  states: Map<string, ProfileState>;
  /** Replay: the targets each profile's records name (null: every target). */
  targetsOf: Map<string, Set<string> | null> | null;
  /** Replay: the records this page sends again. */
  recordIds: string[];
  afterProfileId: string | null;
  afterRecordId: string | null;
  done: boolean;
}

/** Another replay or resync of the flow is running (one at a time per flow). */
export class JobRunning extends Error {
  constructor(readonly job: DeliveryJobEntity) {
    super(
      `A ${job.op} of flow ${job.flowId} is in progress (run ${job.runId}).`,
    );
  }
}

/**
 * Replay and resync jobs: started by the API, worked on by the export
 * executor inside the flow's step (under its lease), page by page. A job
 * reads profiles' current state and never touches the flow's position.
 */
@Injectable()
export class DeliveryJobs {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly repo: RunnerRepository,
  ) {}

  /** The flow's running job (its row for `lane`, when given: that lane's share not done yet). */
  active(flowId: string, lane?: number): Promise<DeliveryJobEntity | null> {
    return this.ds.getRepository(DeliveryJobEntity).findOne({
      where: {
        flowId,
        state: 'running',
        ...(lane === undefined ? {} : { lane }),
      },
      order: { lane: 'ASC' },
    });
  }

  /**
   * Starts a job with its own run. Throws JobRunning when the flow already
   * has one; the unique index decides between two concurrent requests.
   */
  async start(
    flow: FlowEntity,
    op: DeliveryJobOp,
    sourceRunId: string | null,
  ): Promise<DeliveryJobEntity> {
    const running = await this.active(flow.id);
    if (running) throw new JobRunning(running);
    try {
      return await this.ds.transaction(async (em) => {
        // An operation's run starts now; an hour's run starts on the hour,
        // so the two never share (flow_id, hour_start).
        const [run] = (await em.query(
          `INSERT INTO runs (org_id, sandbox_name, sandbox_id, flow_id, flow_spec_id, hour_start, version, metrics, op)
           VALUES ($1, $2, $3, $4, $5,
                   now() + CASE WHEN now() = date_trunc('hour', now()) THEN interval '1 microsecond' ELSE interval '0' END,
                   $6, $7::jsonb, $8)
           RETURNING id`,
          [
            flow.orgId,
            flow.sandboxName,
            flow.sandboxId,
            flow.id,
            flow.flowSpecId,
            newVersion(),
            JSON.stringify(emptyMetrics(Date.now())),
            op,
          ],
        )) as { id: string }[];
        // One row per lane of the flow, each worked on by its lane. A flow
        // the runner has not given lanes yet is one lane: its first claim
        // backfills every member anyway.
        const lanes = (await em.query(
          `SELECT lane, lanes FROM flow_cursors WHERE flow_id = $1 AND deleted_at IS NULL ORDER BY lane`,
          [flow.id],
        )) as { lane: number; lanes: number }[];
        const shares = lanes.length ? lanes : [{ lane: 0, lanes: 1 }];
        const rows = await em.getRepository(DeliveryJobEntity).save(
          shares.map((l) => ({
            orgId: flow.orgId,
            sandboxName: flow.sandboxName,
            flowId: flow.id,
            op,
            state: 'running' as const,
            runId: run?.id ?? '',
            sourceRunId,
            afterProfileId: null,
            afterRecordId: null,
            lane: l.lane,
            lanes: l.lanes,
          })),
        );
        return rows[0] as DeliveryJobEntity;
      });
    } catch (err) {
      if (sqlState(err) === '23505') {
        const other = await this.active(flow.id);
        if (other) throw new JobRunning(other);
      }
      throw err;
    }
  }

  /** The job's next page: resync pages through current members, replay through stored records. */
  async page(
    flow: FlowEntity,
    mapping: FlowMapping,
    job: DeliveryJobEntity,
    limit: number,
  ): Promise<JobPage> {
    const seed = `${job.op}:${job.id}`;
    let profileIds: string[];
    let states: Map<string, ProfileState>;
    let page: Omit<JobPage, 'candidates' | 'states'>;
    if (job.op === 'resync') {
      // The members and their states in one read (see backfillPage).
      ({ ids: profileIds, states } = mapping.segmentIds.length
        ? await this.repo.backfillPage(
            flow,
            {
              segmentIds: mapping.segmentIds,
              afterProfileId: job.afterProfileId,
            },
            limit,
            { lane: job.lane, lanes: job.lanes },
            mapping.segmentIds,
          )
        : { ids: [], states: new Map<string, ProfileState>() });
      page = {
        targetsOf: null,
        recordIds: [],
        afterProfileId: profileIds.at(-1) ?? job.afterProfileId,
        afterRecordId: null,
        done: profileIds.length < limit,
      };
    } else {
      const records = await replayableRecords(
        this.ds,
        flow.id,
        job.sourceRunId,
        job.id,
        job.afterRecordId,
        limit,
        { lane: job.lane, lanes: job.lanes },
      );
      const targetsOf = new Map<string, Set<string> | null>();
      for (const r of records) {
        const known = targetsOf.get(r.profileId);
        if (known === null) continue;
        if (r.targetConnectionId === null) targetsOf.set(r.profileId, null);
        else
          targetsOf.set(
            r.profileId,
            (known ?? new Set<string>()).add(r.targetConnectionId),
          );
      }
      profileIds = [...targetsOf.keys()];
      page = {
        targetsOf,
        recordIds: records.map((r) => r.id),
        afterProfileId: null,
        afterRecordId: records.at(-1)?.id ?? job.afterRecordId,
        done: records.length < limit,
      };
      states = await this.repo.exportStates(
        flow,
        profileIds,
        mapping.segmentIds,
      );
      await this.repo.showSeenByOtherFlows(flow, states);
    }
    return {
      ...page,
      candidates: profileIds.map((profileId) => ({
        profileId,
        exportKey: seed,
        triggers: new Set([job.op]),
        justExited: new Set<string>(),
      })),
      states,
    };
  }

  /** Per target with a consent policy: which candidates its destination holds as consented. */
  consented(
    flowId: string,
    targetIds: string[],
    profileIds: string[],
  ): Promise<Map<string, Set<string>>> {
    return heldConsents(this.ds, flowId, targetIds, profileIds);
  }

  /**
   * After the hub acknowledged a page: the job's progress, its run's
   * metrics and records, in one transaction, only while the flow's lease is
   * still ours (false: another replica took it over; it resends the page).
   */
  async commitPage(
    owner: string,
    job: DeliveryJobEntity,
    page: JobPage,
    outcome: StepOutcome,
  ): Promise<boolean> {
    return this.ds.transaction(async (em) => {
      const held = (await em.query(
        `SELECT 1 FROM flow_cursors WHERE flow_id = $1 AND lease_owner = $2 AND (lane = $3 OR $4::int = 1) FOR UPDATE`,
        [job.flowId, owner, job.lane, job.lanes],
      )) as unknown[];
      if (held.length === 0) return false;
      await em.update(
        DeliveryJobEntity,
        { id: job.id },
        {
          afterProfileId: page.afterProfileId,
          afterRecordId: page.afterRecordId,
          state: page.done ? 'done' : 'running',
        },
      );
      const run = await em.findOne(RunEntity, {
        where: { id: job.runId },
        lock: { mode: 'pessimistic_write' },
      });
      if (run) {
        const metrics = accumulate(
          run.metrics as Partial<RunMetricsJson>,
          outcome,
        );
        await em.update(
          RunEntity,
          { id: run.id },
          {
            metrics: metrics as never,
            version: newVersion(),
            ...(page.done && (await this.lastShare(em, job))
              ? { endedAt: new Date() }
              : {}),
          },
        );
      }
      await storeStepRecords(
        em,
        {
          orgId: job.orgId,
          sandboxName: job.sandboxName,
          flowId: job.flowId,
          runId: job.runId,
        },
        outcome.records,
        outcome.consent,
      );
      await markReplayed(em, page.recordIds);
      return true;
    });
  }

  /** Whether `job` is the last of its run's lane shares still running (the run ends with it). */
  private async lastShare(
    em: Queryable,
    job: DeliveryJobEntity,
  ): Promise<boolean> {
    const others = (await em.query(
      `SELECT 1 FROM delivery_jobs WHERE run_id = $1 AND id <> $2 AND state = 'running' LIMIT 1`,
      [job.runId, job.id],
    )) as unknown[];
    return others.length === 0;
  }
}
