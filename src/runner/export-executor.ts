import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { ConnectionEntity } from '../connections/connection.entity.js';
import { ConnectionsService } from '../connections/connections.service.js';
import {
  EventPublisher,
  type OutboundEvent,
  PublishError,
} from '../event-hubs/publisher.js';
import { FlowEntity } from '../flows/flow.entity.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { ChangePosition } from '../profile-store/change-log.js';
import type {
  ExportStateOptions,
  ProfileState,
} from '../profile-store/profile-state.js';
import { TargetConnectionEntity } from '../target-connections/target-connection.entity.js';
import { reasonOfRejection } from '../records/record-reasons.js';
import type { DeliveryJobEntity } from './delivery-job.entity.js';
import { withConsentPaths } from './consent.js';
import { DeliveryJobs } from './delivery-jobs.js';
import { FlowCursorEntity, laneKey } from './flow-cursor.entity.js';
import type { Lane } from '../profile-store/lanes.js';
import type { FlowMapping } from './mapping.js';
import { messageTargetOf } from './message-targets.js';
import { type MessageTarget, addFailure, buildMessages } from './messages.js';
import { type ChangeBatch, StepPipeline } from './pipeline.js';
import { emptyOutcome, type StepOutcome } from './run-metrics.js';
import { type RunContext, RunnerRepository } from './runner.repository.js';
import { type Candidate, backfillCandidates, selectChanges } from './select.js';
import {
  type Backfill,
  type StepPlan,
  planStep,
  positionAfterRead,
} from './step-plan.js';
import { StepConfigs } from './step-config.js';
import { type PhaseTotals, StepTimers } from './step-timers.js';

/**
 * `done`: caught up like `idle`, and the step's commit also released the
 * lane's lease (one statement fewer for a lane that ends its turn).
 */
export type StepResult = 'idle' | 'done' | 'more' | 'failed' | 'lost';

/** What a step read: the profiles to export and where the flow goes next. */
interface StepInput {
  candidates: Candidate[];
  states: Map<string, ProfileState>;
  nextPosition: ChangePosition;
  nextBackfill: Backfill | null;
  /** Another step is likely to find work right away. */
  more: boolean;
}

/**
 * Executes one step of one claimed flow, in phases: plan (step-plan.ts) →
 * read (a backfill page, or a batch of the change log with the profiles'
 * states) → select (select.ts) → build (messages.ts) → publish to every
 * target → commit the position and the run. Pipelining (a commit in flight
 * while the next step runs, a prefetched batch) is StepPipeline's.
 */
@Injectable()
export class ExportExecutor {
  private readonly logger = new Logger('ExportExecutor');
  private readonly pipeline = new StepPipeline();
  private readonly timers = new StepTimers();
  /** Decoding the states counts as the read phase. */
  private readonly stateOptions: ExportStateOptions = {
    decode: (fn) => this.timers.cpu('read', fn),
  };

  constructor(
    private readonly repo: RunnerRepository,
    private readonly publisher: EventPublisher,
    private readonly connections: ConnectionsService,
    @InjectRepository(TargetConnectionEntity)
    private readonly targets: Repository<TargetConnectionEntity>,
    @InjectRepository(ConnectionEntity)
    private readonly bases: Repository<ConnectionEntity>,
    private readonly metrics: MetricsService,
    private readonly jobs: DeliveryJobs,
    private readonly configs: StepConfigs,
  ) {}

  /** Flows whose last step worked on their replay/resync: the next one reads the change log. */
  private readonly jobTurns = new Set<string>();

