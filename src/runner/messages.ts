import { hash } from 'node:crypto';
import type { OutboundEvent } from '../event-hubs/publisher.js';
import { shownAsExistingInBatch } from '../memberships/seen.js';
import type { ChangePosition } from '../profile-store/change-log.js';
import {
  type ContentFacets,
  contentFacets,
  contentVersionFor,
} from '../profile-store/content-versions.js';
import type { ProfileState } from '../profile-store/profile-state.js';
import type { RecordReason } from '../records/record-reasons.js';
import {
  type ConsentPolicy,
  consentDecision,
  withdrawnState,
} from './consent.js';
import {
  type FlowMapping,
  type PayloadOptions,
  type SegmentInfo,
  exportedIdentityMap,
  isEligible,
  missingMandatory,
} from './mapping.js';
import { bodyWriter } from './message-json.js';
import type { StepOutcome } from './run-metrics.js';
import type { Candidate } from './select.js';
import type { StepTimers } from './step-timers.js';

/** Deterministic UUID-shaped id from the parts of an export. */
export function messageIdOf(...parts: string[]): string {
  return uuidOfDigest(hash('sha256', parts.join('|'), 'buffer'));
}

/**
 * messageIdOf(seed, body) from the UTF-8 bytes of `${seed}|${body}`, which
 * the serializer writes once for both the id and the body.
 */
function messageIdOfBytes(bytes: Uint8Array): string {
  // One-shot hash: no Hash object per message (same digest as createHash).
  return uuidOfDigest(hash('sha256', bytes, 'buffer'));
}

function uuidOfDigest(b: Buffer): string {
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
  /** Only profiles with consent are sent (consent.ts). */
  consent?: ConsentPolicy;
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
  /** Per target with a consent policy: the candidates its destination holds as consented. */
  consented?: Map<string, Set<string>>;
}

const EMPTY = Buffer.alloc(0);

/**
 * One message exactly as the runner publishes it: the partition key, the
 * body's JSON text and bytes, the messageId and the application properties.
 */
export class ExportMessage implements OutboundEvent {
  /** Set by serialize(); only the bytes are kept, not the text they came from. */
  bytes: Buffer = EMPTY;
  /** Set by serialize(): it hashes the body too. */
  messageId = '';

  constructor(
    readonly key: string,
    readonly properties: Record<string, string>,
  ) {}

  /** The body's JSON text, exactly as published. */
  get bodyText(): string {
    return this.bytes.toString('utf8');
  }

  /** The body as a consumer decodes it (previews, tests): parsed on each read. */
  get body(): Record<string, unknown> {
    return JSON.parse(this.bodyText) as Record<string, unknown>;
  }
}

/**
 * Builds every target's messages for the candidates (no I/O) and counts
 * input, skipped, per-segment and build failures into `outcome`. A
 * `realized` membership the flow has already shown is shown as `existing`
 * (the state objects are updated in place: they belong to this step).
 *
 * This is the one function that decides what the runner publishes; a
 * preview calls it to show exactly that. `timers` (optional) receives the
 * CPU time of building and of serializing.
 */
export function buildMessages(
  input: BuildInput,
  outcome: StepOutcome,
  timers?: StepTimers,
): Map<string, ExportMessage[]> {
  const built = timers
    ? timers.cpu('build', () => build(input, outcome))
    : build(input, outcome);
  return timers
    ? timers.cpu('serialize', () => serialize(input, built, outcome))
    : serialize(input, built, outcome);
}

/** Messages without their bodies yet, with what each body is written from. */
interface Built {
  messages: ExportMessage[];
  /** What seeds each messageId besides its body: flow, target, profile and the state's version. */
  seeds: string[];
  /** The candidate each message is for (records of build failures). */
  candidates: Candidate[];
  targetIds: string[];
  states: ProfileState[];
  options: PayloadOptions[];
}

function build(input: BuildInput, outcome: StepOutcome): Built {
  const { flow, mapping, targets, candidates, states, from } = input;
  const options = targets.map((t): PayloadOptions => ({
    includeSegmentNames: t.includeSegmentNames,
    includeSegmentTimestamps: t.includeSegmentTimestamps,
    segments: input.segments,
    mappingCreatedAt: flow.createdAt.getTime(),
    mappingUpdatedAt: flow.updatedAt.getTime(),
  }));
  const facets = contentFacetsOf(mapping);
  const out: Built = {
    messages: [],
    seeds: [],
    candidates: [],
    targetIds: [],
    states: [],
    options: [],
  };
  for (const c of candidates) {
    const state = c.deletedState ?? states.get(c.profileId);
    for (const id of mapping.segmentIds) {
      if (state?.memberships[id])
        outcome.segmentInput[id] = (outcome.segmentInput[id] ?? 0) + 1;
    }
    if (!state || !isEligible(state, mapping, c.justExited)) {
      outcome.skipped++;
      if (state) recordMissingMandatory(c, state, mapping, outcome);
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
    const trigger = triggerOf(c);
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i] as MessageTarget;
      let shown = state;
      if (t.consent) {
        const known = input.consented?.get(t.id)?.has(c.profileId) === true;
        const decision = consentDecision(state, t.consent, known);
        if (decision === 'exclude') {
          addRecord(outcome, c, state, t.id, 'CONSENT', consentMessage(t));
          continue;
        }
        if (decision === 'withdraw') shown = withdrawnState(state, mapping);
        if (decision !== 'send')
          outcome.consent.push({
            targetConnectionId: t.id,
            profileId: c.profileId,
            consented: decision === 'grant',
          });
      }
      out.messages.push(
        new ExportMessage(c.profileId, {
          flowId: flow.id,
          profileId: c.profileId,
          targetConnectionId: t.id,
          trigger,
        }),
      );
      out.seeds.push(seedOf(flow.id, t.id, c, versionOf(state, facets)));
      out.candidates.push(c);
      out.targetIds.push(t.id);
      out.states.push(shown);
      out.options.push(options[i] as PayloadOptions);
    }
  }
  return out;
}

