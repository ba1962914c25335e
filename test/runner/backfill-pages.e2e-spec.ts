import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Lane,
  WHOLE,
  laneHash,
  laneOf,
} from '../../src/profile-store/lanes.js';
import {
  WALK_PLAN,
  backfillStatesStatement,
} from '../../src/profile-store/profile-state.js';
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

  it('walks the lane in index order and stops at a full page, whatever PostgreSQL guesses of the membership test', async () => {
    const ds = t.app.get(DataSource);
    const orgId = `WALK${randomUUID().slice(0, 8)}@AdobeOrg`;
    const seg = randomUUID();
    // Every profile a member: the planner guesses the membership test keeps
    // a few per cent, so it expects a page to need the whole lane.
    await ds.query(
      // Rows of a realistic width (~1 KB of attributes that do not compress):
      // with narrow rows the table is a few pages and any plan is cheap.
      `INSERT INTO profiles (id, org_id, sandbox_name, attributes, memberships)
       SELECT gen_random_uuid(), $1, 'prod',
              jsonb_build_object('pad', (SELECT string_agg(md5(g::text || '/' || i), '') FROM generate_series(1, 30) AS i)),
              jsonb_build_object($2::text, jsonb_build_array('existing', now()::text))
         FROM generate_series(1, 30000) AS g`,
      [orgId, seg],
    );
    await ds.query('ANALYZE profiles');
    const { sql, params } = backfillStatesStatement(
      { orgId, sandboxName: 'prod' },
      {
        segmentIds: [seg],
        afterProfileId: null,
        limit: 1000,
        lane: { lane: 0, lanes: 4 },
      },
      [seg],
      [],
    );
    interface PlanNode {
      'Node Type': string;
      'Index Name'?: string;
      'Actual Rows': number;
      'Actual Loops': number;
      Plans?: PlanNode[];
    }
    const explain = (settings: string[]): Promise<PlanNode> =>
      ds.transaction(async (em) => {
        for (const s of settings) await em.query(s);
        const [{ 'QUERY PLAN': plan }] = (await em.query(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
          params,
        )) as [{ 'QUERY PLAN': [{ Plan: PlanNode }] }];
        return plan[0].Plan;
      });
    const nodes = (n: PlanNode): PlanNode[] => [
      n,
      ...(n.Plans ?? []).flatMap(nodes),
    ];
    /** Profiles the plan's scans of `profiles` read (all workers). */
    const rowsRead = (plan: PlanNode): number =>
      Math.max(
        ...nodes(plan)
          .filter(
            (n) =>
              /Scan/.test(n['Node Type']) && n['Node Type'] !== 'Function Scan',
          )
          .map((n) => n['Actual Rows'] * n['Actual Loops']),
      );
    const types = (plan: PlanNode): string[] =>
      nodes(plan).map((n) => n['Node Type']);
    // As the runner plans it: the ordered index scan, a page's worth read.
    const walked = await explain([WALK_PLAN]);
    expect(nodes(walked).map((n) => n['Index Name'])).toContain(
      'ix_profiles_lane',
    );
    expect(types(walked)).not.toContain('Sort');
    expect(rowsRead(walked)).toBe(1000);
    // Left to itself, PostgreSQL reads the lane's ~7,500 profiles for the
    // page and sorts them (if this stops holding, the setting is moot).
    const guessed = await explain([]);
    expect(types(guessed)).toContain('Sort');
    expect(rowsRead(guessed)).toBeGreaterThan(5000);
    await ds.query(`DELETE FROM profiles WHERE org_id = $1`, [orgId]);
  });
});