  async step(
    owner: string,
    cursor: FlowCursorEntity,
    batchSize: number,
    backoffMs: (failures: number) => number,
  ): Promise<StepResult> {
    const t0 = Date.now();
    const config = await this.configs.forStep(cursor.flowId, cursor.lane);
    if (!config || config.flow.state !== 'enabled') return 'idle';
    const { flow } = config;
    const planned = planStep(
      cursor,
      flow.transformations,
      flow.targetConnectionIds,
    );
    // A backfill for targets added to a running flow goes to them only.
    const only = planned.backfill?.targetIds;
    const targets = only
      ? config.targets.filter((t) => only.includes(t.id))
      : config.targets;
    const messageTargets = targets.map(messageTargetOf);
    const plan: StepPlan = {
      ...planned,
      mapping: withConsentPaths(planned.mapping, messageTargets),
    };
    // A replay or resync waits for the lane's pending backfill, then takes
    // turns with change-log batches: each page of the lane's share is sent
    // between two of its batches, so a profile's messages stay in the order
    // of its states.
    const key = laneKey(cursor);
    const job =
      plan.backfill || !config.jobRunning
        ? null
        : await this.jobs.active(flow.id, cursor.lane);
    if (job && !this.jobTurns.has(key))
      return this.jobStep(owner, flow, cursor, plan, job, batchSize, backoffMs);
    this.jobTurns.delete(key);
    const readStart = performance.now();
    const input = await this.read(flow, cursor, plan, batchSize);
    this.timers.addWall('read', readStart);
    if (!('candidates' in input)) {
      if (!(await this.pipeline.settle(key))) return 'lost';
      const moved =
        input.nextPosition.txId !== plan.position.txId ||
        input.nextPosition.id !== plan.position.id;
      if (plan.mappingChanged || moved)
        await this.commit(
          owner,
          flow,
          cursor,
          plan,
          input.nextPosition,
          null,
          null,
        );
      if (job)
        return this.jobStep(
          owner,
          flow,
          cursor,
          plan,
          job,
          batchSize,
          backoffMs,
        );
      return 'idle';
    }
    const t1 = Date.now();

    const outcome: StepOutcome = {
      ...emptyOutcome(
        flow.sourceConnectionIds[0] ?? '',
        flow.targetConnectionIds,
        t1,
      ),
      input: input.candidates.length,
    };
    const segments = await config.segmentInfo(plan.mapping.segmentIds);
    const buildStart = performance.now();
    const events = buildMessages(
      {
        flow,
        mapping: plan.mapping,
        targets: messageTargets,
        segments,
        candidates: input.candidates,
        states: input.states,
        from: plan.position,
        consented: await this.consented(flow, messageTargets, input.candidates),
      },
      outcome,
      this.timers,
    );
    this.timers.addWall('build', buildStart);
    const t2 = Date.now();

    const run = runContextOf(owner, flow, cursor.lane);
    const publishStart = performance.now();
    try {
      await this.publish(
        flow,
        only ?? flow.targetConnectionIds,
        targets,
        events,
        outcome,
        config.bases,
      );
    } catch (err) {
      return this.recordFailure(run, cursor, err, outcome, backoffMs);
    }
    this.timers.addWall('sdk', publishStart);
    let messages = 0;
    for (const list of events.values()) messages += list.length;
    this.timers.countStep(messages);
    outcome.at = Date.now();
    // Several targets each received the same profiles; count profiles once.
    outcome.output = targets.length
      ? Math.round(outcome.output / targets.length)
      : 0;
    this.logger.debug(
      `flow ${flow.id}: ${input.candidates.length} candidates, ${outcome.output} sent; ms read ${t1 - t0}, build ${t2 - t1}, publish ${outcome.at - t2}`,
    );
    const result = await this.commitStep(
      owner,
      flow,
      cursor,
      plan,
      input,
      outcome,
      // With a job, the job's turn comes next: the lane keeps its lease.
      !job,
    );
    // The job's turn comes next, whether or not more changes are waiting.
    return job && result === 'idle' ? 'more' : result;
  }

  /**
   * One page of the flow's replay or resync: read, build and publish as a
   * change batch is, then commit the job's progress (never the flow's
   * position). The previous commit lands first and a prefetched batch is
   * dropped, since it holds states older than the page's.
   */
  private async jobStep(
    owner: string,
    flow: FlowEntity,
    cursor: FlowCursorEntity,
    plan: StepPlan,
    job: DeliveryJobEntity,
    batchSize: number,
    backoffMs: (failures: number) => number,
  ): Promise<StepResult> {
    const key = laneKey(cursor);
    this.jobTurns.add(key);
    if (!(await this.pipeline.settle(key))) return 'lost';
    await this.pipeline.takePrefetched(
      key,
      plan.position,
      plan.mapping,
      batchSize,
    );
    const page = await this.jobs.page(flow, plan.mapping, job, batchSize);
    const targets = await this.targets.find({
      where: { id: In(flow.targetConnectionIds) },
    });
    const outcome: StepOutcome = {
      ...emptyOutcome(
        flow.sourceConnectionIds[0] ?? '',
        flow.targetConnectionIds,
        Date.now(),
      ),
      input: page.candidates.length,
    };
    const messageTargets = targets.map(messageTargetOf);
    const events = buildMessages(
      {
        flow,
        mapping: plan.mapping,
        targets: messageTargets,
        segments: await this.repo.segmentInfo(flow, plan.mapping.segmentIds),
        candidates: page.candidates,
        states: page.states,
        from: plan.position,
        consented: await this.consented(flow, messageTargets, page.candidates),
      },
      outcome,
    );
    // A replay sends a record again only to the target it failed on.
    const targetsOf = page.targetsOf;
    if (targetsOf)
      for (const [targetId, list] of events)
        events.set(
          targetId,
          list.filter((e) => targetsOf.get(e.key)?.has(targetId) ?? true),
        );
    try {
      await this.publish(
        flow,
        flow.targetConnectionIds,
        targets,
        events,
        outcome,
      );
    } catch (err) {
      return this.recordFailure(
        runContextOf(owner, flow, cursor.lane),
        cursor,
        err,
        outcome,
        backoffMs,
      );
    }
    outcome.at = Date.now();
    outcome.output = targets.length
      ? Math.round(outcome.output / targets.length)
      : 0;
    return (await this.jobs.commitPage(owner, job, page, outcome))
      ? 'more'
      : 'lost';
  }

