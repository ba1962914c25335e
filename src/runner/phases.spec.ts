import { describe, expect, it } from 'vitest';
import type { ProfileChange } from '../profile-store/change-log.js';
import type { ProfileState } from '../profile-store/profile-state.js';
import type { FlowMapping } from './mapping.js';
import { buildMessages, messageIdOf } from './messages.js';
import { emptyOutcome } from './run-metrics.js';
import { backfillCandidates, selectChanges } from './select.js';
import { planStep, positionAfterRead } from './step-plan.js';

const transformations = (segmentIds: string[], paths: string[] = []) => [
  {
    params: {
      segmentSelectors: {
        selectors: segmentIds.map((id) => ({
          type: 'PLATFORM_SEGMENT',
          value: { id },
        })),
      },
      profileSelectors: {
        selectors: paths.map((path) => ({
          type: 'JSON_PATH',
          value: { path },
        })),
      },
    },
  },
];

const mappingOf = (segmentIds: string[], attributePaths: string[] = []) => ({
  segmentIds,
  attributePaths,
  mandatoryFields: [],
});

describe('planStep', () => {
  const cursor = {
    lastTxId: '50',
    lastChangeId: '7',
    mapping: { ...mappingOf(['s1']), targetConnectionIds: ['t1'] },
    backfill: null,
    lastSuccessAt: new Date(),
  };

  it('reads the change log when the mapping is unchanged', () => {
    const plan = planStep(cursor, transformations(['s1']), ['t1']);
    expect(plan).toMatchObject({
      mappingChanged: false,
      backfill: null,
      skipToHorizon: false,
      position: { txId: '50', id: '7' },
    });
  });

  it('backfills a newly mapped segment from the first member, keeping the position', () => {
    const plan = planStep(cursor, transformations(['s1', 's2']), ['t1']);
    expect(plan.mappingChanged).toBe(true);
    expect(plan.backfill).toEqual({ segmentIds: ['s2'], afterProfileId: null });
    expect(plan.skipToHorizon).toBe(false);
  });

  it("a new flow's first backfill jumps to the log's horizon", () => {
    const plan = planStep(
      { ...cursor, mapping: mappingOf([]), lastSuccessAt: null },
      transformations(['s1']),
      ['t1'],
    );
    expect(plan.skipToHorizon).toBe(true);
  });

  it('drops unmapped segments from a pending backfill, and the backfill when none is left', () => {
    const pending = {
      ...cursor,
      mapping: { ...mappingOf(['s1', 's2']), targetConnectionIds: ['t1'] },
      backfill: { segmentIds: ['s2'], afterProfileId: 'p9' },
    };
    expect(
      planStep(pending, transformations(['s1']), ['t1']).backfill,
    ).toBeNull();
    expect(
      planStep(pending, transformations(['s1', 's2']), ['t1']).backfill,
    ).toEqual({
      segmentIds: ['s2'],
      afterProfileId: 'p9',
    });
  });

  it("a target added to a running flow gets the mapped segments' members, to it only; a removed one drops out of a pending backfill", () => {
    const plan = planStep(cursor, transformations(['s1']), ['t1', 't2']);
    expect(plan.backfill).toEqual({
      segmentIds: ['s1'],
      afterProfileId: null,
      targetIds: ['t2'],
    });
    expect(plan.mappingChanged).toBe(true);
    expect(plan.stored.targetConnectionIds).toEqual(['t1', 't2']);
    // The new target removed again before its backfill finished: nothing left to do.
    const pending = {
      ...cursor,
      backfill: { segmentIds: ['s1'], afterProfileId: 'p3', targetIds: ['t2'] },
    };
    expect(planStep(pending, transformations(['s1']), ['t1']).backfill).toBe(
      null,
    );
  });

  it('a cursor that never recorded its targets records them without a backfill', () => {
    const old = { ...cursor, mapping: mappingOf(['s1']) };
    const plan = planStep(old, transformations(['s1']), ['t1', 't2']);
    expect(plan.backfill).toBeNull();
    expect(plan.mappingChanged).toBe(true);
  });
});

