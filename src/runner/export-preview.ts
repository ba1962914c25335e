import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { ConnectionEntity } from '../connections/connection.entity.js';
import { ConnectionsService } from '../connections/connections.service.js';
import {
  EventPublisher,
  type OutboundEvent,
  type PlannedEvent,
} from '../event-hubs/publisher.js';
import type { FlowEntity } from '../flows/flow.entity.js';
import { readProfileChanges } from '../profile-store/change-log.js';
import { laneOf } from '../profile-store/lanes.js';
import type { ProfileState } from '../profile-store/profile-state.js';
import type { RecordReason } from '../records/record-reasons.js';
import { TargetConnectionEntity } from '../target-connections/target-connection.entity.js';
import { withConsentPaths } from './consent.js';
import { DeliveryJobs } from './delivery-jobs.js';
import { isEligible } from './mapping.js';
import { messageTargetOf } from './message-targets.js';
import {
  type ExportMessage,
  buildMessages,
  contentFacetsOf,
  versionOf,
} from './messages.js';
import { emptyOutcome } from './run-metrics.js';
import { RunnerRepository } from './runner.repository.js';
import { type Candidate, backfillCandidates, selectChanges } from './select.js';
import { planStep } from './step-plan.js';

/** Changes of one profile a preview reads at most (they coalesce into one export). */
const PREVIEW_CHANGES = 1000;

export type PreviewReason = RecordReason | 'NOT_A_MEMBER';

/** What one target would get for the profile now. */
export interface TargetPreview {
  targetConnectionId: string;
  eventHubName: string;
  outcome: 'send' | 'excluded' | 'none';
  trigger: string | null;
  reason: { code: PreviewReason; message: string } | null;
  message: {
    messageId: string;
    messageIdScheme: string;
    partitionKey: string;
    partitionId: string | null;
    applicationProperties: Record<string, string>;
    body: string;
  } | null;
}

/**
 * The export preview: the runner's own plan, selection and message building
 * (step-plan.ts, select.ts, messages.ts) run for one profile at the flow's
 * position, and the publisher's size test, without sending or writing.
 */
