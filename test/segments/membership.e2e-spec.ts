import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProfilesService } from '../../src/profiles/profiles.service.js';
import { RunnerRepository } from '../../src/runner/runner.repository.js';
import { SegmentJobsService } from '../../src/segments/segment-jobs.service.js';
import { SegmentWorker } from '../../src/segments/segment-worker.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import {
  allChanges,
  email,
  ingest,
  lookup,
  tenantRef,
} from '../helpers/profiles.js';
import { createSegment } from '../helpers/segments.js';

type Membership = { status: string; lastQualificationTime: string };

async function membershipOf(
  t: TestApp,
  tn: TestTenant,
  mail: string,
  segmentId: string,
): Promise<Membership | undefined> {
  const body = await lookup(t, tn, mail, 'email');
  const entity = Object.values(body)[0]?.entity as {
    segmentMembership: { ups: Record<string, Membership> };
  };
  return entity.segmentMembership.ups[segmentId];
}

describe('streaming segment membership', () => {
  let t: TestApp;
  let worker: SegmentWorker;
  beforeAll(async () => {
    t = await createTestApp();
    worker = t.app.get(SegmentWorker);
  });
  afterAll(async () => t.close());

  it('enter → realized, stay → existing, leave → exited, re-enter → realized', async () => {
    const tn = await createTenant(t);
    const seg = await createSegment(t, tn, 'Adults', 'person.age >= 18');
    const profile = (age: number, extra = {}) => ({
      identityMap: email('m@x.io'),
      person: { age },
      ...extra,
    });

    await ingest(t, tn, [profile(20)]);
    const m1 = await membershipOf(t, tn, 'm@x.io', seg.id);
    expect(m1?.status).toBe('realized');

    await ingest(t, tn, [profile(21)]);
    const m2 = await membershipOf(t, tn, 'm@x.io', seg.id);
    expect(m2?.status).toBe('existing');
    expect(
      Date.parse(m2?.lastQualificationTime as string),
    ).toBeGreaterThanOrEqual(Date.parse(m1?.lastQualificationTime as string));

    // Still a member: stays existing and keeps the time that set it.
    await ingest(t, tn, [profile(22)]);
    expect(await membershipOf(t, tn, 'm@x.io', seg.id)).toEqual(
      m2 && { ...m2 },
    );

    await ingest(t, tn, [profile(10)]);
    expect((await membershipOf(t, tn, 'm@x.io', seg.id))?.status).toBe(
      'exited',
    );
    await ingest(t, tn, [profile(30)]);
    expect((await membershipOf(t, tn, 'm@x.io', seg.id))?.status).toBe(
      'realized',
    );

    const changes = await allChanges(t, tn);
    expect(changes.map((c) => c.membershipChanges)).toEqual([
      [{ segmentId: seg.id, from: null, to: 'realized' }],
      [],
      [],
      [{ segmentId: seg.id, from: 'existing', to: 'exited' }],
      [{ segmentId: seg.id, from: 'exited', to: 'realized' }],
    ]);
    expect(changes.map((c) => c.changedPaths)).toEqual([
      ['person.age'],
      ['person.age'],
      ['person.age'],
      ['person.age'],
      ['person.age'],
    ]);
  });

  it('an update that changes one membership keeps the others as stored', async () => {
    const tn = await createTenant(t);
    const adults = await createSegment(t, tn, 'Adults', 'person.age >= 18');
    const gold = await createSegment(t, tn, 'Gold', 'loyalty.tier = "gold"');
    const profile = (age: number) => ({
      identityMap: email('k@x.io'),
      person: { age },
      loyalty: { tier: 'gold' },
    });
    await ingest(t, tn, [profile(20)]);
    await ingest(t, tn, [profile(21)]);
    const goldBefore = await membershipOf(t, tn, 'k@x.io', gold.id);
    expect(goldBefore?.status).toBe('existing');

    // Only the adults' entry changes: the gold entry stays, with its time.
    await ingest(t, tn, [profile(10)]);
    expect((await membershipOf(t, tn, 'k@x.io', adults.id))?.status).toBe(
      'exited',
    );
    expect(await membershipOf(t, tn, 'k@x.io', gold.id)).toEqual(goldBefore);
    // And an attribute-only update keeps both.
    await ingest(t, tn, [profile(11)]);
    expect((await membershipOf(t, tn, 'k@x.io', adults.id))?.status).toBe(
      'exited',
    );
    expect(await membershipOf(t, tn, 'k@x.io', gold.id)).toEqual(goldBefore);
  });

  it('an export seeing a qualification makes it existing without writing the profile; the state reader returns memberships; delete exits every segment', async () => {
    const tn = await createTenant(t);
    const ref = tenantRef(tn);
    const us = await createSegment(
      t,
      tn,
      'US',
      'homeAddress.countryCode = "US"',
    );
    const vip = await createSegment(
      t,
      tn,
      'VIP',
      'loyalty.tier in ["gold", "platinum"]',
    );
    const r = await ingest(t, tn, [
      {
        identityMap: { ...email('d@x.io'), ecid: [{ id: 'ecid-d' }] },
        homeAddress: { countryCode: 'US' },
        loyalty: { tier: 'gold' },
        person: { name: 'D' },
      },
    ]);
    const id = r.results[0]?.profileId as string;
    const ds = t.app.get(DataSource);
    const storedRow = async () =>
      (
        (await ds.query(
          `SELECT memberships, xmin::text AS version FROM profiles WHERE id = $1`,
          [id],
        )) as unknown[]
      )[0];
    const row = await storedRow();
    const before = (await allChanges(t, tn)).length;
    // The change that announced the qualification, and a flow mapping US
    // positioned just before it (the runner is off in this app).
    const [change] = (await ds.query(
      `SELECT tx_id::text AS tx, id::text AS id FROM profile_changes WHERE profile_id = $1 ORDER BY id DESC LIMIT 1`,
      [id],
    )) as { tx: string; id: string }[];
    // The stored entry names the transaction that set it.
    expect(
      (row as { memberships: Record<string, string[]> }).memberships[us.id],
    ).toEqual(['realized', expect.stringMatching(/Z$/), change?.tx]);
    const flowId = crypto.randomUUID();
    await ds.query(
      `INSERT INTO flow_cursors (flow_id, org_id, sandbox_name, last_tx_id, last_change_id, mapping, next_attempt_at)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, now())`,
      [
        flowId,
        ref.orgId,
        ref.sandboxName,
        change?.tx,
        String(BigInt(change?.id ?? '1') - 1n),
        JSON.stringify({ segmentIds: [us.id], attributes: [] }),
      ],
    );
    const statusOf = async (segmentId: string) =>
      (await t.app.get(ProfilesService).states(ref, [id]))[0]?.memberships[
        segmentId
      ]?.status;
    expect(await statusOf(us.id)).toBe('realized');
    // A flow still backfilling US has not necessarily reached the profile.
    await ds.query(
      `UPDATE flow_cursors SET last_change_id = $2, backfill = $3::jsonb WHERE flow_id = $1`,
      [
        flowId,
        change?.id,
        JSON.stringify({ segmentIds: [us.id], afterProfileId: null }),
      ],
    );
    expect(await statusOf(us.id)).toBe('realized');
    // Past the change: exported, so `existing`. VIP is mapped by no flow.
    await ds.query(
      `UPDATE flow_cursors SET backfill = NULL WHERE flow_id = $1`,
      [flowId],
    );

    const [state] = await t.app
      .get(ProfilesService)
      .states(ref, [id, '00000000-0000-0000-0000-000000000000']);
    expect(state).toMatchObject({
      profileId: id,
      attributes: { homeAddress: { countryCode: 'US' } },
      identityMap: { email: [{ id: 'd@x.io' }] },
      memberships: {
        [us.id]: {
          status: 'existing',
          lastQualificationTime: expect.stringMatching(/Z$/),
        },
        [vip.id]: { status: 'realized' },
      },
    });
    // Nothing was written for it: not the profile row, not the change log.
    expect(await storedRow()).toEqual(row);
    expect(await allChanges(t, tn)).toHaveLength(before);
    await ds.query(`DELETE FROM flow_cursors WHERE flow_id = $1`, [flowId]);

    await t.http
      .delete('/data/core/ups/access/entities')
      .query({
        'schema.name': '_xdm.context.profile',
        entityId: 'D@x.io'.toLowerCase(),
        entityIdNS: 'EMAIL',
      })
      .set(tn.headers)
      .expect(200);
    await lookup(t, tn, 'd@x.io', 'email', 404);
    expect(await t.app.get(ProfilesService).states(ref, [id])).toEqual([]);
    // Its identities went with it: the same email is a new profile now.
    expect(
      await t.app
        .get(DataSource)
        .query(`SELECT 1 FROM profile_identities WHERE profile_id = $1`, [id]),
    ).toEqual([]);
    const last = (await allChanges(t, tn)).pop();
    expect(last).toMatchObject({
      profileId: id,
      deleted: true,
      identitiesChanged: true,
      changedPaths: ['homeAddress.countryCode', 'loyalty.tier', 'person.name'],
      snapshot: {
        attributes: {
          homeAddress: { countryCode: 'US' },
          loyalty: { tier: 'gold' },
          person: { name: 'D' },
        },
        identityMap: { email: [{ id: 'd@x.io' }], ecid: [{ id: 'ecid-d' }] },
      },
    });
    expect(last?.membershipChanges).toEqual(
      [
        // The stored status: the export did not write the row.
        { segmentId: us.id, from: 'realized', to: 'exited' },
        { segmentId: vip.id, from: 'realized', to: 'exited' },
      ].sort((a, b) => (a.segmentId < b.segmentId ? -1 : 1)),
    );
    // The identity is free again: a new fragment creates a new profile.
    const again = await ingest(t, tn, [{ identityMap: email('d@x.io') }]);
    expect(again.results[0]).toMatchObject({ created: true });
  });

  it('a merge ends the absorbed profile memberships as exits of the absorbed id', async () => {
    const tn = await createTenant(t);
    const seg = await createSegment(t, tn, 'Has name', 'name.isNotNull()');
    const a = await ingest(t, tn, [{ identityMap: email('a@m.io') }]);
    const b = await ingest(t, tn, [
      { identityMap: { phone: [{ id: '1' }] }, name: 'B' },
    ]);
    await ingest(t, tn, [
      { identityMap: { email: [{ id: 'a@m.io' }], phone: [{ id: '1' }] } },
    ]);
    const idA = a.results[0]?.profileId;
    const idB = b.results[0]?.profileId;
    const changes = await allChanges(t, tn);
    const tail = changes.slice(-2);
    expect(tail[0]).toMatchObject({
      profileId: idB,
      deleted: true,
      membershipChanges: [
        { segmentId: seg.id, from: 'realized', to: 'exited' },
      ],
      snapshot: { mergedInto: idA },
    });
    expect(tail[1]).toMatchObject({
      profileId: idA,
      deleted: false,
      changedPaths: ['name'],
      membershipChanges: [{ segmentId: seg.id, from: null, to: 'realized' }],
    });
  });

  it('evaluates a new segment over existing profiles in the background, resumable after a crash', async () => {
    const tn = await createTenant(t);
    const ref = tenantRef(tn);
    const ds = t.app.get(DataSource);
    const jobs = t.app.get(SegmentJobsService);
    await ingest(
      t,
      tn,
      [1, 2, 3, 4, 5].map((n) => ({ identityMap: email(`p${n}@x.io`), n })),
    );
    const seg = await createSegment(t, tn, 'Odd', 'n in [1, 3, 5]');
    const jobId = seg.evaluationJob?.id as string;
    expect(seg.evaluationJob).toMatchObject({
      status: 'queued',
      totalProfiles: 5,
      processedProfiles: 0,
    });

    // Worker 1 does one batch of 2 and "crashes" (never comes back).
    await worker.runOnce({
      owner: 'w1',
      batchSize: 2,
      maxBatches: 1,
      tenant: ref,
    });
    const half = await t.http
      .get(`/data/core/ups/segment/jobs/${jobId}`)
      .set(tn.headers)
      .expect(200);
    expect(half.body).toMatchObject({
      status: 'running',
      processedProfiles: 2,
      attempts: 1,
    });

    // Its lease is still valid: nobody else takes the job.
    expect(
      await worker.runOnce({ owner: 'w2', batchSize: 2, tenant: ref }),
    ).toEqual({ jobs: 0, batches: 0 });

    // The lease expires; worker 2 re-claims and resumes at the cursor.
    await ds.query(
      `UPDATE segment_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`,
      [jobId],
    );
    const claimed = await jobs.claim('w2', 60_000, ref);
    expect(claimed?.id).toBe(jobId);
    // The crashed worker cannot write any more.
    expect(await jobs.runBatch(jobId, 'w1', 2)).toBe('lost');
    let outcome = await jobs.runBatch(jobId, 'w2', 2);
    while (outcome === 'continue')
      outcome = await jobs.runBatch(jobId, 'w2', 2);
    expect(outcome).toBe('done');

    const done = await t.http
      .get(`/data/core/ups/segment/definitions/${seg.id}`)
      .set(tn.headers)
      .expect(200);
    expect(
      (done.body as { evaluationJob: unknown }).evaluationJob,
    ).toMatchObject({
      id: jobId,
      status: 'succeeded',
      processedProfiles: 5,
      totalProfiles: 5,
      enteredProfiles: 3,
      exitedProfiles: 0,
      attempts: 2,
    });
    for (const n of [1, 2, 3, 4, 5]) {
      expect((await membershipOf(t, tn, `p${n}@x.io`, seg.id))?.status).toBe(
        n % 2 ? 'realized' : undefined,
      );
    }
    const entering = (await allChanges(t, tn)).filter(
      (c) => c.membershipChanges.length,
    );
    expect(entering).toHaveLength(3);
    expect(
      entering.every(
        (c) => c.changedPaths.length === 0 && !c.identitiesChanged,
      ),
    ).toBe(true);

    // Editing the expression re-evaluates: members that no longer match exit.
    await t.http
      .patch(`/data/core/ups/segment/definitions/${seg.id}`)
      .set(tn.headers)
      .send({
        name: 'Odd',
        expression: { type: 'PQL', format: 'pql/text', value: 'n = 1' },
      })
      .expect(200);
    await worker.runOnce({ tenant: ref, batchSize: 2 });
    // Still a member: the job leaves it `realized` (no flow has exported it,
    // so a flow must still show the qualification as `realized`).
    expect((await membershipOf(t, tn, 'p1@x.io', seg.id))?.status).toBe(
      'realized',
    );
    expect((await membershipOf(t, tn, 'p3@x.io', seg.id))?.status).toBe(
      'exited',
    );
    const exits = (await allChanges(t, tn))
      .flatMap((c) => c.membershipChanges)
      .filter((c) => c.to === 'exited');
    expect(exits).toHaveLength(2);
  });

  it('re-evaluates time-relative segments in the sweep and purges old exits', async () => {
    const tn = await createTenant(t);
    const ref = tenantRef(tn);
    const seg = await createSegment(t, tn, 'Valid', 'validUntil > now');
    await worker.runOnce({ tenant: ref });
    const soon = new Date(Date.now() + 1500).toISOString();
    await ingest(t, tn, [{ identityMap: email('v@x.io'), validUntil: soon }]);
    expect((await membershipOf(t, tn, 'v@x.io', seg.id))?.status).toBe(
      'realized',
    );
    await new Promise((r) => setTimeout(r, 1800));
    await worker.sweep();
    await worker.runOnce({ tenant: ref });
    expect((await membershipOf(t, tn, 'v@x.io', seg.id))?.status).toBe(
      'exited',
    );
    const last = (await allChanges(t, tn)).pop();
    expect(last?.membershipChanges).toEqual([
      { segmentId: seg.id, from: 'realized', to: 'exited' },
    ]);

    // Retention: an exit older than MEMBERSHIP_RETENTION_DAYS (30) is purged
    // once every flow has exported it (the sandbox has none: the change-log
    // purge hands it over).
    const ds = t.app.get(DataSource);
    const old = new Date(Date.now() - 31 * 86_400_000).toISOString();
    await ds.query(
      `UPDATE profiles SET memberships = jsonb_set(memberships, ARRAY[$1], jsonb_build_array('exited', $2::text))
        WHERE memberships ? $1`,
      [seg.id, old],
    );
    expect(await t.app.get(SegmentJobsService).purge(30)).toMatchObject({
      memberships: 0,
    });
    await ds.query(
      `UPDATE profile_changes SET changed_at = $2 WHERE org_id = $1`,
      [tn.orgId, old],
    );
    await t.app.get(RunnerRepository).purgeConsumedChanges(24);
    expect(await t.app.get(SegmentJobsService).purge(30)).toMatchObject({
      memberships: 1,
    });
    expect(await t.app.get(SegmentJobsService).purge(30)).toMatchObject({
      memberships: 0,
    });
    expect(await membershipOf(t, tn, 'v@x.io', seg.id)).toBeUndefined();
  });
});
