import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import {
  createConnection,
  createProfileConnection,
  createSource,
  createTarget,
  EH_SPEC,
  flowBody,
  FS,
  PROFILE_SPEC,
} from '../helpers/resources.js';

const ROUNDS = 50;
/** Rounds in flight at once: enough to interleave requests, few enough for a 2-core machine. */
const PARALLEL = 5;

/** Every reference of a tenant that points at a row that does not exist. */
const DANGLING_SQL = `
  SELECT 'flow ' || f.id || ' → source ' || r.id AS dangling
    FROM flows f CROSS JOIN unnest(f.source_connection_ids) AS r(id)
   WHERE f.org_id = $1 AND NOT EXISTS (SELECT 1 FROM source_connections c WHERE c.id = r.id)
  UNION ALL
  SELECT 'flow ' || f.id || ' → target ' || r.id
    FROM flows f CROSS JOIN unnest(f.target_connection_ids) AS r(id)
   WHERE f.org_id = $1 AND NOT EXISTS (SELECT 1 FROM target_connections c WHERE c.id = r.id)
  UNION ALL
  SELECT 'source ' || s.id || ' → base ' || s.base_connection_id
    FROM source_connections s
   WHERE s.org_id = $1 AND s.base_connection_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM connections c WHERE c.id = s.base_connection_id)
  UNION ALL
  SELECT 'target ' || t.id || ' → base ' || t.base_connection_id
    FROM target_connections t
   WHERE t.org_id = $1 AND t.base_connection_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM connections c WHERE c.id = t.base_connection_id)`;

/**
 * A create that refers to a row and a delete of that row, sent at the same
 * time, end one of two ways: the create wins and the delete is refused
 * (1418-400), or the delete wins and the create finds no such id (404).
 * Never both.
 */
describe('references hold under concurrent create/delete', () => {
  let t: TestApp;
  let db: pg.Client;
  beforeAll(async () => {
    t = await createTestApp();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  /** Runs `round(i)` for i < ROUNDS, PARALLEL at a time; returns the outcomes tallied. */
  async function rounds(
    round: (i: number) => Promise<string>,
  ): Promise<Record<string, number>> {
    const tally: Record<string, number> = {};
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        for (let i = next++; i < ROUNDS; i = next++) {
          const outcome = await round(i);
          tally[outcome] = (tally[outcome] ?? 0) + 1;
        }
      }),
    );
    return tally;
  }

  async function dangling(tenant: TestTenant): Promise<string[]> {
    const res = await db.query<{ dangling: string }>(DANGLING_SQL, [
      tenant.orgId,
    ]);
    return res.rows.map((r) => r.dangling);
  }

  const post = (tenant: TestTenant, path: string, body: object) =>
    t.http.post(`${FS}/${path}`).set(tenant.headers).send(body);
  const del = (tenant: TestTenant, path: string) =>
    t.http.delete(`${FS}/${path}`).set(tenant.headers);

  /** One outcome per round: which request won, by their statuses. */
  const outcomeOf = (created: number, deleted: number): string =>
    `create ${created} / delete ${deleted}`;
  const allowed = new Set([outcomeOf(201, 400), outcomeOf(404, 202)]);

  it('flows vs. deleting their target connection', async () => {
    const tenant = await createTenant(t);
    const base = await createConnection(t, tenant);
    const source = await createSource(
      t,
      tenant,
      (await createProfileConnection(t, tenant)).id,
    );
    const tally = await rounds(async () => {
      const target = await createTarget(t, tenant, base.id);
      const [flow, gone] = await Promise.all([
        post(tenant, 'flows', flowBody(source.id, target.id)),
        del(tenant, `targetConnections/${target.id}`),
      ]);
      return outcomeOf(flow.status, gone.status);
    });
    expect(await dangling(tenant)).toEqual([]);
    expect(Object.keys(tally).filter((k) => !allowed.has(k))).toEqual([]);
  });

  it('flows vs. deleting their source connection', async () => {
    const tenant = await createTenant(t);
    const base = await createConnection(t, tenant);
    const target = await createTarget(t, tenant, base.id);
    const profileBase = await createProfileConnection(t, tenant);
    const tally = await rounds(async () => {
      const source = await createSource(t, tenant, profileBase.id);
      const [flow, gone] = await Promise.all([
        post(tenant, 'flows', flowBody(source.id, target.id)),
        del(tenant, `sourceConnections/${source.id}`),
      ]);
      return outcomeOf(flow.status, gone.status);
    });
    expect(await dangling(tenant)).toEqual([]);
    expect(Object.keys(tally).filter((k) => !allowed.has(k))).toEqual([]);
  });

  it('target and source connections vs. deleting their base connection', async () => {
    const tenant = await createTenant(t);
    const tally = await rounds(async (i) => {
      const eventHubs = i % 2 === 0;
      const base = eventHubs
        ? await createConnection(t, tenant)
        : await createProfileConnection(t, tenant);
      const [linked, gone] = await Promise.all([
        eventHubs
          ? post(tenant, 'targetConnections', {
              name: 'hub',
              baseConnectionId: base.id,
              connectionSpec: EH_SPEC,
              data: { format: 'json' },
              params: { eventHubName: 'profiles' },
            })
          : post(tenant, 'sourceConnections', {
              name: 'profiles',
              baseConnectionId: base.id,
              connectionSpec: PROFILE_SPEC,
            }),
        del(tenant, `connections/${base.id}`),
      ]);
      return outcomeOf(linked.status, gone.status);
    });
    expect(await dangling(tenant)).toEqual([]);
    expect(Object.keys(tally).filter((k) => !allowed.has(k))).toEqual([]);
  });
});