  /** What the targets with a consent policy hold of the candidates (none without one). */
  private async consented(
    flow: FlowEntity,
    targets: MessageTarget[],
    candidates: Candidate[],
  ): Promise<Map<string, Set<string>> | undefined> {
    const ids = targets.filter((t) => t.consent).map((t) => t.id);
    if (ids.length === 0) return undefined;
    return this.jobs.consented(
      flow.id,
      ids,
      candidates.map((c) => c.profileId),
    );
  }

  /** Where this process's export steps spent their time so far (see StepTimers). */
  phaseTotals(): PhaseTotals {
    return this.timers.snapshot();
  }

  /** See StepPipeline.pendingCursor (`key`: the lane's laneKey). */
  pendingCursor(key: string): FlowCursorEntity | null {
    return this.pipeline.pendingCursor(key);
  }

  /** See StepPipeline.settle (`key`: the lane's laneKey). */
  settle(key: string): Promise<boolean> {
    return this.pipeline.settle(key);
  }

  /** Read phase: a backfill page, or the next change batch (none: only where the lane's position may move). */
  private async read(
    flow: FlowEntity,
    cursor: FlowCursorEntity,
    plan: StepPlan,
    batchSize: number,
  ): Promise<StepInput | { nextPosition: ChangePosition }> {
    const lane: Lane = { lane: cursor.lane, lanes: cursor.lanes };
    if (plan.backfill)
      return this.readBackfillPage(flow, lane, plan, batchSize);
    const key = laneKey(cursor);
    const batch =
      (await this.pipeline.takePrefetched(
        key,
        plan.position,
        plan.mapping,
        batchSize,
      )) ??
      (await this.readChanges(
        flow,
        lane,
        plan.mapping,
        plan.position,
        batchSize,
      ));
    if (batch.changeCount === 0) return { nextPosition: batch.nextPosition };
    const more = batch.changeCount === batchSize;
    // Read the next batch while this one is built and published: Postgres
    // and the hub then work at the same time instead of taking turns.
    if (more) {
      const next = batch.nextPosition;
      this.pipeline.prefetch(key, next, plan.mapping, batchSize, () =>
        this.readChanges(flow, lane, plan.mapping, next, batchSize).catch(
          (err: unknown) => {
            // Only a hint: the next step reads the batch itself.
            this.logger.debug(
              `prefetch for flow ${flow.id} failed: ${String(err)}`,
            );
            return null;
          },
        ),
      );
    }
    return {
      candidates: batch.candidates,
      states: batch.states,
      nextPosition: batch.nextPosition,
      nextBackfill: null,
      more,
    };
  }

