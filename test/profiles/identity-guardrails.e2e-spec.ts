import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { ingest, lookup } from '../helpers/profiles.js';

/** Adobe's identity-graph guardrails (docs/profiles.md, "Identity graph limits"). */
describe('identity graph guardrails', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  const identitiesOf = async (
    tenant: TestTenant,
    profileId: string,
  ): Promise<string[]> =>
    (
      (await t.app.get(DataSource).query(
        `SELECT namespace || ':' || identity AS k FROM profile_identities
            WHERE org_id = $1 AND sandbox_name = $2 AND profile_id = $3 ORDER BY 1`,
        [tenant.orgId, tenant.sandbox, profileId],
      )) as { k: string }[]
    ).map((r) => r.k);

  it('one shared identifier on many records keeps the profile at 50 identities, the oldest leaving first', async () => {
    const tenant = await createTenant(t);
    const record = (i: number) => ({
      identityMap: { email: [{ id: `e${i}@x.io` }], phone: [{ id: '000' }] },
      n: i,
    });
    // 60 records in one request, then 30 more one request at a time.
    const first = await ingest(
      t,
      tenant,
      Array.from({ length: 60 }, (_, i) => record(i)),
    );
    expect(first.accepted).toBe(60);
    const id = first.results[0]?.profileId as string;
    expect(new Set(first.results.map((r) => r.profileId))).toEqual(
      new Set([id]),
    );
    for (let i = 60; i < 90; i++) await ingest(t, tenant, [record(i)]);

    const body = await lookup(t, tenant, '000', 'phone');
    const identityMap = body[id]?.entity.identityMap as Record<
      string,
      { id: string }[]
    >;
    const emails = (identityMap.email ?? []).map((e) => e.id);
    expect(emails.length + (identityMap.phone ?? []).length).toBe(50);
    // The oldest emails left first (ties in first-seen time go in
    // identityMap order, where the first request put the phone last).
    expect(emails).toContain('e89@x.io');
    expect(emails).not.toContain('e0@x.io');
    // The graph table holds exactly the profile's identities.
    const stored = await identitiesOf(tenant, id);
    expect(stored).toHaveLength(50);
    expect(stored).toEqual(
      [
        ...emails.map((e) => `email:${e}`),
        ...(identityMap.phone ?? []).map((p) => `phone:${p.id}`),
      ].sort(),
    );
    // A dropped identity belongs to no profile any more.
    await lookup(t, tenant, 'e0@x.io', 'email', 404);
  });

  it('refuses to merge a full profile with another, with a reason, and stores the neighbours', async () => {
    const tenant = await createTenant(t);
    const full = await ingest(t, tenant, [
      {
        identityMap: {
          email: Array.from({ length: 20 }, (_, i) => ({ id: `a${i}@x.io` })),
        },
      },
    ]);
    const fullId = full.results[0]?.profileId as string;
    for (let b = 1; b < 3; b++)
      await ingest(t, tenant, [
        {
          identityMap: {
            email: [
              { id: 'a0@x.io' },
              ...Array.from({ length: 15 }, (_, i) => ({
                id: `a${b}-${i}@x.io`,
              })),
            ],
          },
        },
      ]);
    await ingest(t, tenant, [
      {
        identityMap: {
          ecid: Array.from({ length: 10 }, (_, i) => ({ id: `c${i}` })),
        },
      },
    ]);
    expect(await identitiesOf(tenant, fullId)).toHaveLength(50);
    const other = await ingest(t, tenant, [
      { identityMap: { email: [{ id: 'solo@x.io' }] } },
    ]);
    const otherId = other.results[0]?.profileId as string;

    const res = await ingest(
      t,
      tenant,
      [
        { identityMap: { email: [{ id: 'a0@x.io' }, { id: 'solo@x.io' }] } },
        { identityMap: { email: [{ id: 'solo@x.io' }] }, kept: true },
      ],
      207,
    );
    expect(res.results[0]).toMatchObject({
      status: 'error',
      reason: expect.stringContaining('already has 50 identities'),
    });
    expect(res.results[1]).toMatchObject({ status: 'ok', profileId: otherId });
    // Both profiles are still there, apart.
    expect(Object.keys(await lookup(t, tenant, 'a0@x.io', 'email'))).toEqual([
      fullId,
    ]);
    expect(
      (await lookup(t, tenant, 'solo@x.io', 'email'))[otherId]?.entity.kept,
    ).toBe(true);
  });

  it('rejects placeholder identity values, blank ones, and more than 20 identities in one record', async () => {
    const tenant = await createTenant(t);
    const res = await ingest(
      t,
      tenant,
      [
        { identityMap: { email: [{ id: 'null' }] } },
        { identityMap: { ecid: [{ id: 'Anonymous' }] } },
        { identityMap: { ecid: [{ id: 'INVALID' }] } },
        { identityMap: { ecid: [{ id: '   ' }] } },
        {
          identityMap: {
            ecid: Array.from({ length: 21 }, (_, i) => ({ id: `x${i}` })),
          },
        },
        { identityMap: { ecid: [{ id: 'x'.repeat(1025) }] } },
        { identityMap: { ecid: [{ id: 'fine' }] } },
      ],
      207,
    );
    expect(res.results.map((r) => r.status)).toEqual([
      'error',
      'error',
      'error',
      'error',
      'error',
      'error',
      'ok',
    ]);
    expect(res.results[0]?.reason).toContain('is not an identity');
    expect(res.results[4]?.reason).toContain('more than the limit of 20');
    expect(res.results[5]?.reason).toContain('longer than 1024');
  });
});
