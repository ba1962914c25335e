import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../../src/emulator/defaults.js';
import { FlowEntity } from '../../src/flows/flow.entity.js';
import { emptyOutcome } from '../../src/runner/run-metrics.js';
import { RunnerRepository } from '../../src/runner/runner.repository.js';
import { createTenant, createTestApp, type TestApp } from '../helpers/app.js';
import { createEventHubsFlow } from '../helpers/flows.js';
import { createSegment } from '../helpers/segments.js';

/**
 * A step's commit moves its lane's position and adds the step to the hour's
 * run. Lanes of one flow (in this process or others) add to the same run:
 * the commit writes it in one statement when it knows the run's version,
 * and must never overwrite what another writer added meanwhile.
 */
describe("a step's commit", () => {
  let t: TestApp;
  let ds: DataSource;
  let repo: RunnerRepository;

  beforeAll(async () => {
    t = await createTestApp({ env: { RUNNER_ENABLED: 'false' } });
    ds = t.app.get(DataSource);
    repo = t.app.get(RunnerRepository);
  });
  afterAll(async () => t.close());

  it('adds each step to the hour’s run once, keeping what another writer added meanwhile', async () => {
    const tenant = await createTenant(t);
    const segmentId = (
      await createSegment(t, tenant, 'Gold', 'loyalty.tier = "gold"')
    ).id;
    const { flowId } = await createEventHubsFlow(t, tenant, {
      namespace: '127.0.0.1:5671',
      sasKeyName: DEFAULT_KEY_NAME,
      sasKey: DEFAULT_EMULATOR_KEY,
      eventHubName: 'commits',
      segmentIds: [segmentId],
      attributes: ['personalEmail.address'],
    });
    // Other test files' runners share this database: the flow is disabled
    // at once so none of them claims it, and the lanes are leased by hand.
    await ds.query(`UPDATE flows SET state = 'disabled' WHERE id = $1`, [
      flowId,
    ]);
    await repo.ensureCursors(2);
    const owner = `test-${randomUUID().slice(0, 8)}`;
    const leased = (await ds.query(
      `UPDATE flow_cursors SET lease_owner = $2, lease_until = now() + interval '1 hour'
        WHERE flow_id = $1 AND lane IN (0, 1) RETURNING lane`,
      [flowId, owner],
    )) as [{ lane: number }[], number];
    expect(leased[1]).toBe(2);
    const flow = await ds.getRepository(FlowEntity).findOneByOrFail({
      id: flowId,
    });
    const at = Date.now();
    const commit = (lane: number, output: number, by = owner) => {
      const outcome = {
        ...emptyOutcome(
          flow.sourceConnectionIds[0] ?? '',
          flow.targetConnectionIds,
          at,
        ),
        input: output,
        output,
      };
      return repo.commitStep({
        owner: by,
        flowId,
        lane,
        orgId: flow.orgId,
        sandboxName: flow.sandboxName,
        sandboxId: flow.sandboxId,
        flowSpecId: flow.flowSpecId,
        flowVersion: flow.version,
        position: { txId: '3', id: String(100 + output) },
        mapping: { segmentIds: [segmentId], attributePaths: [] } as never,
        backfill: null,
        outcome,
      });
    };
    const run = async () =>
      (
        (await ds.query(
          `SELECT version::text AS version, (metrics->'recordSummary'->>'outputRecordCount')::int AS output
             FROM runs WHERE flow_id = $1`,
          [flowId],
        )) as { version: string; output: number }[]
      )[0];

    // The hour's first step creates the run; the next knows its version.
    expect(await commit(0, 5)).toBe(true);
    expect((await run())?.output).toBe(5);
    expect(await commit(1, 2)).toBe(true);
    expect((await run())?.output).toBe(7);

    // Another writer (another process's lane) adds 100 behind this
    // process's back: the next commit must find the run moved.
    const before = await run();
    await ds.query(
      `UPDATE runs SET version = gen_random_uuid(),
              metrics = jsonb_set(metrics, '{recordSummary,outputRecordCount}',
                to_jsonb((metrics->'recordSummary'->>'outputRecordCount')::int + 100))
        WHERE flow_id = $1`,
      [flowId],
    );
    expect(await commit(1, 3)).toBe(true);
    const after = await run();
    expect(after?.output).toBe(110);
    expect(after?.version).not.toBe(before?.version);
    const [lane1] = (await ds.query(
      `SELECT last_change_id::text AS id FROM flow_cursors WHERE flow_id = $1 AND lane = 1`,
      [flowId],
    )) as { id: string }[];
    expect(lane1?.id).toBe('103');

    // Without the lane's lease nothing is kept: neither position nor count.
    expect(await commit(0, 50, 'someone-else')).toBe(false);
    expect((await run())?.output).toBe(110);
    const [lane0] = (await ds.query(
      `SELECT last_change_id::text AS id FROM flow_cursors WHERE flow_id = $1 AND lane = 0`,
      [flowId],
    )) as { id: string }[];
    expect(lane0?.id).toBe('105');

    // Commits of several lanes at once all count.
    const results = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((n) => commit(n % 2, n)),
    );
    expect(results.every(Boolean)).toBe(true);
    expect((await run())?.output).toBe(110 + 21);
  });

  it('reads of profiles by id use an index on the id while the statistics show a tenant as small', async () => {
    // A fresh tenant's profiles, not yet analyzed: PostgreSQL takes the
    // tenant for a handful of rows. An index that starts with the tenant's
    // columns and has the id only after the lane hash was then chosen for
    // lookups by id, reading the tenant's every entry for each.
    const orgId = `PLAN${randomUUID().slice(0, 8)}@AdobeOrg`;
    const ids = Array.from({ length: 5_000 }, () => randomUUID());
    await ds.query(
      `INSERT INTO profiles (id, org_id, sandbox_name) SELECT p, $2, 'prod' FROM unnest($1::uuid[]) AS p`,
      [ids, orgId],
    );
    const [{ 'QUERY PLAN': plan }] = (await ds.query(
      `EXPLAIN (FORMAT JSON) SELECT id, attributes FROM profiles
        WHERE org_id = $1 AND sandbox_name = 'prod' AND id = ANY($2::uuid[])`,
      [orgId, ids.slice(0, 10)],
    )) as [{ 'QUERY PLAN': unknown }];
    const text = JSON.stringify(plan);
    expect(text).not.toContain('ix_profiles_lane');
    expect(text).toMatch(/ix_profiles_tenant_id|PK_/);
  });
});