  /**
   * A page of the backfill's members. It shows a `realized` membership as
   * `existing` once another flow has exported it, as the profile lookup
   * reports it (memberships/seen.ts).
   */
  private async readBackfillPage(
    flow: FlowEntity,
    lane: Lane,
    plan: StepPlan,
    batchSize: number,
  ): Promise<StepInput> {
    const backfill = plan.backfill as Backfill;
    const nextPosition = plan.skipToHorizon
      ? await this.repo.horizon()
      : plan.position;
    const { ids: page, states } = await this.repo.backfillPage(
      flow,
      backfill,
      batchSize,
      lane,
      plan.mapping.segmentIds,
      this.stateOptions,
    );
    // A member whose entry into a backfilled segment is still ahead of the
    // position is the change log's to export (once, under its change id).
    const ahead = await this.repo.enteringAfter(
      flow,
      page,
      backfill.segmentIds,
      nextPosition,
    );
    for (const id of ahead) states.delete(id);
    const ids = ahead.size ? page.filter((id) => !ahead.has(id)) : page;
    const candidates = backfillCandidates(ids, backfill.segmentIds);
    return {
      candidates,
      states,
      nextPosition,
      nextBackfill:
        page.length < batchSize
          ? null
          : { ...backfill, afterProfileId: page[page.length - 1] ?? null },
      more: true,
    };
  }

  /** Reads a batch of the change log, selects, and loads the selected profiles' states. */
  private async readChanges(
    flow: FlowEntity,
    lane: Lane,
    mapping: FlowMapping,
    position: ChangePosition,
    batchSize: number,
  ): Promise<ChangeBatch> {
    const { changes, horizon } = await this.repo.readChangesToHorizon(
      flow,
      position,
      batchSize,
      lane,
    );
    const last = changes[changes.length - 1];
    const candidates = this.timers.cpu('select', () =>
      selectChanges(changes, mapping),
    );
    // States are read after the changes, so they are at least as new as every
    // change in the batch; a later change is exported again by a later batch.
    const states = await this.repo.exportStates(
      flow,
      candidates.filter((c) => !c.deletedState).map((c) => c.profileId),
      mapping.segmentIds,
      this.stateOptions,
    );
    return {
      changeCount: changes.length,
      nextPosition: positionAfterRead(
        position,
        last && { txId: last.txId, id: last.id },
        changes.length === batchSize,
        horizon,
      ),
      candidates,
      states,
    };
  }

  /** Publish phase: every target's messages; throws a PublishError when a send fails as a whole. */
  private async publish(
    flow: FlowEntity,
    wanted: string[],
    targets: TargetConnectionEntity[],
    events: Map<string, OutboundEvent[]>,
    outcome: StepOutcome,
    /** The targets' base connections, when the caller has read them. */
    bases?: ConnectionEntity[],
  ): Promise<void> {
    for (const { target, base } of await this.liveTargets(
      flow,
      wanted,
      targets,
      bases,
    )) {
      const list = events.get(target.id) ?? [];
      if (list.length === 0) continue;
      const result = await this.publisher.publish(
        {
          credentials: this.connections.credentialsOf(base),
          eventHubName: String(target.params.eventHubName),
        },
        list,
      );
      this.timers.addCpuMicros('sdk', result.sdkCpuMicros);
      this.metrics.recordExports(flow.id, result.sent, result.rejected.length);
      outcome.output += result.sent;
      outcome.outputBytes += result.bytes;
      for (const r of result.rejected) {
        addFailure(outcome, r.code, r.message);
        outcome.records.push({
          targetConnectionId: target.id,
          profileId: r.event.key,
          identityMap: identityMapOf(r.event),
          trigger: r.event.properties.trigger ?? '',
          reasonCode: reasonOfRejection(r.code),
          message: r.message,
        });
      }
    }
  }

  /**
   * Every target of the flow with its base connection, or a PublishError
   * before anything is sent. Deletes refuse while a flow refers to a row, so
   * a missing one was removed behind the API's back: committing the position
   * anyway would drop its messages for good, and sending to the other
   * targets first would only repeat them when the step is retried.
   */
  private async liveTargets(
    flow: FlowEntity,
    wanted: string[],
    targets: TargetConnectionEntity[],
    known?: ConnectionEntity[],
  ): Promise<{ target: TargetConnectionEntity; base: ConnectionEntity }[]> {
    const missing = wanted.filter((id) => !targets.some((t) => t.id === id));
    if (missing.length > 0 || targets.length === 0)
      throw new PublishError(
        'TARGET_CONNECTION_MISSING',
        `Target connection ${missing.join(', ') || '(none)'} of flow ${flow.id} does not exist; nothing was sent and the flow keeps its position.`,
        false,
      );
    const baseIds = targets.flatMap((t) =>
      t.baseConnectionId ? [t.baseConnectionId] : [],
    );
    const bases =
      known ??
      (baseIds.length
        ? await this.bases.find({ where: { id: In(baseIds) } })
        : []);
    return targets.map((target) => {
      const base = bases.find((b) => b.id === target.baseConnectionId);
      if (!base)
        throw new PublishError(
          'BASE_CONNECTION_MISSING',
          `Base connection ${target.baseConnectionId ?? '(none)'} of target connection ${target.id} does not exist; nothing was sent and the flow keeps its position.`,
          false,
        );
      return { target, base };
    });
  }