@Injectable()
export class ExportPreview {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly repo: RunnerRepository,
    private readonly jobs: DeliveryJobs,
    private readonly publisher: EventPublisher,
    private readonly connections: ConnectionsService,
    @InjectRepository(TargetConnectionEntity)
    private readonly targets: Repository<TargetConnectionEntity>,
    @InjectRepository(ConnectionEntity)
    private readonly bases: Repository<ConnectionEntity>,
  ) {}

  async preview(flow: FlowEntity, profileId: string): Promise<TargetPreview[]> {
    // The profile's lane holds its position (and its share of a backfill).
    const first = await this.repo.reload({ flowId: flow.id, lane: 0 });
    const lane = first ? laneOf(profileId, first.lanes) : 0;
    const cursor =
      lane === 0 ? first : await this.repo.reload({ flowId: flow.id, lane });
    const plan = planStep(
      cursor ?? {
        // A flow the runner has not seen yet starts with a backfill.
        lastTxId: '0',
        lastChangeId: '0',
        mapping: { segmentIds: [], attributePaths: [], mandatoryFields: [] },
        backfill: null,
        lastSuccessAt: null,
      },
      flow.transformations,
      flow.targetConnectionIds,
    );
    const targets = await this.targets.find({
      where: { id: In(flow.targetConnectionIds) },
    });
    const messageTargets = targets.map(messageTargetOf);
    const mapping = withConsentPaths(plan.mapping, messageTargets);
    const candidate = await this.candidateOf(flow, profileId, {
      ...plan,
      mapping,
    });
    const states = await this.repo.exportStates(
      flow,
      [profileId],
      mapping.segmentIds,
    );
    if (candidate && !candidate.deletedState)
      await this.repo.showSeenByOtherFlows(flow, states);
    const state = candidate?.deletedState ?? states.get(profileId);
    const outcome = emptyOutcome('', flow.targetConnectionIds, Date.now());
    const consentTargets = messageTargets
      .filter((t) => t.consent)
      .map((t) => t.id);
    const events = candidate
      ? buildMessages(
          {
            flow,
            mapping,
            targets: messageTargets,
            segments: await this.repo.segmentInfo(flow, mapping.segmentIds),
            candidates: [candidate],
            states,
            from: plan.position,
            consented: consentTargets.length
              ? await this.jobs.consented(flow.id, consentTargets, [profileId])
              : undefined,
          },
          outcome,
        )
      : new Map<string, ExportMessage[]>();
    const member =
      state !== undefined &&
      isEligible(
        state,
        { ...mapping, mandatoryFields: [] },
        candidate?.justExited ?? new Set(),
      );
    const only = plan.backfill?.targetIds;
    const out: TargetPreview[] = [];
    for (const id of flow.targetConnectionIds) {
      const target = targets.find((t) => t.id === id);
      const preview: TargetPreview = {
        targetConnectionId: id,
        eventHubName: hubNameOf(target),
        outcome: 'none',
        trigger: null,
        reason: null,
        message: null,
      };
      out.push(preview);
      if (!member) {
        preview.reason = {
          code: 'NOT_A_MEMBER',
          message: `Profile ${profileId} is not a member of a segment the flow maps.`,
        };
        continue;
      }
      if (!candidate || !target || (only && !only.includes(id))) continue;
      preview.trigger = [...candidate.triggers].sort().join(',');
      const record = outcome.records.find(
        (r) => r.targetConnectionId === id || r.targetConnectionId === null,
      );
      if (record) {
        preview.outcome = 'excluded';
        preview.reason = { code: record.reasonCode, message: record.message };
        continue;
      }
      const event = events.get(id)?.[0];
      if (!event) continue;
      const planned = await this.plan(target, event);
      preview.outcome = planned?.fits === false ? 'excluded' : 'send';
      if (planned?.fits === false)
        preview.reason = {
          code: 'SIZE_LIMIT',
          message: `The message for profile ${profileId} is larger than the event hub's maximum message size (${planned.maxSizeInBytes} bytes).`,
        };
      preview.message = {
        messageId: event.messageId,
        messageIdScheme: `uuid(sha256(flowId|targetConnectionId|profileId|${(state && versionOf(state, contentFacetsOf(mapping))) ?? candidate.exportKey}|body))`,
        partitionKey: event.key,
        partitionId: planned?.partitionId ?? null,
        applicationProperties: event.properties,
        // The exact bytes the runner publishes, as text.
        body: event.bodyText,
      };
    }
    return out;
  }

  /**
   * The export the runner has pending for the profile: a page of a pending
   * backfill the profile is ahead of, or its changes after the position.
   */
  private async candidateOf(
    flow: FlowEntity,
    profileId: string,
    plan: ReturnType<typeof planStep>,
  ): Promise<Candidate | undefined> {
    const b = plan.backfill;
    if (b && (b.afterProfileId === null || profileId > b.afterProfileId)) {
      const members = await this.repo.exportStates(
        flow,
        [profileId],
        b.segmentIds,
      );
      const state: ProfileState | undefined = members.get(profileId);
      if (
        state &&
        b.segmentIds.some(
          (id) =>
            state.memberships[id] && state.memberships[id].status !== 'exited',
        )
      )
        return backfillCandidates([profileId], b.segmentIds)[0];
    }
    const changes = await readProfileChanges(
      this.ds,
      flow,
      profileId,
      plan.position,
      PREVIEW_CHANGES,
    );
    return selectChanges(changes, plan.mapping)[0];
  }

  /** The hub's partition and size test for the event; null when the hub cannot be reached. */
  private async plan(
    target: TargetConnectionEntity,
    event: OutboundEvent,
  ): Promise<PlannedEvent | null> {
    const base = target.baseConnectionId
      ? await this.bases.findOne({ where: { id: target.baseConnectionId } })
      : null;
    if (!base) return null;
    try {
      const [planned] = await this.publisher.plan(
        {
          credentials: this.connections.credentialsOf(base),
          eventHubName: String(target.params.eventHubName),
        },
        [event],
      );
      return planned ?? null;
    } catch {
      return null;
    }
  }
}

function hubNameOf(target: TargetConnectionEntity | undefined): string {
  const name = target?.params.eventHubName;
  return typeof name === 'string' ? name : '';
}
