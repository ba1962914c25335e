import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyService } from '../../src/idempotency/idempotency.service.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import {
  connectionBody,
  createDestination,
  createProfileConnection,
  EH_SPEC,
  expectError,
  flowBody,
  FS,
  PROFILE_SPEC,
} from '../helpers/resources.js';

const SEGMENTS = '/data/core/ups/segment/definitions';

interface Route {
  name: string;
  path: string;
  table: string;
  status: number;
  /** A valid body for this tenant (creating what it refers to), and a different valid one. */
  bodies(t: TestApp, tenant: TestTenant): Promise<[object, object]>;
}

const ROUTES: Route[] = [
  {
    name: 'connections',
    path: `${FS}/connections`,
    table: 'connections',
    status: 201,
    bodies: () =>
      Promise.resolve([connectionBody(), connectionBody({ name: 'other' })]),
  },
  {
    name: 'sourceConnections',
    path: `${FS}/sourceConnections`,
    table: 'source_connections',
    status: 201,
    bodies: async (t, tenant) => {
      const base = await createProfileConnection(t, tenant);
      const body = {
        name: 'source',
        baseConnectionId: base.id,
        connectionSpec: PROFILE_SPEC,
      };
      return [body, { ...body, name: 'other source' }];
    },
  },
  {
    name: 'targetConnections',
    path: `${FS}/targetConnections`,
    table: 'target_connections',
    status: 201,
    bodies: async (t, tenant) => {
      const res = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(connectionBody())
        .expect(201);
      const body = {
        name: 'target',
        baseConnectionId: (res.body as { id: string }).id,
        connectionSpec: EH_SPEC,
        data: { format: 'json' },
        params: { eventHubName: 'profiles' },
      };
      return [body, { ...body, params: { eventHubName: 'other' } }];
    },
  },
  {
    name: 'flows',
    path: `${FS}/flows`,
    table: 'flows',
    status: 201,
    bodies: async (t, tenant) => {
      const d = await createDestination(t, tenant);
      return [
        flowBody(d.source.id, d.target.id),
        flowBody(d.source.id, d.target.id, { name: 'other flow' }),
      ];
    },
  },
  {
    name: 'segment definitions',
    path: SEGMENTS,
    table: 'segment_definitions',
    status: 200,
    bodies: () => {
      const body = {
        name: 'gold',
        schema: { name: '_xdm.context.profile' },
        expression: {
          type: 'PQL',
          format: 'pql/text',
          value: 'loyalty.tier = "gold"',
        },
      };
      return Promise.resolve([body, { ...body, name: 'silver' }]);
    },
  },
];

/** The same object with its keys in reverse order: the same JSON request. */
function reordered(body: object): object {
  return Object.fromEntries(Object.entries(body).reverse());
}

