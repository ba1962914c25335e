import { describe, expect, it } from 'vitest';
import type { SegmentRule } from '../memberships/transitions.js';
import type { StoredProfileRow } from '../profile-store/ingest-writes.js';
import {
  type JsonObject,
  identityKeyString,
} from '../profile-store/profile-data.js';
import {
  type BatchInput,
  type BatchItem,
  type BatchPlan,
  MAX_PROFILE_IDENTITIES,
  planBatch,
} from './ingest-plan.js';
import { normalizeFragment } from './profile-merge.js';

const NOW = new Date('2026-12-01T10:00:00.000Z');
const evaluation = { now: NOW, nowIso: NOW.toISOString(), txId: '900' };

let seq = 0;
const newId = (): string =>
  `00000000-0000-7000-8000-${String(++seq).padStart(12, '0')}`;

/** A plan that needed no identity ages. */
async function plan(input: BatchInput): Promise<BatchPlan> {
  const out = await planBatch(input);
  if ('needAges' in out) throw new Error('unexpected needAges');
  return out;
}

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
    content_versions: {},
    created_ms: createdMs,
    updated_ms: updatedMs,
  };
}

const gold: SegmentRule<JsonObject> = {
  id: 'seg-gold',
  isMember: (doc) =>
    (doc.loyalty as { tier?: string } | undefined)?.tier === 'gold',
};

/** One record of a@x.io, whose stored profile `row` (id p1) owns it, at loyalty `tier`. */
function planForStored(
  row: StoredProfileRow,
  tier: string,
): Promise<BatchPlan> {
  return plan({
    items: [
      item(0, {
        identityMap: { email: [{ id: 'a@x.io' }] },
        loyalty: { tier },
      }),
    ],
    owners: new Map([
      [identityKeyString({ namespace: 'email', id: 'a@x.io' }), 'p1'],
    ]),
    loaded: [row],
    segments: [gold],
    evaluation,
    newId,
  });
}

