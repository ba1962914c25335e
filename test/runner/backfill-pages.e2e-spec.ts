import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunnerRepository } from '../../src/runner/runner.repository.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

describe('backfill pages (members after a profile id)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('returns every current member of the segments once, in profile order, page by page', async () => {
    const ds = t.app.get(DataSource);
    const repo = t.app.get(RunnerRepository);
    const orgId = `BACKFILL${randomUUID().slice(0, 8)}@AdobeOrg`;
    const [s1, s2, other] = [randomUUID(), randomUUID(), randomUUID()];
    const profiles = Array.from({ length: 300 }, () => randomUUID());
    const rows: [string, string, string][] = [];
    profiles.forEach((p, i) => {
      // s1: realized / existing / exited in turn; s2 overlaps s1 on even profiles.
      rows.push([p, s1, ['realized', 'existing', 'exited'][i % 3]!]);
      if (i % 2 === 0) rows.push([p, s2, 'existing']);
      rows.push([p, other, 'realized']);
    });
    await ds.query(
      `INSERT INTO segment_memberships (profile_id, segment_id, org_id, sandbox_name, status, last_qualification_time)
       SELECT p, s, $4, 'prod', st, now()
         FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS r(p, s, st)`,
      [
        rows.map((r) => r[0]),
        rows.map((r) => r[1]),
        rows.map((r) => r[2]),
        orgId,
      ],
    );
    const expected = profiles
      .filter((_, i) => i % 3 !== 2 || i % 2 === 0)
      .sort();

    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await repo.membersAfter(orgId, 'prod', [s1, s2], after, 40);
      seen.push(...page);
      if (page.length < 40) break;
      after = page[page.length - 1] ?? null;
    }
    expect(seen).toEqual(expected);
    // Another tenant sees none of them.
    expect(
      await repo.membersAfter('OTHER@AdobeOrg', 'prod', [s1, s2], null, 40),
    ).toEqual([]);
    await ds.query(`DELETE FROM segment_memberships WHERE org_id = $1`, [
      orgId,
    ]);
  });
});