describe('Idempotency-Key', () => {
  let t: TestApp;
  let ds: DataSource;
  beforeAll(async () => {
    t = await createTestApp({ env: { IDEMPOTENCY_TTL_HOURS: '2' } });
    ds = t.app.get(DataSource);
  });
  afterAll(async () => t?.close());

  async function count(table: string, tenant: TestTenant): Promise<number> {
    const [row] = (await ds.query(
      `SELECT count(*)::int AS n FROM ${table} WHERE org_id = $1`,
      [tenant.orgId],
    )) as { n: number }[];
    return row?.n ?? 0;
  }

  describe.each(ROUTES)('POST $name', (route) => {
    it('replays the original response for the same key and body, creating nothing; another body is a 422', async () => {
      const tenant = await createTenant(t);
      const [body, other] = await route.bodies(t, tenant);
      const before = await count(route.table, tenant);
      const key = randomUUID();
      const first = await t.http
        .post(route.path)
        .set(tenant.headers)
        .set('Idempotency-Key', key)
        .send(body);
      expect(first.status, JSON.stringify(first.body)).toBe(route.status);
      expect(first.headers['idempotent-replayed']).toBeUndefined();

      // Same key, same JSON (keys reordered, key sent as a quoted sf-string).
      const again = await t.http
        .post(route.path)
        .set(tenant.headers)
        .set('Idempotency-Key', `"${key}"`)
        .send(reordered(body));
      expect(again.status).toBe(route.status);
      expect(again.body).toEqual(first.body);
      expect(again.headers.location).toBe(first.headers.location);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(await count(route.table, tenant)).toBe(before + 1);

      const changed = await t.http
        .post(route.path)
        .set(tenant.headers)
        .set('Idempotency-Key', key)
        .send(other);
      expect(changed.status).toBe(422);
      expectError(changed.body, '1100-422', /different request/);
      expect(await count(route.table, tenant)).toBe(before + 1);
    });
  });

  it('without the header, every POST creates (behaviour unchanged)', async () => {
    const tenant = await createTenant(t);
    for (let i = 0; i < 2; i++)
      await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(connectionBody())
        .expect(201);
    expect(await count('connections', tenant)).toBe(2);
  });

  it('refuses an empty, too long or non-ASCII key with 400, creating nothing', async () => {
    const tenant = await createTenant(t);
    for (const key of ['', 'k'.repeat(256), 'clé']) {
      const res = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .set('Idempotency-Key', key)
        .send(connectionBody());
      expect(res.status, key).toBe(400);
      expectError(res.body, '1100-400', /Idempotency-Key/);
    }
    await t.http
      .post(`${FS}/connections`)
      .set(tenant.headers)
      .set('Idempotency-Key', 'k'.repeat(255))
      .send(connectionBody())
      .expect(201);
    expect(await count('connections', tenant)).toBe(1);
  });

  it('does not remember a failure: the key is free for the corrected request', async () => {
    const tenant = await createTenant(t);
    const d = await createDestination(t, tenant);
    const key = randomUUID();
    await t.http
      .post(`${FS}/flows`)
      .set(tenant.headers)
      .set('Idempotency-Key', key)
      .send(flowBody(d.source.id, '00000000-0000-4000-8000-000000000000'))
      .expect(404);
    await t.http
      .post(`${FS}/flows`)
      .set(tenant.headers)
      .set('Idempotency-Key', key)
      .send(flowBody(d.source.id, d.target.id))
      .expect(201);
    expect(await count('flows', tenant)).toBe(1);
  });

  it('answers 409 to the same key while the first request runs, and creates once', async () => {
    const tenant = await createTenant(t);
    const d = await createDestination(t, tenant);
    const body = flowBody(d.source.id, d.target.id);
    const key = randomUUID();
    // Holds the first request inside its transaction (its INSERT waits).
    const blocker = new pg.Client({ connectionString: t.databaseUrl });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE flows IN EXCLUSIVE MODE');
    const first = t.http
      .post(`${FS}/flows`)
      .set(tenant.headers)
      .set('Idempotency-Key', key)
      .send(body)
      .then((r) => r);
    try {
      await expect
        .poll(
          async () =>
            (
              (await ds.query(
                // Waiting on the table lock, so already past its key's lock.
                `SELECT count(*)::int AS n FROM pg_locks
                  WHERE relation = 'flows'::regclass AND NOT granted`,
              )) as { n: number }[]
            )[0]?.n,
          { timeout: 5000 },
        )
        .toBeGreaterThan(0);
      const concurrent = await Promise.all(
        [1, 2, 3].map(() =>
          t.http
            .post(`${FS}/flows`)
            .set(tenant.headers)
            .set('Idempotency-Key', key)
            .send(body),
        ),
      );
      for (const res of concurrent) {
        expect(res.status).toBe(409);
        expectError(res.body, '1100-409', /still being processed/);
        expect(res.headers['retry-after']).toBe('1');
      }
    } finally {
      await blocker.query('COMMIT');
      await blocker.end();
    }
    const created = await first;
    expect(created.status).toBe(201);
    const replay = await t.http
      .post(`${FS}/flows`)
      .set(tenant.headers)
      .set('Idempotency-Key', key)
      .send(body)
      .expect(201);
    expect(replay.body).toEqual(created.body);
    expect(await count('flows', tenant)).toBe(1);
  });

  it('creates once when many requests with one key race', async () => {
    const tenant = await createTenant(t);
    const d = await createDestination(t, tenant);
    const body = flowBody(d.source.id, d.target.id);
    const key = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        t.http
          .post(`${FS}/flows`)
          .set(tenant.headers)
          .set('Idempotency-Key', key)
          .send(body),
      ),
    );
    const ok = results.filter((r) => r.status === 201);
    expect(results.every((r) => [201, 409].includes(r.status))).toBe(true);
    expect(ok.length).toBeGreaterThan(0);
    expect(new Set(ok.map((r) => (r.body as { id: string }).id)).size).toBe(1);
    expect(await count('flows', tenant)).toBe(1);
  });

  it('scopes keys per org, sandbox and client', async () => {
    const a = await createTenant(t, { sandboxes: ['prod', 'dev'] });
    const b = await createTenant(t);
    const key = randomUUID();
    const ids = new Set<string>();
    for (const headers of [
      a.headers,
      { ...a.headers, 'x-sandbox-name': 'dev' },
      b.headers,
    ]) {
      const res = await t.http
        .post(`${FS}/connections`)
        .set(headers)
        .set('Idempotency-Key', key)
        .send(connectionBody())
        .expect(201);
      expect(res.headers['idempotent-replayed']).toBeUndefined();
      ids.add((res.body as { id: string }).id);
    }
    expect(ids.size).toBe(3);
  });

  it('forgets a key after IDEMPOTENCY_TTL_HOURS, and the cleanup deletes expired keys', async () => {
    const tenant = await createTenant(t);
    const key = randomUUID();
    const send = () =>
      t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .set('Idempotency-Key', key)
        .send(connectionBody())
        .expect(201);
    const first = await send();
    const [row] = (await ds.query(
      `SELECT extract(epoch FROM expires_at - created_at)::int AS ttl
         FROM idempotency_keys WHERE org_id = $1 AND key = $2`,
      [tenant.orgId, key],
    )) as { ttl: number }[];
    expect(row?.ttl).toBe(2 * 3600);
    const expire = () =>
      ds.query(
        `UPDATE idempotency_keys SET expires_at = now() - interval '1 second'
          WHERE org_id = $1`,
        [tenant.orgId],
      );

    await expire();
    const second = await send();
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.body).not.toEqual(first.body);
    expect(await count('connections', tenant)).toBe(2);
    // The key starts afresh: a retry now replays the second response.
    expect((await send()).body).toEqual(second.body);

    await expire();
    expect(await t.app.get(IdempotencyService).purgeExpired()).toBeGreaterThan(
      0,
    );
    const left = (await ds.query(
      `SELECT count(*)::int AS n FROM idempotency_keys WHERE org_id = $1`,
      [tenant.orgId],
    )) as { n: number }[];
    expect(left[0]?.n).toBe(0);
  });
});
