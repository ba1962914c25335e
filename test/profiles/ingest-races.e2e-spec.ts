import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProfileIngestService } from '../../src/profiles/profile-ingest.service.js';
import { createTenant, createTestApp, type TestApp } from '../helpers/app.js';

describe('profile ingestion racing merges', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('updates through an identity that a concurrent merge moves land on the surviving profile, and the identity graph stays whole', async () => {
    const tn = await createTenant(t);
    const ref = { orgId: tn.orgId, sandboxName: tn.sandbox };
    const svc = t.app.get(ProfileIngestService);
    const ds = t.app.get(DataSource);
    const pairs = 40;
    const a = (i: number): string => `a${i}@race.io`;
    const b = (i: number): string => `b${i}@race.io`;
    const seeded = await svc.ingestRecords(
      ref,
      Array.from({ length: 2 * pairs }, (_, n) => ({
        index: n,
        value: {
          identityMap: { email: [{ id: n % 2 ? b(n >> 1) : a(n >> 1) }] },
          seeded: n,
        },
      })),
    );
    expect(seeded.accepted).toBe(2 * pairs);
    // Three batches stitch each a-profile to its b-profile (the b-profile is
    // absorbed and its identity moves), while three others update through
    // the b identity, each adding an identity of its own.
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, run) =>
        svc.ingestRecords(
          ref,
          Array.from({ length: pairs }, (_, i) => ({
            index: i,
            value:
              run < 3
                ? { identityMap: { email: [{ id: a(i) }, { id: b(i) }] } }
                : {
                    identityMap: {
                      email: [{ id: b(i) }],
                      ecid: [{ id: `e${run}-${i}` }],
                    },
                    [`run${run}`]: true,
                  },
          })),
        ),
      ),
    );
    for (const r of runs) expect(r.rejected).toBe(0);

    const profiles = (await ds.query(
      `SELECT id, attributes, identity_map FROM profiles
        WHERE org_id = $1 AND sandbox_name = $2`,
      [tn.orgId, tn.sandbox],
    )) as {
      id: string;
      attributes: Record<string, unknown>;
      identity_map: Record<string, { id: string }[]>;
    }[];
    expect(profiles).toHaveLength(pairs);
    const identities = (await ds.query(
      `SELECT namespace, identity, profile_id FROM profile_identities
        WHERE org_id = $1 AND sandbox_name = $2`,
      [tn.orgId, tn.sandbox],
    )) as { namespace: string; identity: string; profile_id: string }[];
    // Every identity row names a profile whose identityMap holds it, and
    // every identityMap entry has its row.
    const fromMaps = profiles.flatMap((p) =>
      Object.entries(p.identity_map).flatMap(([ns, entries]) =>
        entries.map((e) => `${ns.toLowerCase()}|${e.id}|${p.id}`),
      ),
    );
    expect(
      identities
        .map(
          (r) => `${r.namespace.toLowerCase()}|${r.identity}|${r.profile_id}`,
        )
        .sort(),
    ).toEqual(fromMaps.sort());
    expect(identities).toHaveLength(pairs * 5);
    // Each pair ended in one profile with both emails, every update's
    // identity and attribute.
    for (let i = 0; i < pairs; i++) {
      const p = profiles.find((x) =>
        x.identity_map.email?.some((e) => e.id === a(i)),
      );
      expect(p?.identity_map.email?.map((e) => e.id).sort()).toEqual([
        a(i),
        b(i),
      ]);
      expect(p?.identity_map.ecid?.map((e) => e.id).sort()).toEqual([
        `e3-${i}`,
        `e4-${i}`,
        `e5-${i}`,
      ]);
      expect(p?.attributes).toMatchObject({
        run3: true,
        run4: true,
        run5: true,
      });
    }
  });
});
