import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { listDocuments } from '../../src/common/listing.js';
import {
  connectionBody,
  createDestination,
  createFlow,
  createProfileConnection,
  expectError,
  FLOW_SPEC,
  FS,
  segmentSelector,
} from '../helpers/resources.js';

interface Item {
  id: string;
  name: string;
  state: string;
  flowId?: string;
}
interface Page {
  items: Item[];
  _links?: { next?: { href: string } };
}

describe('lists in PostgreSQL with keyset pages', () => {
  let t: TestApp;
  let ds: DataSource;

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
  });
  afterAll(async () => t.close());

  async function list(query: string, who: TestTenant): Promise<Page> {
    const res = await t.http.get(`${FS}/${query}`).set(who.headers);
    expect(res.status, `${query}: ${JSON.stringify(res.body)}`).toBe(200);
    return res.body as Page;
  }

  async function create(who: TestTenant, name: string): Promise<string> {
    const res = await t.http
      .post(`${FS}/connections`)
      .set(who.headers)
      .send({
        name,
        connectionSpec: {
          id: '8a9c3494-9708-43d7-ae3f-cda01e5030e1',
          version: '1.0',
        },
      });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return (res.body as { id: string }).id;
  }

  async function remove(who: TestTenant, id: string): Promise<void> {
    await t.http.delete(`${FS}/connections/${id}`).set(who.headers).expect(202);
  }

  /** Every item of a list, following `_links.next`, while `between` runs after each page. */
  async function pageThrough(
    who: TestTenant,
    first: string,
    between: () => Promise<void>,
  ): Promise<string[]> {
    const seen: string[] = [];
    let query: string | undefined = first;
    while (query) {
      const page = await list(query, who);
      seen.push(...page.items.map((i) => i.id));
      query = page._links?.next?.href.replace(`${FS}/`, '');
      if (query) await between();
    }
    return seen;
  }

  it('sees every item that existed throughout exactly once while items are created and deleted', async () => {
    for (const orderby of ['', '&orderby=name', '&orderby=-name,createdAt']) {
      const who = await createTenant(t);
      const initial: string[] = [];
      for (let i = 0; i < 30; i++)
        initial.push(await create(who, `m${String(i).padStart(2, '0')}`));
      const deleted = new Set<string>();
      const created: string[] = [];
      let n = 0;
      // After each page: delete an item (one already seen, and one not yet
      // seen) and create two, one sorting before everything and one after.
      const seen = await pageThrough(
        who,
        `connections?limit=4${orderby}`,
        async () => {
          n++;
          const victims = [initial[n - 1], initial[29 - n]].filter(
            (id): id is string => !!id && !deleted.has(id),
          );
          for (const id of victims) {
            await remove(who, id);
            deleted.add(id);
          }
          created.push(await create(who, `a${n}`));
          created.push(await create(who, `z${n}`));
        },
      );
      expect(n).toBeGreaterThan(3);
      const throughout = initial.filter((id) => !deleted.has(id));
      const counts = new Map<string, number>();
      for (const id of seen) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (const id of throughout)
        expect(counts.get(id), `${orderby}: ${id}`).toBe(1);
      for (const [id, c] of counts) expect(c, `${orderby}: ${id}`).toBe(1);
      expect(
        seen.every((id) => initial.includes(id) || created.includes(id)),
      ).toBe(true);
    }
  });

  it('holds under writes running at the same time as the paging', async () => {
    const who = await createTenant(t);
    const initial: string[] = [];
    for (let i = 0; i < 40; i++) initial.push(await create(who, `p${i}`));
    const doomed = initial.filter((_, i) => i % 3 === 0);
    let paging = true;
    const writer = (async () => {
      let i = 0;
      while (paging || i < doomed.length) {
        const victim = doomed[i++];
        if (victim) await remove(who, victim);
        await create(who, `w${i}`);
        if (i > 200) break;
      }
    })();
    const seen = await pageThrough(who, 'connections?limit=3', async () => {
      await new Promise((r) => setTimeout(r, 5));
    });
    paging = false;
    await writer;
    const counts = new Map<string, number>();
    for (const id of seen) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const [id, c] of counts) expect(c, id).toBe(1);
    for (const id of initial.filter((x) => !doomed.includes(x)))
      expect(counts.get(id), id).toBe(1);
  });

  it('lists and counts every run, filters them in SQL and pages them by keyset', async () => {
    const who = await createTenant(t);
    const flowA = randomUUID();
    const flowB = randomUUID();
    // 10,050 runs: 50 of flow A (hourly, the newest failed), 10,000 of flow B.
    await ds.query(
      `INSERT INTO runs (org_id, sandbox_name, sandbox_id, flow_id, flow_spec_id, hour_start, version, metrics, created_at)
       SELECT $1, 'prod', gen_random_uuid(), CASE WHEN g <= 50 THEN $2::uuid ELSE $3::uuid END, $4,
              date_trunc('hour', now()) - (g || ' hours')::interval, gen_random_uuid(),
              CASE WHEN g = 1 THEN '{"statusSummary": {"status": "failed"}, "recordSummary": {"outputRecordCount": 7}}'::jsonb
                   ELSE jsonb_build_object('recordSummary', jsonb_build_object('outputRecordCount', g)) END,
              now() - (g || ' hours')::interval
       FROM generate_series(1, 10050) g`,
      [who.orgId, flowA, flowB, FLOW_SPEC.id],
    );
    const count = async (query: string): Promise<number> => {
      const res = await t.http
        .get(`${FS}/runs?count=true${query}`)
        .set(who.headers)
        .expect(200);
      return (res.body as { count: number }).count;
    };
    expect(await count('')).toBe(10050);
    expect(await count(`&property=flowId==${flowA}`)).toBe(50);
    expect(
      await count(`&property=flowId==${flowA.toUpperCase()},${flowB}`),
    ).toBe(10050);
    expect(await count(`&property=flowId!=${flowA}`)).toBe(10000);
    expect(await count('&property=flowId==not-an-id')).toBe(0);
    expect(await count('&property=state==FAILED')).toBe(1);
    expect(await count('&property=state==success')).toBe(10049);
    expect(await count('&property=state==processing')).toBe(0);
    expect(await count('&property=state!=success,processing')).toBe(1);
    expect(await count('&property=state>processing')).toBe(10049);
    expect(await count('&property=metrics.statusSummary.status==Failed')).toBe(
      1,
    );
    expect(
      await count('&property=metrics.recordSummary.outputRecordCount>10040'),
    ).toBe(10);
    expect(
      await count('&property=metrics.recordSummary.outputRecordCount<=7'),
    ).toBe(7);
    const oldest = await list(
      `runs?property=flowId==${flowA}&orderby=createdAt&limit=1`,
      who,
    );
    expect(oldest.items).toHaveLength(1);

    // The default order (newest first), page by page over one flow's runs.
    const seen: string[] = [];
    let query: string | undefined = `runs?property=flowId==${flowA}&limit=15`;
    while (query) {
      const page = await list(query, who);
      for (const r of page.items) expect(r.flowId).toBe(flowA);
      seen.push(...page.items.map((r) => r.id));
      query = page._links?.next?.href.replace(`${FS}/`, '');
    }
    expect(seen).toHaveLength(50);
    expect(new Set(seen).size).toBe(50);
    const first = await list(`runs?property=flowId==${flowA}&limit=1`, who);
    expect(first.items[0]?.state).toBe('failed');
    expect(first.items[0]?.id).toBe(seen[0]);
    expect(oldest.items[0]?.id).toBe(seen[49]);
  });

  it('rejects a token whose position was forged, and one from another query', async () => {
    const who = await createTenant(t);
    for (let i = 0; i < 3; i++) await createProfileConnection(t, who);
    const page = await list('connections?limit=1&orderby=name', who);
    const token = new URL(page._links!.next!.href, 'http://x').searchParams.get(
      'continuationToken',
    )!;
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString()) as {
      k: unknown[];
      i: string;
      h: string;
    };
    for (const forged of [
      { ...decoded, i: 'not-an-id' },
      { ...decoded, k: [] },
      { ...decoded, k: [{ sql: 1 }] },
      { ...decoded, h: 'other' },
    ]) {
      const res = await t.http
        .get(`${FS}/connections`)
        .query({
          limit: 1,
          orderby: 'name',
          continuationToken: Buffer.from(JSON.stringify(forged)).toString(
            'base64url',
          ),
        })
        .set(who.headers);
      expect(res.status, JSON.stringify(forged)).toBe(400);
      expectError(res.body, '1451-400');
    }
    const byDate = await t.http
      .get(`${FS}/connections`)
      .query({ limit: 1, orderby: '-createdAt', continuationToken: token })
      .set(who.headers);
    expect(byDate.status).toBe(400);
  });
});

