import { describe, expect, it } from 'vitest';
import type { ProfileState } from '../profile-store/profile-state.js';
import type { ProfileChange } from '../profile-store/change-log.js';
import {
  type ConsentPolicy,
  consentDecision,
  consentPolicyOf,
  withConsentPaths,
  withdrawnState,
} from './consent.js';
import { type FlowMapping, triggersOf } from './mapping.js';
import { buildMessages, type MessageTarget } from './messages.js';
import { emptyOutcome } from './run-metrics.js';
import type { Candidate } from './select.js';

const POLICY: ConsentPolicy = { path: 'consents.share.val', allowed: ['y'] };
const MAPPING: FlowMapping = {
  segmentIds: ['s1'],
  attributePaths: ['person.name'],
  mandatoryFields: [],
};

function state(consent: unknown, attributes: object = {}): ProfileState {
  return {
    profileId: 'p1',
    attributes: {
      person: { name: 'A' },
      ...(consent === undefined
        ? {}
        : { consents: { share: { val: consent } } }),
      ...attributes,
    },
    identityMap: { email: [{ id: 'a@x.io' }] },
    memberships: {
      s1: { status: 'existing', lastQualificationTime: '2026-12-01T00:00:00Z' },
    },
  };
}

const candidate = (): Candidate => ({
  profileId: 'p1',
  exportKey: 'change:1:1',
  triggers: new Set(['attribute']),
  justExited: new Set(),
});

const target = (consent?: ConsentPolicy): MessageTarget => ({
  id: 't1',
  includeSegmentNames: false,
  includeSegmentTimestamps: false,
  ...(consent ? { consent } : {}),
});

function build(
  s: ProfileState,
  targets: MessageTarget[],
  held: string[] = [],
  mapping: FlowMapping = MAPPING,
) {
  const outcome = emptyOutcome(
    'src',
    targets.map((t) => t.id),
    0,
  );
  const events = buildMessages(
    {
      flow: { id: 'f1', createdAt: new Date(0), updatedAt: new Date(0) },
      mapping,
      targets,
      segments: new Map(),
      candidates: [candidate()],
      states: new Map([['p1', s]]),
      from: { txId: '0', id: '0' },
      consented: new Map(targets.map((t) => [t.id, new Set(held)])),
    },
    outcome,
  );
  return { events, outcome };
}

describe('consent', () => {
  it('decides from consent now and what the destination holds', () => {
    expect(consentDecision(state('y'), POLICY, true)).toBe('send');
    expect(consentDecision(state('y'), POLICY, false)).toBe('grant');
    expect(consentDecision(state('n'), POLICY, true)).toBe('withdraw');
    expect(consentDecision(state('n'), POLICY, false)).toBe('exclude');
    expect(consentDecision(state(undefined), POLICY, false)).toBe('exclude');
    // Only scalar values can mean yes; numbers compare as text.
    expect(consentDecision(state(['y']), POLICY, true)).toBe('withdraw');
    expect(
      consentDecision(state(1), { path: POLICY.path, allowed: ['1'] }, true),
    ).toBe('send');
  });

  it('reads the policy from target params', () => {
    expect(consentPolicyOf({ consentPolicy: POLICY })).toEqual(POLICY);
    expect(consentPolicyOf({ eventHubName: 'h' })).toBeUndefined();
  });

  it('a withdrawal shows every mapped membership exited and leaves the state as it was', () => {
    const s = state('n');
    const shown = withdrawnState(s, MAPPING);
    expect(shown.memberships.s1?.status).toBe('exited');
    expect(s.memberships.s1?.status).toBe('existing');
  });

  it('a change of a consent path triggers `consent` only for flows whose targets have a policy', () => {
    const change = {
      changedPaths: ['consents.share.val'],
      membershipChanges: [],
      identitiesChanged: false,
    } as unknown as ProfileChange;
    expect(triggersOf(change, MAPPING)).toEqual([]);
    const withPaths = withConsentPaths(MAPPING, [target(POLICY), target()]);
    expect(withPaths.consentPaths).toEqual(['consents.share.val']);
    expect(triggersOf(change, withPaths)).toEqual(['consent']);
    expect(withConsentPaths(MAPPING, [target()])).toBe(MAPPING);
  });

  it('builds: excluded with a CONSENT record, one exit on withdrawal, a grant remembered', () => {
    const excluded = build(state('n'), [target(POLICY)]);
    expect(excluded.events.get('t1')).toEqual([]);
    expect(excluded.outcome.records).toEqual([
      expect.objectContaining({
        targetConnectionId: 't1',
        profileId: 'p1',
        reasonCode: 'CONSENT',
        trigger: 'attribute',
        identityMap: { email: [{ id: 'a@x.io' }] },
      }),
    ]);
    expect(excluded.outcome.consent).toEqual([]);

    const withdrawn = build(state('n'), [target(POLICY)], ['p1']);
    const [exit] = withdrawn.events.get('t1') ?? [];
    const ups = exit?.body.segmentMembership as
      { ups: Record<string, { status: string }> } | undefined;
    expect(ups?.ups.s1?.status).toBe('exited');
    expect(withdrawn.outcome.consent).toEqual([
      { targetConnectionId: 't1', profileId: 'p1', consented: false },
    ]);

    const granted = build(state('y'), [target(POLICY)]);
    expect(granted.events.get('t1')).toHaveLength(1);
    expect(granted.outcome.consent).toEqual([
      { targetConnectionId: 't1', profileId: 'p1', consented: true },
    ]);
    // Already held: sent, nothing to store.
    expect(build(state('y'), [target(POLICY)], ['p1']).outcome.consent).toEqual(
      [],
    );
    // A target without a policy is not affected.
    expect(build(state('n'), [target()]).events.get('t1')).toHaveLength(1);
  });

  it('a member missing a mandatory field is an excluded record for every target; a non-member is not a record', () => {
    const mandatory = { ...MAPPING, mandatoryFields: ['person.email'] };
    const missing = build(state('y'), [target()], [], mandatory);
    expect(missing.events.get('t1')).toEqual([]);
    expect(missing.outcome.skipped).toBe(1);
    expect(missing.outcome.records).toEqual([
      expect.objectContaining({
        targetConnectionId: null,
        reasonCode: 'MISSING_MANDATORY',
      }),
    ]);
    expect(missing.outcome.records[0]?.message).toContain('person.email');
    const outsider = { ...state('y'), memberships: {} };
    const none = build(outsider, [target()], [], mandatory);
    expect(none.outcome.skipped).toBe(1);
    expect(none.outcome.records).toEqual([]);
  });
});
