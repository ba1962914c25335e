import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { hash } from 'node:crypto';
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
import { TargetConnectionEntity } from '../target-connections/target-connection.entity.js';
import {
  buildPayload,
  type FlowMapping,
  isEligible,
  type MembershipState,
  mappingOf,
  type ProfileChange,
  type ProfileState,
  triggersOf,
} from './mapping.js';
import { compareTxIds } from '../segments/membership-status.js';
import { emptyOutcome, type StepOutcome } from './run-metrics.js';
import { FlowCursorEntity } from './flow-cursor.entity.js';
import { type Position, RunnerRepository } from './runner.repository.js';

export type StepResult = 'idle' | 'more' | 'failed' | 'lost';

interface Backfill {
  segmentIds: string[];
  afterProfileId: string | null;
}

interface Candidate {
  profileId: string;
  /** Seeds the messageId: the same export retried gets the same id. */
  exportKey: string;
  triggers: Set<string>;
  justExited: Set<string>;
  deletedState?: ProfileState;
  /** The transaction of the profile's first change in the batch (absent in a backfill). */
  firstTx?: string;
}

interface PreparedBatch {
  changeCount: number;
  nextPosition: Position;
  candidates: Candidate[];
  states: Map<string, ProfileState>;
}

/** A prefetched batch older than this is read again, so exports never carry old state for long. */
const PREFETCH_MAX_AGE_MS = 10_000;

function prefetchKey(
  position: Position,
  mapping: FlowMapping,
  batchSize: number,
): string {
  return `${position.txId}:${position.id}:${batchSize}:${JSON.stringify(mapping)}`;
}

