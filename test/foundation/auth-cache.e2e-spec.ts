import { SignJWT } from 'jose';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDataSourceOptions } from '../../src/data-source.js';
import { ClientEntity } from '../../src/tenancy/client.entity.js';
import { SandboxEntity } from '../../src/tenancy/sandbox.entity.js';
import { TenancyService } from '../../src/tenancy/tenancy.service.js';
import {
  createTenant,
  createTestApp,
  TEST_SECRETS,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { FS } from '../helpers/resources.js';
import { eventually } from '../helpers/wait.js';

const FLOWS = `${FS}/flows`;

/** Every SQL statement the app sends through TypeORM from now on. */
function recordQueries(t: TestApp): string[] {
  const seen: string[] = [];
  const logger = t.app.get(DataSource).logger;
  const original = logger.logQuery.bind(logger);
  logger.logQuery = (query, parameters, runner) => {
    seen.push(query);
    original(query, parameters, runner);
  };
  return seen;
}

const readsTenancy = (q: string): boolean =>
  /\b(FROM|JOIN)\s+"?(clients|sandboxes)"?/i.test(q);

/** Requests until one is answered from the cache (its LISTEN connection opens on first use). */
async function warm(
  t: TestApp,
  tenant: TestTenant,
  queries: string[],
): Promise<void> {
  await eventually(async () => {
    const from = queries.length;
    await t.http.get(FLOWS).set(tenant.headers).expect(200);
    return !queries.slice(from).some(readsTenancy);
  }, 'a request answered from the auth cache');
}

describe('auth cache', () => {
  let a: TestApp;
  let b: TestApp;
  /** Another process's view: what the CLI or a third replica would change. */
  let other: DataSource;
  let outside: TenancyService;
  let qa: string[];
  let qb: string[];

  beforeAll(async () => {
    a = await createTestApp();
    b = await createTestApp();
    qa = recordQueries(a);
    qb = recordQueries(b);
    other = await new DataSource(
      buildDataSourceOptions(a.databaseUrl, 2),
    ).initialize();
    outside = new TenancyService(
      other.getRepository(ClientEntity),
      other.getRepository(SandboxEntity),
    );
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await other?.destroy();
  });

  it('authenticates a recently seen client without reading clients or sandboxes', async () => {
    const tenant = await createTenant(a);
    await warm(a, tenant, qa);
    const from = qa.length;
    for (let i = 0; i < 5; i++)
      await a.http.get(FLOWS).set(tenant.headers).expect(200);
    const sent = qa.slice(from);
    // The recorder sees the app's statements (the flow list's)...
    expect(sent.some((q) => /"flows"|\bflows\b/.test(q))).toBe(true);
    // ...and none of them reads a client or a sandbox.
    expect(sent.filter(readsTenancy)).toEqual([]);
  });

  it('a secret rotated by another process kills old tokens on every replica within moments', async () => {
    const tenant = await createTenant(a);
    await warm(a, tenant, qa);
    await warm(b, tenant, qb);
    const rotatedAt = Date.now();
    expect(await outside.rotateSecret(tenant.clientId)).not.toBeNull();
    for (const t of [a, b]) {
      await eventually(
        async () =>
          (await t.http.get(FLOWS).set(tenant.headers)).status === 401,
        'the old token refused',
        { timeoutMs: 2_000, intervalMs: 5 },
      );
    }
    // The NOTIFY, not the TTL (a minute by default), ended it.
    expect(Date.now() - rotatedAt).toBeLessThan(2_000);
    const res = await a.http.get(FLOWS).set(tenant.headers).expect(401);
    expect(res.body).toEqual({
      error_code: '401013',
      message: 'Oauth token is not valid',
    });
  });

  it('a rotation through this app refuses the old token on the very next request', async () => {
    const tenant = await createTenant(a);
    await warm(a, tenant, qa);
    await a.app.get(TenancyService).rotateSecret(tenant.clientId);
    await a.http.get(FLOWS).set(tenant.headers).expect(401);
  });

  it('a deleted client and a removed sandbox are refused on every replica', async () => {
    const tenant = await createTenant(a, { sandboxes: ['prod', 'dev'] });
    const dev = { ...tenant.headers, 'x-sandbox-name': 'dev' };
    for (const t of [a, b]) {
      await warm(t, tenant, t === a ? qa : qb);
      await t.http.get(FLOWS).set(dev).expect(200);
    }
    await other.query(
      `DELETE FROM sandboxes WHERE org_id = $1 AND name = 'dev'`,
      [tenant.orgId],
    );
    for (const t of [a, b])
      await eventually(
        async () => (await t.http.get(FLOWS).set(dev)).status === 404,
        'the removed sandbox refused',
        { timeoutMs: 2_000, intervalMs: 5 },
      );
    await a.http.get(FLOWS).set(tenant.headers).expect(200);
    await other.query(`DELETE FROM clients WHERE client_id = $1`, [
      tenant.clientId,
    ]);
    for (const t of [a, b])
      await eventually(
        async () =>
          (await t.http.get(FLOWS).set(tenant.headers)).status === 401,
        'the deleted client refused',
        { timeoutMs: 2_000, intervalMs: 5 },
      );
  });

  it('a token whose signature check is cached is refused once it expires', async () => {
    const tenant = await createTenant(a);
    const secretId = (
      JSON.parse(
        Buffer.from(tenant.token.split('.')[1] ?? '', 'base64url').toString(),
      ) as { sid: string }
    ).sid;
    const expiresAt = Math.floor(Date.now() / 1000) + 2;
    const short = await new SignJWT({
      org: tenant.orgId,
      client_id: tenant.clientId,
      sid: secretId,
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('flowservice-eventhubs')
      .setAudience('platform')
      .setIssuedAt()
      .setExpirationTime(expiresAt)
      .sign(new TextEncoder().encode(TEST_SECRETS.tokenSigningKey));
    const headers = { ...tenant.headers, authorization: `Bearer ${short}` };
    await a.http.get(FLOWS).set(headers).expect(200);
    await a.http.get(FLOWS).set(headers).expect(200);
    await new Promise((r) =>
      setTimeout(r, expiresAt * 1000 - Date.now() + 1100),
    );
    await a.http.get(FLOWS).set(headers).expect(401);
  });

  it('reads the database on every request with AUTH_CACHE_TTL_MS=0', async () => {
    const off = await createTestApp({ env: { AUTH_CACHE_TTL_MS: '0' } });
    try {
      const q = recordQueries(off);
      const tenant = await createTenant(off);
      await off.http.get(FLOWS).set(tenant.headers).expect(200);
      await new Promise((r) => setTimeout(r, 200));
      const from = q.length;
      for (let i = 0; i < 3; i++)
        await off.http.get(FLOWS).set(tenant.headers).expect(200);
      expect(q.slice(from).filter(readsTenancy).length).toBe(6);
    } finally {
      await off.close();
    }
  });
});
