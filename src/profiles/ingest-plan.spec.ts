import { describe, expect, it } from 'vitest';
import type { SegmentRule } from '../memberships/transitions.js';
import type { StoredProfileRow } from '../profile-store/ingest-writes.js';
import {
  type JsonObject,
  identityKeyString,
} from '../profile-store/profile-data.js';
import { type BatchItem, planBatch } from './ingest-plan.js';
import { normalizeFragment } from './profile-merge.js';

const NOW = new Date('2026-12-01T10:00:00.000Z');
const evaluation = { now: NOW, nowIso: NOW.toISOString(), txId: '900' };

let seq = 0;
const newId = (): string =>
  `00000000-0000-7000-8000-${String(++seq).padStart(12, '0')}`;

function item(index: number, value: unknown): BatchItem {
  return { index, fragment: normalizeFragment(value) };
}

function stored(
  id: string,
  attributes: JsonObject,
  emails: string[],
  createdMs: number,
  updatedMs = createdMs,
): StoredProfileRow {
  return {
    id,
    attributes,
    identity_map: { email: emails.map((e) => ({ id: e })) },
    memberships: {},
    created_at: new Date(createdMs),
    updated_at: new Date(updatedMs),
  };
}

const gold: SegmentRule<JsonObject> = {
  id: 'seg-gold',
  isMember: (doc) =>
    (doc.loyalty as { tier?: string } | undefined)?.tier === 'gold',
};

describe('planBatch (ingestion rules without a database)', () => {
  it('creates one profile per unknown identity and stitches records sharing one', () => {
    seq = 0;
    const plan = planBatch({
      items: [
        item(0, {
          identityMap: { email: [{ id: 'a@x.io' }] },
          loyalty: { tier: 'gold' },
        }),
        item(1, {
          identityMap: { email: [{ id: 'a@x.io' }], phone: [{ id: '1' }] },
          person: { name: 'A' },
        }),
        item(2, { identityMap: { email: [{ id: 'b@x.io' }] } }),
      ],
      owners: new Map(),
      loaded: [],
      segments: [gold],
      evaluation,
      newId,
    });
    expect(plan.results.map((r) => [r.index, r.profileId, r.created])).toEqual([
      [0, plan.results[0]?.profileId, true],
      [1, plan.results[0]?.profileId, false],
      [2, plan.results[2]?.profileId, true],
    ]);
    expect(plan.results[2]?.profileId).not.toBe(plan.results[0]?.profileId);
    const [a, b] = plan.write.created;
    expect(a?.attributes).toEqual({
      loyalty: { tier: 'gold' },
      person: { name: 'A' },
    });
    // Entering a segment is `realized`, stamped with the batch's time and transaction.
    expect(a?.memberships).toEqual({
      'seg-gold': ['realized', NOW.toISOString(), '900'],
    });
    expect(b?.memberships).toEqual({});
    // Every identity is new; the change log gets a row per profile.
    expect(plan.write.identities.inserts).toHaveLength(3);
    expect(plan.write.identities.moves).toEqual([]);
    expect(plan.write.changes.map((c) => c.membershipChanges)).toEqual([
      [{ segmentId: 'seg-gold', from: null, to: 'realized' }],
      [],
    ]);
  });

  it('merges two stored profiles into the oldest; the newest update wins; the absorbed one exits and is deleted', () => {
    seq = 0;
    const old = stored(
      'p-old',
      { name: 'old', city: 'Paris' },
      ['a@x.io'],
      1_000,
      5_000,
    );
    old.memberships = { 'seg-gold': ['existing', '2026-01-01T00:00:00.000Z'] };
    const young = stored(
      'p-young',
      { name: 'young' },
      ['b@x.io'],
      2_000,
      9_000,
    );
    young.memberships = {
      'seg-gold': ['realized', '2026-02-01T00:00:00.000Z', '5'],
    };
    const owners = new Map([
      [identityKeyString({ namespace: 'email', id: 'a@x.io' }), 'p-old'],
      [identityKeyString({ namespace: 'email', id: 'b@x.io' }), 'p-young'],
    ]);
    const plan = planBatch({
      items: [
        item(0, {
          identityMap: { email: [{ id: 'a@x.io' }, { id: 'b@x.io' }] },
        }),
      ],
      owners,
      loaded: [old, young],
      segments: [gold],
      evaluation,
      newId,
    });
    expect(plan.results).toEqual([
      {
        index: 0,
        status: 'ok',
        profileId: 'p-old',
        created: false,
        mergedProfileIds: ['p-young'],
      },
    ]);
    expect(plan.write.absorbed).toEqual(['p-young']);
    expect(plan.write.created).toEqual([]);
    const [update] = plan.write.updated;
    expect(update?.touched).toBe(true);
    expect(update?.profile.attributes).toEqual({
      name: 'young',
      city: 'Paris',
    });
    // b@x.io moves to the survivor.
    expect(plan.write.identities.moves).toEqual([
      { ns: 'email', id: 'b@x.io', p: 'p-old' },
    ]);
    const [absorbedRow, survivorRow] = plan.write.changes;
    expect(absorbedRow).toMatchObject({
      profileId: 'p-young',
      deleted: true,
      membershipChanges: [
        { segmentId: 'seg-gold', from: 'realized', to: 'exited' },
      ],
      snapshot: { mergedInto: 'p-old' },
    });
    // No longer gold (tier absent): the survivor exits too.
    expect(survivorRow?.membershipChanges).toEqual([
      { segmentId: 'seg-gold', from: 'existing', to: 'exited' },
    ]);
  });

  it('an unchanged record of a stored profile changes nothing but a realized → existing step', () => {
    const p = stored('p1', { loyalty: { tier: 'gold' } }, ['a@x.io'], 1_000);
    p.memberships = {
      'seg-gold': ['realized', '2026-01-01T00:00:00.000Z', '7'],
    };
    const plan = planBatch({
      items: [
        item(0, {
          identityMap: { email: [{ id: 'a@x.io' }] },
          loyalty: { tier: 'gold' },
        }),
      ],
      owners: new Map([
        [identityKeyString({ namespace: 'email', id: 'a@x.io' }), 'p1'],
      ]),
      loaded: [p],
      segments: [gold],
      evaluation,
      newId,
    });
    expect(plan.write.updated).toEqual([
      {
        profile: expect.objectContaining({
          memberships: { 'seg-gold': ['existing', NOW.toISOString()] },
        }),
        touched: false,
      },
    ]);
    expect(plan.write.changes).toEqual([
      expect.objectContaining({
        changedPaths: [],
        identitiesChanged: false,
        membershipChanges: [],
      }),
    ]);
    expect(plan.write.identities).toEqual({ inserts: [], moves: [] });
  });
});
