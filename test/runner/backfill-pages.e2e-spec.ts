import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Lane,
  WHOLE,
  laneHash,
  laneOf,
} from '../../src/profile-store/lanes.js';
import { RunnerRepository } from '../../src/runner/runner.repository.js';
import { createTenant, createTestApp, type TestApp } from '../helpers/app.js';
import { email, ingest, tenantRef, waitVisible } from '../helpers/profiles.js';
import { createSegment } from '../helpers/segments.js';

describe('backfill pages (members after a profile id)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('returns every current member of the segments once, in (lane hash, id) order, page by page, each lane only its own', async () => {
    const ds = t.app.get(DataSource);
    const repo = t.app.get(RunnerRepository);
    const orgId = `BACKFILL${randomUUID().slice(0, 8)}@AdobeOrg`;
    const [s1, s2, other] = [randomUUID(), randomUUID(), randomUUID()];
    const profiles = Array.from({ length: 300 }, () => randomUUID());
    const now = new Date().toISOString();
    const memberships = profiles.map((_, i) => {
      // s1: realized / existing / exited in turn; s2 overlaps s1 on even profiles.
      const m: Record<string, [string, string]> = {
        [s1]: [['realized', 'existing', 'exited'][i % 3]!, now],
        [other]: ['realized', now],
      };
      if (i % 2 === 0) m[s2] = ['existing', now];
      return m;
    });
    await ds.query(
      `INSERT INTO profiles (id, org_id, sandbox_name, memberships)
       SELECT p, $3, 'prod', m
         FROM unnest($1::uuid[], $2::jsonb[]) AS r(p, m)`,
      [profiles, memberships.map((m) => JSON.stringify(m)), orgId],
    );
    // A profile of the tenant in no segment, and one only in another.
    await ds.query(
      `INSERT INTO profiles (id, org_id, sandbox_name, memberships)
       VALUES ($1, $3, 'prod', '{}'), ($2, $3, 'prod', $4::jsonb)`,
      [
        randomUUID(),
        randomUUID(),
        orgId,
        JSON.stringify({ [other]: ['existing', now] }),
      ],
    );
    const byLaneOrder = (a: string, b: string): number =>
      laneHash(a) - laneHash(b) || (a < b ? -1 : a > b ? 1 : 0);
    const expected = profiles
      .filter((_, i) => i % 3 !== 2 || i % 2 === 0)
      .sort(byLaneOrder);

    const pages = async (lane?: Lane): Promise<string[]> => {
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const { ids: page, states } = await repo.backfillPage(
          { orgId, sandboxName: 'prod', id: randomUUID() },
          { segmentIds: [s1, s2], afterProfileId: after },
          40,
          lane ?? WHOLE,
          [s1, s2],
        );
        // Each member comes with its state, read in the same statement.
        expect([...states.keys()].sort()).toEqual([...page].sort());
        seen.push(...page);
        if (page.length < 40) break;
        after = page[page.length - 1] ?? null;
      }
      return seen;
    };
    expect(await pages()).toEqual(expected);
    // Lane by lane: each lane's members, in the same order, and together all.
    for (let lane = 0; lane < 3; lane++)
      expect(await pages({ lane, lanes: 3 })).toEqual(
        expected.filter((id) => laneOf(id, 3) === lane),
      );
    // Another tenant sees none of them.
    expect(
      (
        await repo.backfillPage(
          { orgId: 'OTHER@AdobeOrg', sandboxName: 'prod', id: randomUUID() },
          { segmentIds: [s1, s2], afterProfileId: null },
          40,
          WHOLE,
          [s1, s2],
        )
      ).ids,
    ).toEqual([]);
    await ds.query(`DELETE FROM profiles WHERE org_id = $1`, [orgId]);
  });

  it('leaves to the change log the members whose entry is still ahead of the position', async () => {
    const repo = t.app.get(RunnerRepository);
    const tenant = await createTenant(t);
    const ref = tenantRef(tenant);
    const seg = await createSegment(t, tenant, 'Gold', 'loyalty.tier = "gold"');
    const gold = (id: string) => ({
      identityMap: email(id),
      loyalty: { tier: 'gold' },
    });
    const early = (await ingest(t, tenant, [gold('early@x.io')])).results[0]
      ?.profileId as string;
    await waitVisible(t, tenant);
    const position = await repo.horizon();
    const late = (await ingest(t, tenant, [gold('late@x.io')])).results[0]
      ?.profileId as string;
    await waitVisible(t, tenant);
    const ahead = await repo.enteringAfter(
      ref,
      [early, late],
      [seg.id],
      position,
    );
    expect([...ahead]).toEqual([late]);
    // Another segment's entry does not count.
    expect(
      await repo.enteringAfter(ref, [early, late], [randomUUID()], position),
    ).toEqual(new Set());
  });
});