function serialize(
  input: BuildInput,
  built: Built,
  outcome: StepOutcome,
): Map<string, ExportMessage[]> {
  const events = new Map<string, ExportMessage[]>(
    input.targets.map((t) => [t.id, []]),
  );
  const writer = bodyWriter(input.mapping);
  let lastState: ProfileState | null = null;
  let lastOptions: PayloadOptions | null = null;
  let lastMessage: ExportMessage | null = null;
  let lastText = '';
  for (let i = 0; i < built.messages.length; i++) {
    const message = built.messages[i] as ExportMessage;
    const state = built.states[i] as ProfileState;
    const opts = built.options[i] as PayloadOptions;
    const seed = built.seeds[i] as string;
    if (lastMessage && state === lastState && opts === lastOptions) {
      // Another target with the same options: the same body.
      message.bytes = lastMessage.bytes;
      message.messageId = messageIdOf(seed, lastText);
    } else {
      let text: string;
      try {
        text = writer.write(state, opts);
      } catch (err) {
        // Not retryable: the same data would fail again. Record it and go on.
        const reason = `The message for profile ${message.key} could not be built: ${err instanceof Error ? err.message : String(err)}`;
        addFailure(outcome, 'PAYLOAD_BUILD_FAILED', reason);
        addRecord(
          outcome,
          built.candidates[i] as Candidate,
          state,
          built.targetIds[i] as string,
          'BUILD_FAILED',
          reason,
        );
        lastMessage = null;
        continue;
      }
      // The state's content version and the body itself seed the id: a
      // state re-sent by any path (a backfill page re-sent after a takeover,
      // the change log, a batch re-read) keeps its messageId, and one id
      // never names two different bodies. The text is encoded once: the id
      // hashes `seed|body` and the body is a view of the same bytes.
      const seeded = Buffer.from(`${seed}|${text}`, 'utf8');
      message.messageId = messageIdOfBytes(seeded);
      message.bytes = seeded.subarray(Buffer.byteLength(seed) + 1);
      lastState = state;
      lastOptions = opts;
      lastMessage = message;
      lastText = text;
    }
    events.get(built.targetIds[i] as string)?.push(message);
  }
  return events;
}

/**
 * What a flow's messages are written from, as content versions count it:
 * the mapped attributes, the fields that decide whether a profile is sent
 * (mandatory, consent) and the mapped segments.
 */
export function contentFacetsOf(mapping: FlowMapping): ContentFacets {
  return contentFacets(
    [
      ...mapping.attributePaths,
      ...mapping.mandatoryFields,
      ...(mapping.consentPaths ?? []),
    ],
    mapping.segmentIds,
  );
}

/**
 * The version of a stored profile's state for a flow (content-versions.ts):
 * it moves only when something the flow sends may have changed. Undefined
 * for a deleted profile (its change row's state: the change's key seeds it).
 */
export function versionOf(
  state: ProfileState,
  facets: ContentFacets,
): string | undefined {
  return state.contentVersions
    ? `v${contentVersionFor(state.contentVersions, facets)}`
    : undefined;
}

/**
 * What seeds a messageId besides the body: flow, target, profile and the
 * state's version for the flow — a state sent again by any path keeps its
 * id, and a profile that returns to an earlier state gets a new one. A
 * replay or resync sends a state again on purpose, so its job's key joins
 * the seed: a consumer that deduplicates by messageId must not drop it.
 */
function seedOf(
  flowId: string,
  targetId: string,
  c: Candidate,
  version: string | undefined,
): string {
  const parts = [flowId, targetId, c.profileId, version ?? c.exportKey];
  if (c.triggers.has('replay') || c.triggers.has('resync'))
    parts.push(c.exportKey);
  return parts.join('|');
}

/** The `trigger` application property of a candidate's messages. */
export function triggerOf(c: Candidate): string {
  return c.triggers.size === 1
    ? (c.triggers.values().next().value as string)
    : [...c.triggers].sort().join(',');
}

/** A member of a mapped segment left out for a missing mandatory field is kept as a record. */
function recordMissingMandatory(
  c: Candidate,
  state: ProfileState,
  mapping: FlowMapping,
  outcome: StepOutcome,
): void {
  const missing = missingMandatory(state, mapping);
  if (missing.length === 0) return;
  if (!isEligible(state, { ...mapping, mandatoryFields: [] }, c.justExited))
    return;
  addRecord(
    outcome,
    c,
    state,
    null,
    'MISSING_MANDATORY',
    `Profile ${c.profileId} lacks the mandatory field(s) ${missing.join(', ')}.`,
  );
}

function consentMessage(t: MessageTarget): string {
  return `The profile has no consent for target connection ${t.id}: ${t.consent?.path} is not one of ${JSON.stringify(t.consent?.allowed)}.`;
}

export function addRecord(
  outcome: StepOutcome,
  c: Candidate,
  state: ProfileState,
  targetConnectionId: string | null,
  reasonCode: RecordReason,
  message: string,
): void {
  outcome.records.push({
    targetConnectionId,
    profileId: c.profileId,
    identityMap: exportedIdentityMap(state.identityMap),
    trigger: triggerOf(c),
    reasonCode,
    message,
  });
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