  /**
   * A failed send: the position stays and the flow backs off. A failed
   * attempt counts no records: the step is retried from the same position,
   * and the attempt that lands counts them once.
   */
  private async recordFailure(
    run: RunContext,
    cursor: FlowCursorEntity,
    err: unknown,
    outcome: StepOutcome,
    backoffMs: (failures: number) => number,
  ): Promise<StepResult> {
    const e =
      err instanceof PublishError
        ? err
        : new PublishError('PUBLISH_FAILED', String(err), true);
    const attempt: StepOutcome = {
      ...emptyOutcome(
        outcome.sourceConnectionId,
        outcome.targetConnectionIds,
        Date.now(),
      ),
      error: { code: e.code, message: e.message },
    };
    // The previous step's commit lands first: its position is not in doubt.
    if (!(await this.pipeline.settle(laneKey(run)))) return 'lost';
    const delay = backoffMs(cursor.failures + 1) * (e.retryable ? 1 : 4);
    this.metrics.recordRetry(run.flowId, e.code);
    this.logger.warn(
      { flowId: run.flowId, code: e.code, retryInMs: delay },
      `export failed, will retry: ${e.message}`,
    );
    await this.repo.recordFailure({
      ...run,
      delayMs: delay,
      error: `${e.code}: ${e.message}`,
      outcome: attempt,
    });
    return 'failed';
  }

  /**
   * Commit phase, after the hub acknowledged: commits land in step order
   * (this one waits for the previous step's). When more work is likely, the
   * next step builds and publishes while PostgreSQL commits this one.
   */
  private async commitStep(
    owner: string,
    flow: FlowEntity,
    cursor: FlowCursorEntity,
    plan: StepPlan,
    input: StepInput,
    outcome: StepOutcome,
    /** Release the lease in the commit if this step caught the lane up. */
    releaseIfDone: boolean,
  ): Promise<StepResult> {
    const commitStart = performance.now();
    const release = releaseIfDone && !input.more;
    if (!(await this.pipeline.settle(laneKey(cursor)))) return 'lost';
    const cpu = process.cpuUsage();
    const done = this.commit(
      owner,
      flow,
      cursor,
      plan,
      input.nextPosition,
      input.nextBackfill,
      outcome,
      release,
    );
    this.timers.addCpu('commit', cpu);
    this.timers.addWall('commit', commitStart);
    if (!input.more) return (await done) ? (release ? 'done' : 'idle') : 'lost';
    this.pipeline.commitInFlight(
      laneKey(cursor),
      done,
      Object.assign(new FlowCursorEntity(), cursor, {
        lastTxId: input.nextPosition.txId,
        lastChangeId: input.nextPosition.id,
        mapping: plan.stored,
        backfill: input.nextBackfill,
        failures: 0,
        lastError: null,
        lastSuccessAt: new Date(),
      }),
    );
    return 'more';
  }

  private commit(
    owner: string,
    flow: FlowEntity,
    cursor: FlowCursorEntity,
    plan: StepPlan,
    position: ChangePosition,
    backfill: Backfill | null,
    outcome: StepOutcome | null,
    release = false,
  ): Promise<boolean> {
    return this.repo.commitStep({
      ...runContextOf(owner, flow, cursor.lane),
      flowVersion: flow.version,
      position,
      mapping: plan.stored,
      backfill,
      outcome,
      release,
    });
  }
}

function runContextOf(
  owner: string,
  flow: FlowEntity,
  lane: number,
): RunContext {
  return {
    owner,
    flowId: flow.id,
    lane,
    orgId: flow.orgId,
    sandboxName: flow.sandboxName,
    sandboxId: flow.sandboxId,
    flowSpecId: flow.flowSpecId,
  };
}

/** The identityMap a rejected message carried (records keep it); rejections are rare, so parsing is fine. */
function identityMapOf(event: OutboundEvent): Record<string, { id: string }[]> {
  const body = JSON.parse(Buffer.from(event.bytes).toString('utf8')) as {
    identityMap?: Record<string, { id: string }[]>;
  };
  return body.identityMap ?? {};
}