function change(over: Partial<ProfileChange>): ProfileChange {
  return {
    id: '1',
    txId: '100',
    profileId: 'p1',
    changedAt: new Date('2026-12-01T00:00:00Z'),
    changedPaths: [],
    identitiesChanged: false,
    membershipChanges: [],
    deleted: false,
    snapshot: null,
    ...over,
  };
}

describe('positionAfterRead', () => {
  const at = (txId: string, id = '0') => ({ txId, id });
  it('moves past the last change; up to the horizon only when the batch was not full', () => {
    expect(
      positionAfterRead(at('5', '1'), at('9', '4'), true, at('12')),
    ).toEqual(at('9', '4'));
    expect(
      positionAfterRead(at('5', '1'), at('9', '4'), false, at('12')),
    ).toEqual(at('12'));
    expect(positionAfterRead(at('5', '1'), undefined, false, at('12'))).toEqual(
      at('12'),
    );
    // Never backwards (a horizon taken before the read can be behind it).
    expect(
      positionAfterRead(at('5', '1'), at('12', '3'), false, at('12')),
    ).toEqual(at('12', '3'));
    expect(
      positionAfterRead(at('100', '1'), undefined, false, at('99')),
    ).toEqual(at('100', '1'));
  });
});

describe('selectChanges', () => {
  const mapping: FlowMapping = mappingOf(['s1'], ['person.name']);

  it('keeps one candidate per triggered profile; its last change seeds the messageId, its first keeps the transaction', () => {
    const out = selectChanges(
      [
        change({
          id: '1',
          txId: '100',
          membershipChanges: [{ segmentId: 's1', from: null, to: 'realized' }],
        }),
        change({ id: '2', txId: '101', changedPaths: ['person.name.first'] }),
        change({ id: '3', txId: '101', profileId: 'p2', changedPaths: ['x'] }),
        // Not a trigger for this flow: the message, and its id, stay as they were.
        change({ id: '4', txId: '102', changedPaths: ['unmapped'] }),
      ],
      mapping,
    );
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      profileId: 'p1',
      exportKey: 'change:101:2',
      firstTx: '100',
    });
    expect([...(out[0]?.triggers ?? [])].sort()).toEqual([
      'attribute',
      'segment',
    ]);
  });

  it("tracks a just-exited segment and a deleted profile's last state", () => {
    const [c] = selectChanges(
      [
        change({
          deleted: true,
          membershipChanges: [
            { segmentId: 's1', from: 'existing', to: 'exited' },
          ],
          snapshot: {
            attributes: { a: 1 },
            identityMap: { email: [{ id: 'e' }] },
          },
        }),
      ],
      mapping,
    );
    expect([...(c?.justExited ?? [])]).toEqual(['s1']);
    expect(c?.deletedState).toEqual({
      profileId: 'p1',
      attributes: { a: 1 },
      identityMap: { email: [{ id: 'e' }] },
      memberships: {
        s1: {
          status: 'exited',
          lastQualificationTime: '2026-12-01T00:00:00.000Z',
        },
      },
    });
  });
});

