import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createTestApp, type TestApp } from '../helpers/app.js';
import { createFlow, FLOW_SPEC, FS, getItem } from '../helpers/resources.js';

describe('flow documents (built by PostgreSQL)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('GET /runs/{id} answers exactly the list item, and only to its tenant', async () => {
    const tenant = await createTenant(t);
    const flow = await createFlow(t, tenant);
    const [run] = (await t.app.get(DataSource).query(
      `INSERT INTO runs (org_id, sandbox_name, sandbox_id, flow_id, flow_spec_id, hour_start, version, metrics)
       VALUES ($1, 'prod', gen_random_uuid(), $2, $3, date_trunc('hour', now()), gen_random_uuid(),
               '{"statusSummary": {"status": "success"}, "recordSummary": {"outputRecordCount": 7}}')
       RETURNING id`,
      [tenant.orgId, flow.id, FLOW_SPEC.id],
    )) as { id: string }[];
    const list = await t.http
      .get(`${FS}/runs?property=flowId==${flow.id}`)
      .set(tenant.headers)
      .expect(200);
    const res = await t.http
      .get(`${FS}/runs/${run?.id}`)
      .set(tenant.headers)
      .expect(200);
    expect(res.text).toBe(
      JSON.stringify({
        items: (list.body as { items: { id: string }[] }).items.filter(
          (i) => i.id === run?.id,
        ),
      }),
    );
    const other = await createTenant(t);
    await t.http.get(`${FS}/runs/${run?.id}`).set(other.headers).expect(404);
  });

  it('GET by id and the list show the same document, in the contract order, with the latest run', async () => {
    const tenant = await createTenant(t);
    const flow = await createFlow(t, tenant);
    const never = await createFlow(t, tenant, { name: 'never ran' });
    await t.app.get(DataSource).query(
      `INSERT INTO runs (org_id, sandbox_name, sandbox_id, flow_id, flow_spec_id, hour_start, version, metrics)
       VALUES ($1, 'prod', gen_random_uuid(), $2, $3, date_trunc('hour', now()) - interval '5 hours', gen_random_uuid(),
               '{"statusSummary": {"status": "failed"}}'),
              ($1, 'prod', gen_random_uuid(), $2, $3, date_trunc('hour', now()) - interval '2 hours', gen_random_uuid(),
               '{"durationSummary": {"startedAtUTC": 1700000000000, "completedAtUTC": 1700000060000}}')`,
      [tenant.orgId, flow.id, FLOW_SPEC.id],
    );
    const latest = (
      (await t.app
        .get(DataSource)
        .query(
          `SELECT id FROM runs WHERE flow_id = $1 ORDER BY hour_start DESC LIMIT 1`,
          [flow.id],
        )) as { id: string }[]
    )[0]?.id;

    const doc = await getItem(t, tenant, `flows/${flow.id}`);
    expect(Object.keys(doc)).toEqual([
      'id',
      'createdAt',
      'updatedAt',
      'createdBy',
      'updatedBy',
      'createdClient',
      'updatedClient',
      'sandboxId',
      'sandboxName',
      'imsOrgId',
      'name',
      'description',
      'state',
      'version',
      'etag',
      'flowSpec',
      'sourceConnectionIds',
      'targetConnectionIds',
      'inheritedAttributes',
      'transformations',
      'runs',
      'lastOperation',
      'lastRunDetails',
    ]);
    expect(doc).toMatchObject({
      etag: flow.etag,
      version: flow.etag,
      description: 'Azure Event Hubs flow',
      createdAt: expect.any(Number),
      runs: `/runs?property=flowId==${flow.id}`,
      lastRunDetails: {
        id: latest,
        state: 'success',
        startedAtUTC: 1700000000000,
        completedAtUTC: 1700000060000,
      },
    });
    expect(
      (doc.inheritedAttributes as { targetConnections: unknown[] })
        .targetConnections,
    ).toEqual([
      {
        id: flow.destination.target.id,
        connectionSpec: expect.any(Object),
        baseConnection: {
          id: flow.destination.base.id,
          connectionSpec: expect.any(Object),
        },
        params: { eventHubName: 'profiles' },
      },
    ]);
    const created = (doc.createdAt as number) - Date.now();
    expect(Math.abs(created)).toBeLessThan(60_000);

    const bare = await getItem(t, tenant, `flows/${never.id}`);
    expect(bare).not.toHaveProperty('lastRunDetails');

    const list = await t.http
      .get(`${FS}/flows`)
      .query({ orderby: 'name' })
      .set(tenant.headers)
      .expect(200);
    expect((list.body as { items: unknown[] }).items).toEqual([doc, bare]);
  });

  it('sends the JSON a parse and serialize would, for awkward text, numbers and keys', async () => {
    const tenant = await createTenant(t);
    const name = 'q"uote \\ back\u0001ctl\nnew\ttab ☃ \u2028 😀 , : {"x" : 1}';
    const flow = await createFlow(t, tenant, { name });
    const plain = await createFlow(t, tenant, { name: 'plain 1.0' });
    const ds = t.app.get(DataSource);
    // Values PostgreSQL prints differently from JavaScript: a fraction, a
    // large integer, an array-index key (JavaScript moves it first).
    await ds.query(
      `UPDATE flows SET last_operation = '{"b": 1.50, "10": 2, "c": 12345678901234567890, "d": 1e2}' WHERE id = $1`,
      [flow.id],
    );
    await ds.query(
      `INSERT INTO runs (org_id, sandbox_name, sandbox_id, flow_id, flow_spec_id, hour_start, version, metrics)
       VALUES ($1, 'prod', gen_random_uuid(), $2, $3, date_trunc('hour', now()), gen_random_uuid(),
               '{"durationSummary": {"startedAtUTC": 1700000000000.0, "completedAtUTC": 0}}')`,
      [tenant.orgId, flow.id, FLOW_SPEC.id],
    );
    const list = await t.http
      .get(`${FS}/flows`)
      .query({ orderby: 'name' })
      .set(tenant.headers)
      .expect(200);
    expect(list.headers['content-type']).toBe(
      'application/json; charset=utf-8',
    );
    expect(list.headers.etag).toMatch(/^W\/"/);
    expect(list.text).toBe(JSON.stringify(JSON.parse(list.text)));
    const items = (list.body as { items: Record<string, unknown>[] }).items;
    expect(items.map((i) => i.name)).toEqual(['plain 1.0', name]);
    expect(items[1]?.lastOperation).toEqual({
      '10': 2,
      b: 1.5,
      c: 12345678901234567000,
      d: 100,
    });
    expect(items[1]?.lastRunDetails).toMatchObject({
      startedAtUTC: 1700000000000,
    });
    for (const [n, id] of [plain.id, flow.id].entries()) {
      const one = await t.http
        .get(`${FS}/flows/${id}`)
        .set(tenant.headers)
        .expect(200);
      expect(one.text).toBe(JSON.stringify(JSON.parse(one.text)));
      expect(one.headers['content-type']).toBe(
        'application/json; charset=utf-8',
      );
      expect((one.body as { items: unknown[] }).items).toEqual([items[n]]);
    }
  });
});