describe('planBatch (ingestion rules without a database)', () => {
  it('creates one profile per unknown identity and stitches records sharing one', async () => {
    seq = 0;
    const p = await plan({
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
    expect(p.results.map((r) => [r.index, r.profileId, r.created])).toEqual([
      [0, p.results[0]?.profileId, true],
      [1, p.results[0]?.profileId, false],
      [2, p.results[2]?.profileId, true],
    ]);
    expect(p.results[2]?.profileId).not.toBe(p.results[0]?.profileId);
    const [a, b] = p.write.created;
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
    expect(p.write.identities.inserts).toHaveLength(3);
    expect(p.write.identities.moves).toEqual([]);
    expect(p.write.changes.map((c) => c.membershipChanges)).toEqual([
      [{ segmentId: 'seg-gold', from: null, to: 'realized' }],
      [],
    ]);
  });

  it('merges two stored profiles into the oldest; the newest update wins; the absorbed one exits and is deleted', async () => {
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
    const p = await plan({
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
    expect(p.results).toEqual([
      {
        index: 0,
        status: 'ok',
        profileId: 'p-old',
        created: false,
        mergedProfileIds: ['p-young'],
      },
    ]);
    expect(p.write.absorbed).toEqual(['p-young']);
    expect(p.write.created).toEqual([]);
    const [update] = p.write.updated;
    expect(update?.attributes).toEqual({
      name: 'young',
      city: 'Paris',
    });
    // b@x.io moves to the survivor.
    expect(p.write.identities.moves).toEqual([
      { ns: 'email', id: 'b@x.io', p: 'p-old' },
    ]);
    const [absorbedRow, survivorRow] = p.write.changes;
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

  it('an attribute change of a stored profile writes its attributes, membership changes and versions, not its identities', async () => {
    const row = stored('p1', { loyalty: { tier: 'gold' } }, ['a@x.io'], 1_000);
    row.memberships = {
      'seg-gold': ['existing', '2026-01-01T00:00:00.000Z'],
      'seg-old': ['exited', '2026-01-01T00:00:00.000Z'],
    };
    row.content_versions = { i: 1, 'a:loyalty': 1, 's:seg-gold': 1 };
    const p = await planForStored(row, 'silver');
    expect(p.write.updated).toEqual([
      {
        id: 'p1',
        attributes: { loyalty: { tier: 'silver' } },
        // Merged over the stored entries by the write: seg-old stays.
        memberships: { 'seg-gold': ['exited', NOW.toISOString()] },
        contentVersions: { i: 1, 'a:loyalty': 2, 's:seg-gold': 2 },
      },
    ]);
  });

  it('an unchanged record of a stored profile changes nothing but a realized → existing step', async () => {
    const row = stored('p1', { loyalty: { tier: 'gold' } }, ['a@x.io'], 1_000);
    row.memberships = {
      'seg-gold': ['realized', '2026-01-01T00:00:00.000Z', '7'],
    };
    const p = await planForStored(row, 'gold');
    expect(p.write.updated).toEqual([
      {
        id: 'p1',
        // Only the entry that changed; no attributes, identities or content
        // versions (not a change of what any flow sends: messageIds stay).
        memberships: { 'seg-gold': ['existing', NOW.toISOString()] },
      },
    ]);
    expect(p.write.changes).toEqual([
      expect.objectContaining({
        changedPaths: [],
        identitiesChanged: false,
        membershipChanges: [],
      }),
    ]);
    expect(p.write.identities).toEqual({ inserts: [], moves: [], drops: [] });
  });

  it('keeps at most 50 identities per profile: the oldest go first, new ones count as newest', async () => {
    const emails = Array.from({ length: 49 }, (_, i) => `e${i}@x.io`);
    const full = stored('p-full', {}, emails, 1_000);
    full.identity_map.phone = [{ id: '000' }];
    const owners = new Map(
      [...emails.map((e) => ['email', e]), ['phone', '000']].map(([ns, id]) => [
        identityKeyString({ namespace: ns as string, id: id as string }),
        'p-full',
      ]),
    );
    const input: BatchInput = {
      items: [
        item(0, {
          identityMap: {
            phone: [{ id: '000' }],
            email: [{ id: 'new1@x.io' }, { id: 'new2@x.io' }],
          },
        }),
      ],
      owners,
      loaded: [full],
      segments: [],
      evaluation,
      newId,
    };
    // Past the guardrail, the plan first asks when the stored identities were seen.
    const first = await planBatch(input);
    expect('needAges' in first && first.needAges).toHaveLength(50);
    // e5 is the oldest, then e0; everything else is younger.
    const ages = new Map([...owners.keys()].map((k, i) => [k, 10_000 + i]));
    ages.set(identityKeyString({ namespace: 'email', id: 'e5@x.io' }), 1);
    ages.set(identityKeyString({ namespace: 'email', id: 'e0@x.io' }), 2);
    const p = await plan({ ...input, identityAges: ages });
    const [update] = p.write.updated;
    const kept = update?.identityMap ?? {};
    expect(Object.values(kept).flat()).toHaveLength(MAX_PROFILE_IDENTITIES);
    const keptEmails = (kept.email ?? []).map((e) => e.id);
    expect(keptEmails).not.toContain('e5@x.io');
    expect(keptEmails).not.toContain('e0@x.io');
    expect(keptEmails).toEqual(
      expect.arrayContaining(['new1@x.io', 'new2@x.io', 'e1@x.io']),
    );
    expect(p.write.identities.drops).toEqual([
      { namespace: 'email', id: 'e5@x.io' },
      { namespace: 'email', id: 'e0@x.io' },
    ]);
    expect(p.write.identities.inserts.map((r) => r.id).sort()).toEqual([
      'new1@x.io',
      'new2@x.io',
    ]);
    // The change exports as an identity change.
    expect(p.write.changes[0]?.identitiesChanged).toBe(true);
  });

  it('refuses a record that would merge a full profile into another, and keeps its neighbours', async () => {
    const emails = Array.from({ length: 50 }, (_, i) => `f${i}@x.io`);
    const full = stored('p-full', {}, emails, 1_000);
    const other = stored('p-other', {}, ['o@x.io'], 2_000);
    const owners = new Map([
      ...emails.map(
        (e) =>
          [identityKeyString({ namespace: 'email', id: e }), 'p-full'] as const,
      ),
      [
        identityKeyString({ namespace: 'email', id: 'o@x.io' }),
        'p-other',
      ] as const,
    ]);
    const p = await plan({
      items: [
        item(0, {
          identityMap: { email: [{ id: 'f3@x.io' }, { id: 'o@x.io' }] },
        }),
        item(1, { identityMap: { email: [{ id: 'o@x.io' }] }, a: 1 }),
      ],
      owners,
      loaded: [full, other],
      segments: [],
      evaluation,
      newId,
    });
    expect(p.results[0]).toMatchObject({
      index: 0,
      status: 'error',
      reason: expect.stringContaining('p-full already has 50 identities'),
    });
    expect(p.results[1]).toMatchObject({ status: 'ok', profileId: 'p-other' });
    expect(p.write.absorbed).toEqual([]);
  });
});