describe('buildMessages', () => {
  const flow = {
    id: 'f1',
    createdAt: new Date(1_000),
    updatedAt: new Date(2_000),
  };
  const state = (realizedTx: string): ProfileState => ({
    profileId: 'p1',
    attributes: { person: { name: 'A' } },
    identityMap: { email: [{ id: 'a@x.io' }] },
    memberships: {
      s1: {
        status: 'realized',
        lastQualificationTime: '2026-12-01T00:00:00Z',
        realizedTx,
      },
    },
  });

  it('builds one message per target with a stable messageId and shows an already exported qualification as existing', () => {
    const build = (realizedTx: string, fromTx: string) => {
      const outcome = emptyOutcome('src', ['t1', 't2'], 0);
      const [candidate] = selectChanges(
        [
          change({
            txId: '101',
            membershipChanges: [
              { segmentId: 's1', from: null, to: 'realized' },
            ],
          }),
        ],
        mappingOf(['s1']),
      );
      const events = buildMessages(
        {
          flow,
          mapping: mappingOf(['s1'], ['person.name']),
          targets: [
            {
              id: 't1',
              includeSegmentNames: false,
              includeSegmentTimestamps: false,
            },
            {
              id: 't2',
              includeSegmentNames: false,
              includeSegmentTimestamps: false,
            },
          ],
          segments: new Map(),
          candidates: candidate ? [candidate] : [],
          states: new Map([['p1', state(realizedTx)]]),
          from: { txId: fromTx, id: '0' },
        },
        outcome,
      );
      return { events, outcome };
    };
    const first = build('101', '100');
    const [m1] = first.events.get('t1') ?? [];
    expect(m1?.messageId).toBe(
      messageIdOf('f1', 't1', 'p1', 'change:101:1', JSON.stringify(m1?.body)),
    );
    expect(first.events.get('t2')?.[0]?.messageId).not.toBe(m1?.messageId);
    expect(m1?.body).toEqual({
      person: { name: 'A' },
      segmentMembership: {
        ups: {
          s1: {
            lastQualificationTime: '2026-12-01T00:00:00Z',
            status: 'realized',
          },
        },
      },
      identityMap: { email: [{ id: 'a@x.io' }] },
    });
    expect(first.outcome.segmentOutput).toEqual({ s1: 1 });
    // The flow's position is already past the realizing transaction.
    const again = build('99', '100');
    const body = again.events.get('t1')?.[0]?.body as {
      segmentMembership: { ups: Record<string, { status: string }> };
    };
    expect(body.segmentMembership.ups.s1?.status).toBe('existing');
  });

  it('gives one state one messageId whichever path sends it, and a changed body a new one', () => {
    const send = (
      candidates: ReturnType<typeof backfillCandidates>,
      st: ProfileState,
    ) =>
      buildMessages(
        {
          flow,
          mapping: mappingOf(['s1'], ['person.name']),
          targets: [
            {
              id: 't1',
              includeSegmentNames: false,
              includeSegmentTimestamps: false,
            },
          ],
          segments: new Map(),
          candidates,
          states: new Map([['p1', st]]),
          from: { txId: '200', id: '0' },
        },
        emptyOutcome('src', ['t1'], 0),
      ).get('t1')?.[0];
    const v7 = { ...state('300'), contentVersions: { i: 7, 'a:person': 5 } };
    const fromBackfill = send(backfillCandidates(['p1'], ['s1']), v7);
    const [fromLog] = selectChanges(
      [change({ txId: '150', changedPaths: ['person.name'] })],
      mappingOf(['s1'], ['person.name']),
    );
    expect(fromLog).toBeDefined();
    const viaLog = send(fromLog ? [fromLog] : [], { ...v7 });
    expect(viaLog?.messageId).toBe(fromBackfill?.messageId);
    // Same version, another body (e.g. a segment renamed): another id.
    const renamed = send(backfillCandidates(['p1'], ['s1']), {
      ...v7,
      attributes: { person: { name: 'B' } },
    });
    expect(renamed?.messageId).not.toBe(fromBackfill?.messageId);
    // A later version of the same body (A → B → A): another id too.
    const later = send(backfillCandidates(['p1'], ['s1']), {
      ...v7,
      contentVersions: { ...v7.contentVersions, 'a:person': 8 },
    });
    expect(later?.messageId).not.toBe(fromBackfill?.messageId);
    // A write the flow does not see (an unmapped attribute, another
    // segment) leaves the id as it was.
    const unmapped = send(backfillCandidates(['p1'], ['s1']), {
      ...v7,
      contentVersions: { ...v7.contentVersions, 'a:loyalty': 9, 's:s9': 10 },
    });
    expect(unmapped?.messageId).toBe(fromBackfill?.messageId);
  });

  it('skips a profile that is not a member of a mapped segment', () => {
    const outcome = emptyOutcome('src', ['t1'], 0);
    const events = buildMessages(
      {
        flow,
        mapping: mappingOf(['s2']),
        targets: [
          {
            id: 't1',
            includeSegmentNames: false,
            includeSegmentTimestamps: false,
          },
        ],
        segments: new Map(),
        candidates: backfillCandidates(['p1'], ['s2']),
        states: new Map([['p1', state('1')]]),
        from: { txId: '0', id: '0' },
      },
      outcome,
    );
    expect(events.get('t1')).toEqual([]);
    expect(outcome.skipped).toBe(1);
  });
});