/** Deterministic UUID-shaped id from the parts of an export. */
export function messageIdOf(...parts: string[]): string {
  // One-shot hash: no Hash object per message (same digest as createHash).
  const b = hash('sha256', parts.join('|'), 'buffer');
  // Shaped as an RFC 9562 version-5-style UUID: version and variant bits set.
  b[6] = ((b[6] as number) & 0x0f) | 0x50;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString('hex', 0, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Executes one step of one claimed flow: a backfill page or a batch of the
 * change log, published to every target, then the position is committed.
 */
@Injectable()
export class ExportExecutor {
  private readonly logger = new Logger('ExportExecutor');
  /**
   * Per flow, the commit of the last published step while it is still in
   * flight, and the cursor as it will be once it lands (see step()).
   */
  private readonly pendingCommits = new Map<
    string,
    { done: Promise<boolean>; next: FlowCursorEntity }
  >();
  /** At most one read-ahead batch per flow (see prefetch). */
  private readonly prefetched = new Map<
    string,
    { key: string; at: number; batch: Promise<PreparedBatch | null> }
  >();

  constructor(
    private readonly repo: RunnerRepository,
    private readonly publisher: EventPublisher,
    private readonly connections: ConnectionsService,
    @InjectRepository(FlowEntity)
    private readonly flows: Repository<FlowEntity>,
    @InjectRepository(TargetConnectionEntity)
    private readonly targets: Repository<TargetConnectionEntity>,
    @InjectRepository(ConnectionEntity)
    private readonly bases: Repository<ConnectionEntity>,
    private readonly metrics: MetricsService,
  ) {}

  async step(
    owner: string,
    cursor: FlowCursorEntity,
    batchSize: number,
    backoffMs: (failures: number) => number,
  ): Promise<StepResult> {
    const stepStart = Date.now();
    const flow = await this.flows.findOne({ where: { id: cursor.flowId } });
    if (!flow || flow.state !== 'enabled') return 'idle';
    const mapping = mappingOf(flow.transformations);
    const stored = cursor.mapping as unknown as FlowMapping;
    let backfill = cursor.backfill as Backfill | null;
    const added = mapping.segmentIds.filter(
      (id) => !(stored.segmentIds ?? []).includes(id),
    );
    if (added.length) {
      // A newly mapped segment exports its current members once (CONTRACT A8).
      backfill = {
        segmentIds: [
          ...new Set([...(backfill?.segmentIds ?? []), ...added]),
        ].sort(),
        afterProfileId: null,
      };
    }
    if (backfill)
      backfill = {
        ...backfill,
        segmentIds: backfill.segmentIds.filter((id) =>
          mapping.segmentIds.includes(id),
        ),
      };
    if (backfill && backfill.segmentIds.length === 0) backfill = null;

    const position: Position = {
      txId: cursor.lastTxId,
      id: cursor.lastChangeId,
    };
    let candidates: Candidate[];
    let nextPosition = position;
    let nextBackfill: Backfill | null = backfill;
    let more: boolean;
    let preloaded: Map<string, ProfileState> | null = null;
    if (backfill) {
      if (
        backfill.afterProfileId === null &&
        (stored.segmentIds ?? []).length === 0 &&
        cursor.lastSuccessAt === null
      ) {
        // A flow's first backfill exports the current state of every member, so
        // changes committed before it starts are already covered: skip them.
        nextPosition = await this.repo.horizon();
      }
      const ids = await this.repo.membersAfter(
        flow.orgId,
        flow.sandboxName,
        backfill.segmentIds,
        backfill.afterProfileId,
        batchSize,
      );
      const seed = `backfill:${backfill.segmentIds.join(',')}`;
      candidates = ids.map((profileId) => ({
        profileId,
        exportKey: seed,
        triggers: new Set(['backfill']),
        justExited: new Set<string>(),
      }));
      nextBackfill =
        ids.length < batchSize
          ? null
          : { ...backfill, afterProfileId: ids[ids.length - 1] ?? null };
      more = true;
    } else {
      const batch =
        (await this.takePrefetched(flow.id, position, mapping, batchSize)) ??
        (await this.prepareChanges(flow, mapping, position, batchSize));
      if (batch.changeCount === 0) {
        if (!(await this.settle(flow.id))) return 'lost';
        if (
          added.length ||
          JSON.stringify(stored) !== JSON.stringify(mapping)
        ) {
          await this.commit(owner, flow, cursor, position, mapping, null, null);
        }
        return 'idle';
      }
      nextPosition = batch.nextPosition;
      candidates = batch.candidates;
      preloaded = batch.states;
      more = batch.changeCount === batchSize;
      // Read the next batch while this one is built and published: Postgres
      // and the hub then work at the same time instead of taking turns.
      if (more) this.prefetch(flow, mapping, nextPosition, batchSize);
    }

    const started = Date.now();
    const timings: Record<string, number> = { select: started - stepStart };
    const outcome: StepOutcome = {
      ...emptyOutcome(
        flow.sourceConnectionIds[0] ?? '',
        flow.targetConnectionIds,
        started,
      ),
      input: candidates.length,
    };
    const states =
      preloaded ?? (await this.loadStates(flow, mapping, candidates));
    if (backfill) await this.showSeenAsExisting(flow, states);
    timings.load = Date.now() - started;
    const targets = await this.targets.find({
      where: { id: In(flow.targetConnectionIds) },
    });
    const events = new Map<string, OutboundEvent[]>(
      targets.map((t) => [t.id, []]),
    );
    const segments = await this.repo.segmentInfo(
      flow.orgId,
      flow.sandboxName,
      mapping.segmentIds,
    );
    for (const c of candidates) {
      const state = c.deletedState ?? states.get(c.profileId);
      for (const id of mapping.segmentIds) {
        if (state?.memberships[id])
          outcome.segmentInput[id] = (outcome.segmentInput[id] ?? 0) + 1;
      }
      if (!state || !isEligible(state, mapping, c.justExited)) {
        outcome.skipped++;
        continue;
      }
      for (const id of mapping.segmentIds) {
        const m = state.memberships[id];
        if (!m) continue;
        outcome.segmentOutput[id] = (outcome.segmentOutput[id] ?? 0) + 1;
        if (m.realizedTx !== undefined && c.firstTx !== undefined)
          showAsSeenFrom(m, m.realizedTx, position, c.firstTx);
      }
      for (const t of targets) {
        let body: Record<string, unknown>;
        try {
          body = buildPayload(state, mapping, {
            includeSegmentNames: t.params.includeSegmentNames === true,
            includeSegmentTimestamps:
              t.params.includeSegmentTimestamps === true,
            segments,
            mappingCreatedAt: flow.createdAt.getTime(),
            mappingUpdatedAt: flow.updatedAt.getTime(),
          });
        } catch (err) {
          // Not retryable: the same data would fail again. Record it and go on.
          addFailure(
            outcome,
            'PAYLOAD_BUILD_FAILED',
            `The message for profile ${c.profileId} could not be built: ${err instanceof Error ? err.message : String(err)}`,
          );
          continue;
        }
        events.get(t.id)?.push({
          key: c.profileId,
          body,
          messageId: messageIdOf(flow.id, t.id, c.profileId, c.exportKey),
          properties: {
            flowId: flow.id,
            profileId: c.profileId,
            targetConnectionId: t.id,
            trigger: [...c.triggers].sort().join(','),
          },
        });
      }
    }

    timings.build = Date.now() - started - (timings.load ?? 0);
    const publishStart = Date.now();
    const runContext = {
      owner,
      flowId: flow.id,
      orgId: flow.orgId,
      sandboxName: flow.sandboxName,
      sandboxId: flow.sandboxId,
      flowSpecId: flow.flowSpecId,
    };
    try {
      for (const t of targets) {
        const list = events.get(t.id) ?? [];
        if (list.length === 0) continue;
        const base = t.baseConnectionId
          ? await this.bases.findOne({ where: { id: t.baseConnectionId } })
          : null;
        if (!base)
          throw new PublishError(
            'BASE_CONNECTION_MISSING',
            `Target connection ${t.id} has no base connection.`,
            false,
          );
        const result = await this.publisher.publish(
          {
            credentials: this.connections.credentialsOf(base),
            eventHubName: String(t.params.eventHubName),
          },
          list,
        );
        this.metrics.recordExports(
          flow.id,
          result.sent,
          result.rejected.length,
        );
        outcome.output += result.sent;
        outcome.outputBytes += result.bytes;
        for (const r of result.rejected) addFailure(outcome, r.code, r.message);
      }
    } catch (err) {
      const e =
        err instanceof PublishError
          ? err
          : new PublishError('PUBLISH_FAILED', String(err), true);
      // A failed attempt counts no records: the step is retried from the
      // same position, and the attempt that lands counts them once (else an
      // outage of N retries showed N times the input in the run).
      const attempt: StepOutcome = {
        ...emptyOutcome(
          outcome.sourceConnectionId,
          outcome.targetConnectionIds,
          Date.now(),
        ),
        error: { code: e.code, message: e.message },
      };
      // The previous step's commit lands first: its position is not in doubt.
      if (!(await this.settle(flow.id))) return 'lost';
      const delay = backoffMs(cursor.failures + 1) * (e.retryable ? 1 : 4);
      this.metrics.recordRetry(flow.id, e.code);
      this.logger.warn(
        { flowId: flow.id, code: e.code, retryInMs: delay },
        `export failed, will retry: ${e.message}`,
      );
      await this.repo.recordFailure({
        ...runContext,
        delayMs: delay,
        error: `${e.code}: ${e.message}`,
        outcome: attempt,
      });
      return 'failed';
    }
    outcome.at = Date.now();
    timings.publish = outcome.at - publishStart;
    // Several targets each received the same profiles; count profiles once.
    outcome.output = targets.length
      ? Math.round(outcome.output / targets.length)
      : 0;
    // Commits land in step order: this one waits for the previous step's.
    if (!(await this.settle(flow.id))) return 'lost';
    const done = this.commit(
      owner,
      flow,
      cursor,
      nextPosition,
      mapping,
      nextBackfill,
      outcome,
    );
    this.logger.debug(
      `flow ${flow.id}: ${candidates.length} candidates, ${outcome.output} sent; ms ${JSON.stringify(timings)}`,
    );
    if (more) {
      // The next step builds and publishes while Postgres commits this one
      // (the hub has acknowledged it, so only the position is in flight).
      // Its own commit waits for this one, and a lost lease stops it there;
      // what it published meanwhile is a duplicate with the same messageIds.
      done.catch(() => undefined); // awaited by settle(); no unhandled rejection meanwhile
      this.pendingCommits.set(flow.id, {
        done,
        next: Object.assign(new FlowCursorEntity(), cursor, {
          lastTxId: nextPosition.txId,
          lastChangeId: nextPosition.id,
          mapping: mapping as unknown as Record<string, unknown>,
          backfill: nextBackfill as unknown as Record<string, unknown> | null,
          failures: 0,
          lastError: null,
          lastSuccessAt: new Date(),
        }),
      });
      return 'more';
    }
    return (await done) ? 'idle' : 'lost';
  }

  /**
   * The flow's cursor as it will be when its commit in flight lands, or null
   * when no commit is in flight (read the stored cursor then).
   */
  pendingCursor(flowId: string): FlowCursorEntity | null {
    return this.pendingCommits.get(flowId)?.next ?? null;
  }

  /**
   * Waits for the flow's commit in flight, if any: false when it found the
   * lease lost (another replica owns the flow now). Rejects if it failed.
   */
  async settle(flowId: string): Promise<boolean> {
    const pending = this.pendingCommits.get(flowId);
    if (!pending) return true;
    this.pendingCommits.delete(flowId);
    return pending.done;
  }

  /**
   * A backfill shows a `realized` membership as `existing` once another flow
   * has exported it, as the profile store reports it (CONTRACT A7).
   */
  private async showSeenAsExisting(
    flow: FlowEntity,
    states: Map<string, ProfileState>,
  ): Promise<void> {
    const seen = await this.repo.seenByOtherFlows(
      flow.orgId,
      flow.sandboxName,
      [...states.keys()],
      flow.id,
    );
    for (const [profileId, segmentIds] of seen) {
      const memberships = states.get(profileId)?.memberships ?? {};
      for (const id of segmentIds) {
        const m = memberships[id];
        if (m?.status === 'realized') m.status = 'existing';
      }
    }
  }

  /** Current state of the candidates (a deleted profile's comes from its change row). */
  private loadStates(
    flow: FlowEntity,
    mapping: FlowMapping,
    candidates: Candidate[],
  ): Promise<Map<string, ProfileState>> {
    return this.repo.loadProfiles(
      flow.orgId,
      flow.sandboxName,
      candidates.filter((c) => !c.deletedState).map((c) => c.profileId),
      mapping.segmentIds,
    );
  }

  /** Reads a batch of the change log and the current state of the profiles it selects. */
  private async prepareChanges(
    flow: FlowEntity,
    mapping: FlowMapping,
    position: Position,
    batchSize: number,
  ): Promise<PreparedBatch> {
    const changes = await this.repo.readChanges(
      flow.orgId,
      flow.sandboxName,
      position,
      batchSize,
    );
    const last = changes[changes.length - 1];
    const candidates = this.select(changes, mapping);
    // States are read after the changes, so they are at least as new as every
    // change in the batch; a later change is exported again by a later batch.
    const states = await this.loadStates(flow, mapping, candidates);
    return {
      changeCount: changes.length,
      nextPosition: last ? { txId: last.txId, id: last.id } : position,
      candidates,
      states,
    };
  }

  private prefetch(
    flow: FlowEntity,
    mapping: FlowMapping,
    position: Position,
    batchSize: number,
  ): void {
    const now = Date.now();
    for (const [id, e] of this.prefetched)
      if (now - e.at > PREFETCH_MAX_AGE_MS) this.prefetched.delete(id);
    const key = prefetchKey(position, mapping, batchSize);
    const batch = this.prepareChanges(flow, mapping, position, batchSize).catch(
      (err: unknown) => {
        // Only a hint: the next step reads the batch itself.
        this.logger.debug(
          `prefetch for flow ${flow.id} failed: ${String(err)}`,
        );
        return null;
      },
    );
    this.prefetched.set(flow.id, { key, at: now, batch });
  }

  /**
   * The batch prefetched for exactly this position and mapping, if any. A
   * step that failed, a changed mapping or a flow taken over by another
   * replica starts elsewhere, and the prefetched batch is dropped.
   */
  private async takePrefetched(
    flowId: string,
    position: Position,
    mapping: FlowMapping,
    batchSize: number,
  ): Promise<PreparedBatch | null> {
    const entry = this.prefetched.get(flowId);
    if (!entry) return null;
    this.prefetched.delete(flowId);
    if (
      entry.key !== prefetchKey(position, mapping, batchSize) ||
      Date.now() - entry.at > PREFETCH_MAX_AGE_MS
    )
      return null;
    return entry.batch;
  }

  /** Coalesces a batch of changes into one export per profile (latest state wins). */
  private select(changes: ProfileChange[], mapping: FlowMapping): Candidate[] {
    const byProfile = new Map<string, Candidate>();
    for (const ch of changes) {
      const triggers = triggersOf(ch, mapping);
      if (triggers.length === 0 && !byProfile.has(ch.profileId)) continue;
      let c = byProfile.get(ch.profileId);
      if (!c) {
        c = {
          profileId: ch.profileId,
          exportKey: '',
          triggers: new Set(),
          justExited: new Set(),
          firstTx: ch.txId,
        };
        byProfile.set(ch.profileId, c);
      }
      c.exportKey = `change:${ch.txId}:${ch.id}`;
      for (const t of triggers) c.triggers.add(t);
      for (const m of ch.membershipChanges) {
        if (m.to === 'exited') c.justExited.add(m.segmentId);
        else c.justExited.delete(m.segmentId);
      }
      if (ch.deleted) {
        const memberships: ProfileState['memberships'] = {};
        for (const m of ch.membershipChanges) {
          memberships[m.segmentId] = {
            status: m.to,
            lastQualificationTime: ch.changedAt.toISOString(),
          };
        }
        c.deletedState = {
          profileId: ch.profileId,
          attributes: ch.snapshot?.attributes ?? {},
          identityMap: ch.snapshot?.identityMap ?? {},
          memberships,
        };
      } else {
        c.deletedState = undefined;
      }
    }
    return [...byProfile.values()].filter((c) => c.triggers.size > 0);
  }

  private async commit(
    owner: string,
    flow: FlowEntity,
    cursor: FlowCursorEntity,
    position: Position,
    mapping: FlowMapping,
    backfill: Backfill | null,
    outcome: StepOutcome | null,
  ): Promise<boolean> {
    return this.repo.commitStep({
      owner,
      flowId: cursor.flowId,
      orgId: flow.orgId,
      sandboxName: flow.sandboxName,
      sandboxId: flow.sandboxId,
      flowSpecId: flow.flowSpecId,
      position,
      mapping: mapping as unknown as Record<string, unknown>,
      backfill: backfill as unknown as Record<string, unknown> | null,
      outcome,
    });
  }
}

function addFailure(outcome: StepOutcome, code: string, message: string): void {
  outcome.failed++;
  const f = outcome.failures.find((x) => x.code === code);
  if (f) f.count++;
  else outcome.failures.push({ code, message, count: 1 });
}

/**
 * A change export shows `realized` only to the first export of the flow that
 * reaches the qualification: its position before this batch (`from`) is not
 * yet past the transaction that set it. Position inside that transaction:
 * the qualification is ahead only if the profile's first change in the batch
 * is from it (rows are read in transaction order). Each flow decides for
 * itself, so every destination sees the qualification as `realized` once,
 * whichever flow exports first.
 */
function showAsSeenFrom(
  m: MembershipState,
  realizedTx: string,
  from: Position,
  firstTx: string,
): void {
  const order = compareTxIds(from.txId, realizedTx);
  if (order > 0 || (order === 0 && firstTx !== realizedTx))
    m.status = 'existing';
}