describe('filters in SQL see what the response shows', () => {
  let t: TestApp;
  let who: TestTenant;

  beforeAll(async () => {
    t = await createTestApp();
    who = await createTenant(t);
  });
  afterAll(async () => t.close());

  async function all(resource: string): Promise<Record<string, unknown>[]> {
    const res = await t.http
      .get(`${FS}/${resource}?limit=100`)
      .set(who.headers)
      .expect(200);
    return (res.body as { items: Record<string, unknown>[] }).items;
  }

  it('agrees with the same filters applied to the returned documents', async () => {
    const d1 = await createDestination(t, who);
    const d2 = await createDestination(t, who);
    await t.http
      .post(`${FS}/connections`)
      .set(who.headers)
      .send(connectionBody({ name: 'Other NS', description: 'Mixed Case' }))
      .expect(201);
    const seg = 'Segment-ABC';
    const f1 = await createFlow(
      t,
      who,
      {
        name: 'Alpha',
        transformations: [
          {
            name: 'GeneralTransform',
            params: {
              profileSelectors: {
                selectors: [
                  { type: 'JSON_PATH', value: { path: 'person.name' } },
                ],
              },
              segmentSelectors: { selectors: [segmentSelector(seg)] },
            },
          },
        ],
      },
      d1,
    );
    await createFlow(t, who, { name: 'beta' }, d2);
    await t.http
      .post(`${FS}/flows/${f1.id}/action?op=disable`)
      .set(who.headers)
      .expect(200);
    const ds = t.app.get(DataSource);
    await ds.query(
      `INSERT INTO runs (org_id, sandbox_name, sandbox_id, flow_id, flow_spec_id, hour_start, version, metrics)
       VALUES ($1, 'prod', gen_random_uuid(), $2, $3, date_trunc('hour', now()), gen_random_uuid(),
               '{"recordSummary": {"outputRecordCount": 3, "targetSummaries": [{"entitySummaries": [{"id": "segment:x1", "outputRecordCount": 3}]}]}, "durationSummary": {"startedAtUTC": 1700000000000}}'),
              ($1, 'prod', gen_random_uuid(), $2, $3, date_trunc('hour', now()) - interval '3 hours', gen_random_uuid(),
               '{"statusSummary": {"status": "failed", "errors": [{"code": "X"}]}}')`,
      [who.orgId, f1.id, FLOW_SPEC.id],
    );
    const cases: Record<string, string[]> = {
      connections: [
        'auth.params.namespace==127.0.0.1:1',
        'auth.params.sasKey==********',
        'auth.specName!=Azure EventHub authentication credentials',
        'auth.params.sasKeyName>R',
        'description==mixed case',
        'connectionSpec.version==1.0',
        'connectionSpec==x',
        'connectionSpec!=x',
        `id>${d1.base.id}`,
        `id<=${d2.base.id}`,
        'name<Other',
      ],
      targetConnections: [
        'params.eventHubName==PROFILES',
        'params.eventHubName!=profiles',
        'data.format==json',
        `baseConnectionId==${d2.base.id},nope`,
        `baseConnectionId!=${d2.base.id}`,
      ],
      sourceConnections: [
        `baseConnectionId==${d1.profileBase.id}`,
        'params.missing!=1',
        'params.missing==1',
      ],
      flows: [
        `transformations[].params.segmentSelectors.selectors[].value.id==${seg.toLowerCase()}`,
        `transformations[].params.segmentSelectors.selectors[].value.id!=${seg}`,
        'transformations[].params.segmentSelectors.selectors[].value.id>Segment',
        'transformations[].params.profileSelectors.selectors[].value.path==person.name',
        'transformations[].params.profileSelectors.selectors[].value.operator==exists',
        'transformations[].name==generaltransform',
        'lastOperation.operation==disable',
        'lastRunDetails.state==processing',
        'lastRunDetails.startedAtUTC>=1700000000000',
        'lastRunDetails.completedAtUTC==0',
        'lastRunDetails.id!=00000000-0000-0000-0000-000000000000',
        'inheritedAttributes.sourceConnections[].typeInfo.type==profilefragments',
        'inheritedAttributes.targetConnections[].params.eventHubName==profiles',
        `inheritedAttributes.targetConnections[].baseConnection.id==${d1.base.id}`,
        'inheritedAttributes.properties.isDestinationFlow==TRUE',
        'inheritedAttributes.properties.isDestinationFlow!=true',
        'inheritedAttributes.properties.isDestinationFlow>true',
        `sourceConnectionIds[]>${d1.source.id}`,
        `targetConnectionIds[]!=${d1.target.id}`,
        'flowSpec.id==71471EBA-B620-49E4-90FD-23F1FA0174D8',
        'state!=enabled',
        'state==Disabled,enabled',
        'state>e',
      ],
      runs: [
        'metrics.recordSummary.outputRecordCount==3',
        'metrics.recordSummary.targetSummaries[].entitySummaries[].id==segment:X1',
        'metrics.durationSummary.startedAtUTC==1700000000000',
        'metrics.durationSummary.completedAtUTC<1',
        'metrics.statusSummary.errors[].code==x',
        'metrics.statusSummary.status!=failed',
        'state==processing,failed',
        'flowSpec.version==1.0',
        `flowId==${f1.id}`,
      ],
    };
    for (const [resource, filters] of Object.entries(cases)) {
      const docs = await all(resource);
      expect(docs.length, resource).toBeGreaterThan(0);
      for (const filter of filters) {
        const res = await t.http
          .get(`${FS}/${resource}`)
          .query({ property: filter, limit: 100 })
          .set(who.headers);
        expect(res.status, `${resource} ${filter}`).toBe(200);
        const root = filter.split(/[.[=!<>]/)[0] ?? '';
        const expected = listDocuments(
          docs,
          { property: [filter], limit: 100 },
          { filterable: [root], sortable: ['createdAt'] },
          '',
        ) as { items: Record<string, unknown>[] };
        const ids = (items: Record<string, unknown>[]) =>
          items.map((i) => String(i.id)).sort((a, b) => a.localeCompare(b));
        expect(
          ids((res.body as { items: Record<string, unknown>[] }).items),
          `${resource} ${filter}`,
        ).toEqual(ids(expected.items));
      }
    }
  });
});
