import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import {
  createDestination,
  createFlow,
  createProfileConnection,
  expectError,
  FS,
  segmentSelector,
} from '../helpers/resources.js';

interface Item {
  id: string;
  name: string;
  createdAt: number;
  state: string;
}
interface Page {
  items: Item[];
  _links?: { next?: { href: string } };
}

describe('list parameters', () => {
  let t: TestApp;
  let tenant: TestTenant;
  /** 25 profile-store connections with names c00..c24 created in a shuffled order. */
  let connections: Item[];

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await createTenant(t);
    const names = Array.from(
      { length: 25 },
      (_, i) => `c${String(i).padStart(2, '0')}`,
    );
    const shuffled = [...names].sort(
      (a, b) => ((a.charCodeAt(2) * 7) % 11) - ((b.charCodeAt(2) * 7) % 11),
    );
    for (const name of shuffled) {
      await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send({
          name,
          connectionSpec: {
            id: '8a9c3494-9708-43d7-ae3f-cda01e5030e1',
            version: '1.0',
          },
        })
        .expect(201);
    }
    const all = await list('connections?limit=100');
    connections = all.items;
  });
  afterAll(async () => t.close());

  async function list(query: string, who = tenant): Promise<Page> {
    const res = await t.http.get(`${FS}/${query}`).set(who.headers);
    expect(res.status, `${query}: ${JSON.stringify(res.body)}`).toBe(200);
    return res.body as Page;
  }
  async function bad(query: string, code: string): Promise<void> {
    const res = await t.http.get(`${FS}/${query}`).set(tenant.headers);
    expect(res.status, `${query}: ${JSON.stringify(res.body)}`).toBe(400);
    expectError(res.body, code);
  }

  describe('limit and continuationToken', () => {
    it('defaults to 20 items and links to the next page', async () => {
      expect(connections).toHaveLength(25);
      const page = await list('connections');
      expect(page.items).toHaveLength(20);
      expect(page._links?.next?.href).toMatch(
        /^\/data\/foundation\/flowservice\/connections\?.*continuationToken=/,
      );
      const second = await list(page._links!.next!.href.replace(`${FS}/`, ''));
      expect(second.items).toHaveLength(5);
      expect(second._links).toBeUndefined();
    });

    it('pages through every item exactly once', async () => {
      const seen: string[] = [];
      let query: string | undefined = 'connections?orderby=name&limit=7';
      let pages = 0;
      while (query) {
        const page = await list(query);
        pages++;
        seen.push(...page.items.map((i) => i.name));
        query = page._links?.next?.href.replace(`${FS}/`, '');
      }
      expect(pages).toBe(4);
      expect(seen).toEqual(connections.map((c) => c.name).sort());
    });

    it('keeps a token valid whatever order the parameters came in', async () => {
      const first = await list('connections?orderby=-name&limit=10');
      const token = new URL(
        first._links!.next!.href,
        'http://x',
      ).searchParams.get('continuationToken')!;
      const next = await list(
        `connections?continuationToken=${encodeURIComponent(token)}&limit=10&orderby=-name`,
      );
      expect(next.items.map((i) => i.name)).toEqual(
        Array.from(
          { length: 10 },
          (_, i) => `c${String(14 - i).padStart(2, '0')}`,
        ),
      );
    });

    it('rejects bad limits and tampered or foreign tokens', async () => {
      for (const limit of ['0', '101', 'abc', '-1', '1.5']) {
        const res = await t.http
          .get(`${FS}/connections?limit=${limit}`)
          .set(tenant.headers);
        expect(res.status, `limit=${limit}`).toBe(400);
        expect(res.body.code).toMatch(/^14\d\d-400$|^1100-400$/);
        // One problem, said once: not "… (and 2 more)".
        expect(res.body.message).toBe(
          'Invalid request: limit must be a whole number from 1 to 100',
        );
      }
      const count = await t.http
        .get(`${FS}/connections?count=yes`)
        .set(tenant.headers);
      expect(count.status).toBe(400);
      expect(count.body.message).toBe(
        'Invalid request: count must be true or false',
      );
      const first = await list('connections?limit=5');
      const href = first._links!.next!.href;
      const token = new URL(href, 'http://x').searchParams.get(
        'continuationToken',
      )!;
      const tampered = Buffer.from(
        JSON.stringify({
          ...JSON.parse(Buffer.from(token, 'base64url').toString()),
          o: 1,
          h: 'forged',
        }),
      ).toString('base64url');
      for (const tok of [tampered, 'garbage', `${token}x`, '%%%']) {
        const res = await t.http
          .get(`${FS}/connections`)
          .query({ limit: 5, continuationToken: tok })
          .set(tenant.headers);
        expect(res.status, tok).toBe(400);
        expectError(res.body, '1451-400');
      }
      // A token from one query is not valid for another.
      await bad(
        `connections?limit=5&orderby=name&continuationToken=${token}`,
        '1451-400',
      );
      expect(href).toContain('limit=5');
      await list('connections?limit=100');
      await list('connections?limit=1');
    });
  });

  describe('empty parameters', () => {
    it('treats an empty value as not given, on every list', async () => {
      const t2 = await createTenant(t);
      await createFlow(t, t2);
      for (const resource of [
        'connections',
        'sourceConnections',
        'targetConnections',
        'flows',
        'runs',
        'connectionSpecs',
        'flowSpecs',
      ]) {
        const plain = await list(resource, t2);
        const empty = await list(
          `${resource}?property=&limit=&orderby=&continuationToken=&count=false`,
          t2,
        );
        expect(empty, resource).toEqual(plain);
        const counted = await t.http
          .get(`${FS}/${resource}?count=true&limit=&property=`)
          .set(t2.headers);
        expect(counted.status, resource).toBe(200);
        expect(counted.body).toEqual({ count: plain.items.length });
      }
      const specs = await list('connectionSpecs?property=', t2);
      expect(specs.items).toHaveLength(2);
      // An empty `property` beside a real one is dropped, the real one applies.
      const named = await list(
        'connections?property=&property=name==c07&orderby=',
      );
      expect(named.items.map((i) => i.name)).toEqual(['c07']);
      // The default page size, and a next page, as without the parameters.
      const page = await list('connections?limit=&continuationToken=');
      expect(page.items).toHaveLength(20);
      expect(page._links?.next?.href).toBeDefined();
    });
  });

  describe('orderby', () => {
    it('sorts by name ascending, +name, -name, -createdAt and several fields', async () => {
      const names = connections.map((c) => c.name).sort();
      expect(
        (await list('connections?orderby=name&limit=100')).items.map(
          (i) => i.name,
        ),
      ).toEqual(names);
      expect(
        (await list('connections?orderby=%2Bname&limit=100')).items.map(
          (i) => i.name,
        ),
      ).toEqual(names);
      expect(
        (await list('connections?orderby=-name&limit=100')).items.map(
          (i) => i.name,
        ),
      ).toEqual([...names].reverse());
      const byCreated = (
        await list('connections?orderby=-createdAt&limit=100')
      ).items.map((i) => i.createdAt);
      expect(byCreated).toEqual([...byCreated].sort((a, b) => b - a));
      const multi = (
        await list('connections?orderby=state,-name&limit=100')
      ).items.map((i) => i.name);
      expect(multi).toEqual([...names].reverse());
    });

    it('1433-400 for an unknown field', async () => {
      await bad('connections?orderby=bogus', '1433-400');
      await bad('connections?orderby=name,-bogus', '1433-400');
    });
  });

  describe('count', () => {
    it('returns only {count} for the filtered items; 1401-400 with limit', async () => {
      const res = await t.http
        .get(`${FS}/connections?count=true`)
        .set(tenant.headers)
        .expect(200);
      expect(res.body).toEqual({ count: 25 });
      const filtered = await t.http
        .get(`${FS}/connections?count=true&property=name==c01,c02,c03`)
        .set(tenant.headers)
        .expect(200);
      expect(filtered.body).toEqual({ count: 3 });
      await bad('connections?count=true&limit=5', '1401-400');
      const notCount = await list('connections?count=false&limit=2');
      expect(notCount.items).toHaveLength(2);
    });
  });

  describe('property filters', () => {
    it('==, != and comma any-of', async () => {
      expect(
        (await list('connections?property=name==c07')).items.map((i) => i.name),
      ).toEqual(['c07']);
      expect(
        (
          await list('connections?property=name==c07,c09,c99&orderby=name')
        ).items.map((i) => i.name),
      ).toEqual(['c07', 'c09']);
      const notEq = await list('connections?property=name!=c07,c09&limit=100');
      expect(notEq.items).toHaveLength(23);
      expect(notEq.items.map((i) => i.name)).not.toContain('c07');
      const id = connections[3]!.id;
      expect(
        (await list(`connections?property=id==${id}`)).items.map((i) => i.id),
      ).toEqual([id]);
    });

    it('>= and < on createdAt, nested paths, several filters AND-ed', async () => {
      const sorted = [...connections].sort((a, b) => a.createdAt - b.createdAt);
      const pivot = sorted[12]!.createdAt;
      const after = await list(
        `connections?property=createdAt>=${pivot}&limit=100`,
      );
      expect(after.items.length).toBeGreaterThan(0);
      expect(after.items.every((i) => i.createdAt >= pivot)).toBe(true);
      expect(after.items.length).toBe(
        connections.filter((c) => c.createdAt >= pivot).length,
      );
      const before = await list(
        `connections?property=createdAt<${pivot}&limit=100`,
      );
      expect(before.items.length + after.items.length).toBe(25);
      const nested = await list(
        'connections?property=connectionSpec.id==8a9c3494-9708-43d7-ae3f-cda01e5030e1&limit=100',
      );
      expect(nested.items).toHaveLength(25);
      const none = await list(
        'connections?property=connectionSpec.id==bf9f5905-92b7-48bf-bf20-455bc6b60a4e',
      );
      expect(none.items).toEqual([]);
      const anded = await list(
        'connections?property=name==c01,c02,c03&property=name!=c02&orderby=name',
      );
      expect(anded.items.map((i) => i.name)).toEqual(['c01', 'c03']);
      // String comparison is case-insensitive (Adobe's examples mix `Failed` and `failed`).
      expect(
        (await list('connections?property=state==ENABLED&limit=100')).items,
      ).toHaveLength(25);
    });

    it('filters flows inside arrays: segment ids and sourceConnectionIds[]', async () => {
      const flowTenant = await createTenant(t);
      const d = await createDestination(t, flowTenant);
      const d2 = await createDestination(t, flowTenant);
      const seg = randomUUID();
      const other = randomUUID();
      const withSeg = (ids: string[]) => ({
        transformations: [
          {
            name: 'GeneralTransform',
            params: {
              segmentSelectors: {
                selectors: ids.map((id) => segmentSelector(id)),
              },
            },
          },
        ],
      });
      await createFlow(
        t,
        flowTenant,
        { name: 'a', ...withSeg([other, seg]) },
        d,
      );
      const b = await createFlow(
        t,
        flowTenant,
        { name: 'b', ...withSeg([other]) },
        d,
      );
      const c = await createFlow(
        t,
        flowTenant,
        { name: 'c', ...withSeg([seg]) },
        d2,
      );
      await t.http
        .post(`${FS}/flows/${b.id}/action?op=disable`)
        .set(flowTenant.headers)
        .expect(200);
      const q = (query: string) =>
        list(`flows?${query}&orderby=name`, flowTenant).then((p) =>
          p.items.map((i) => i.name),
        );
      expect(
        await q(
          `property=transformations[].params.segmentSelectors.selectors[].value.id==${seg}`,
        ),
      ).toEqual(['a', 'c']);
      expect(await q(`property=sourceConnectionIds[]==${d.source.id}`)).toEqual(
        ['a', 'b'],
      );
      expect(
        await q(`property=sourceConnectionIds[]==${d2.source.id},${MISSING}`),
      ).toEqual(['c']);
      expect(await q('property=state==disabled')).toEqual(['b']);
      expect(
        await q(
          `property=transformations[].params.segmentSelectors.selectors[].value.id==${seg}&property=state==enabled&property=targetConnectionIds[]==${d.target.id}`,
        ),
      ).toEqual(['a']);
      expect(
        await q(
          'property=inheritedAttributes.properties.isDestinationFlow==true',
        ),
      ).toEqual(['a', 'b', 'c']);
      expect(
        await q(
          `property=inheritedAttributes.targetConnections[].connectionSpec.id==bf9f5905-92b7-48bf-bf20-455bc6b60a4e`,
        ),
      ).toEqual(['a', 'b', 'c']);
      expect(c.id).toBeDefined();
    });

    it('400 for unknown fields, bad operators, empty values and unknown parameters', async () => {
      await bad('connections?property=bogus==1', '1449-400');
      await bad('connections?property=name~c01', '1450-400');
      await bad('connections?property=name!>c01', '1450-400');
      await bad('connections?property=name=c01', '1450-400');
      await bad('connections?property=name', '1451-400');
      await bad('connections?property=name==', '1451-400');
      await bad('connections?property=createdAt>=1,2', '1450-400');
      await bad('connections?property=createdAt>=yesterday', '1450-400');
      await bad('connections?testParam=1', '1451-400');
      await bad('flows?start=0', '1451-400');
    });

    it('applies to every list endpoint', async () => {
      const t2 = await createTenant(t);
      await createProfileConnection(t, t2);
      for (const resource of [
        'connections',
        'sourceConnections',
        'targetConnections',
        'flows',
        'runs',
        'connectionSpecs',
        'flowSpecs',
      ]) {
        const res = await t.http
          .get(`${FS}/${resource}?property=bogus==1`)
          .set(t2.headers);
        expect(res.status, resource).toBe(400);
        const count = await t.http
          .get(`${FS}/${resource}?count=true`)
          .set(t2.headers)
          .expect(200);
        expect(count.body).toEqual({ count: expect.any(Number) });
      }
      const specs = await list(
        'connectionSpecs?property=name==Azure Event Hubs',
        t2,
      );
      expect(specs.items.map((i) => i.id)).toEqual([
        'bf9f5905-92b7-48bf-bf20-455bc6b60a4e',
      ]);
    });
  });
});

const MISSING = '00000000-0000-4000-8000-000000000000';
