import { hash } from 'node:crypto';
import type { OutboundEvent } from '../event-hubs/publisher.js';
import { shownAsExistingInBatch } from '../memberships/seen.js';
import type { ChangePosition } from '../profile-store/change-log.js';
import type { ProfileState } from '../profile-store/profile-state.js';
import {
  type FlowMapping,
  type SegmentInfo,
  buildPayload,
  isEligible,
} from './mapping.js';
import type { StepOutcome } from './run-metrics.js';
import type { Candidate } from './select.js';

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

/** A target connection as the message builder needs it. */
export interface MessageTarget {
  id: string;
  includeSegmentNames: boolean;
  includeSegmentTimestamps: boolean;
}

export interface BuildInput {
  flow: { id: string; createdAt: Date; updatedAt: Date };
  mapping: FlowMapping;
  targets: MessageTarget[];
  segments: Map<string, SegmentInfo>;
  candidates: Candidate[];
  states: Map<string, ProfileState>;
  /** The flow's position before this batch (change exports; see shownAsExistingInBatch). */
  from: ChangePosition;
}

/**
 * Builds every target's messages for the candidates (no I/O) and counts
 * input, skipped, per-segment and build failures into `outcome`. A
 * `realized` membership the flow has already shown is shown as `existing`
 * (the state objects are updated in place: they belong to this step).
 */
export function buildMessages(
  input: BuildInput,
  outcome: StepOutcome,
): Map<string, OutboundEvent[]> {
  const { flow, mapping, targets, candidates, states, from } = input;
  const events = new Map<string, OutboundEvent[]>(
    targets.map((t) => [t.id, []]),
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
      if (
        m.realizedTx !== undefined &&
        c.firstTx !== undefined &&
        shownAsExistingInBatch(m.realizedTx, from, c.firstTx)
      )
        m.status = 'existing';
    }
    for (const t of targets) {
      let body: Record<string, unknown>;
      try {
        body = buildPayload(state, mapping, {
          includeSegmentNames: t.includeSegmentNames,
          includeSegmentTimestamps: t.includeSegmentTimestamps,
          segments: input.segments,
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
        // The state's version and the body itself seed the id: a state
        // re-sent by any path (a backfill page re-sent after a takeover,
        // the change log, a batch re-read) keeps its messageId, and one id
        // never names two different bodies.
        messageId: messageIdOf(
          flow.id,
          t.id,
          c.profileId,
          state.version ?? c.exportKey,
          JSON.stringify(body),
        ),
        properties: {
          flowId: flow.id,
          profileId: c.profileId,
          targetConnectionId: t.id,
          trigger: [...c.triggers].sort().join(','),
        },
      });
    }
  }
  return events;
}

export function addFailure(
  outcome: StepOutcome,
  code: string,
  message: string,
): void {
  outcome.failed++;
  const f = outcome.failures.find((x) => x.code === code);
  if (f) f.count++;
  else outcome.failures.push({ code, message, count: 1 });
}
