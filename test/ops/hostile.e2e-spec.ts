import { request as httpRequest, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
  EventHubsEmulator,
} from '../../src/emulator/index.js';
import { TenancyService } from '../../src/tenancy/tenancy.service.js';
import { freePort } from '../global-setup.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import {
  connectionBody,
  createConnection,
  createTarget,
  EH_AUTH,
  ehAuthParams,
  expectError,
  FS,
  MISSING_ID,
} from '../helpers/resources.js';

const INGEST = '/data/core/ups/ingest/profiles';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const MB = 1024 * 1024;

interface UploadOutcome {
  status: number;
  ms: number;
  /** Bytes the client managed to write before the answer came. */
  sent: number;
}

/**
 * Streams `total` bytes of NDJSON to `path` at the speed the server reads
 * them, and stops writing once the answer arrives.
 */
function upload(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  total: number,
): Promise<UploadOutcome> {
  const chunk = Buffer.alloc(MB, '{"a":1}\n');
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          'content-type': 'application/x-ndjson',
          'content-length': String(total),
          ...headers,
        },
      },
      (res) => {
        answered = true;
        res.resume();
        res.once('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ms: performance.now() - started,
            sent,
          }),
        );
      },
    );
    // The server may close the connection while we still write: expected.
    req.on('error', (err) => (answered ? undefined : reject(err)));
    const pump = (): void => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe('hostile input: nothing is read before the caller is known', () => {
  let t: TestApp;
  let tenant: TestTenant;
  let port: number;
  let server: Server;

  beforeAll(async () => {
    t = await createTestApp({ env: { METRICS_TOKEN } });
    tenant = await createTenant(t);
    server = t.app.getHttpServer() as Server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => t.close());

  it('answers huge anonymous and unauthorized uploads without reading them, and writes nothing', async () => {
    const ds = t.app.get(DataSource);
    const rateRows = async (): Promise<number> =>
      Number(
        (
          (await ds.query(
            `SELECT count(*)::int AS n FROM rate_limit_windows WHERE bucket = $1`,
            [`client:${tenant.clientId}`],
          )) as { n: number }[]
        )[0]?.n,
      );
    const profiles = async (): Promise<number> =>
      Number(
        (
          (await ds.query(
            `SELECT count(*)::int AS n FROM profiles WHERE org_id = $1`,
            [tenant.orgId],
          )) as { n: number }[]
        )[0]?.n,
      );
    const before = { rate: await rateRows(), profiles: await profiles() };
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(
      () => (peak = Math.max(peak, process.memoryUsage().rss)),
      10,
    );
    const wrongOrg = { ...tenant.headers, 'x-gw-ims-org-id': 'X@AdobeOrg' };
    const size = 200 * MB;
    try {
      const outcomes = await Promise.all([
        upload(port, 'POST', INGEST, {}, size),
        upload(port, 'POST', INGEST, { authorization: 'Bearer nope' }, size),
        upload(port, 'POST', INGEST, wrongOrg, size),
        upload(port, 'GET', '/health', {}, size),
        // Not a route that takes NDJSON: refused on its content type.
        upload(port, 'POST', '/nowhere', {}, size),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual([403, 401, 403, 200, 400]);
      for (const o of outcomes) {
        expect(o.ms).toBeLessThan(5000);
        // Far less than the body: only what the sockets buffered.
        expect(o.sent).toBeLessThan(size / 4);
      }
    } finally {
      clearInterval(sampler);
    }
    expect(peak - rssBefore).toBeLessThan(100 * MB);
    expect({ rate: await rateRows(), profiles: await profiles() }).toEqual(
      before,
    );
  });

  it('still reads an authenticated NDJSON body', async () => {
    const res = await t.http
      .post(INGEST)
      .set(tenant.headers)
      .set('content-type', 'application/x-ndjson')
      .send(
        `${JSON.stringify({ identityMap: { email: [{ id: `nd-${tenant.clientId}@example.com` }] } })}\n`,
      );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ accepted: 1 });
  });

  it('admits a Platform route however Express matched it (case, trailing slash)', async () => {
    const res = await t.http
      .post(`${FS.toUpperCase()}/connections/`)
      .set(tenant.headers)
      .send(connectionBody());
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });

  it('reads at most a few KB of a token request', async () => {
    const res = await t.http
      .post('/ims/token/v3')
      .type('form')
      .send({ grant_type: 'client_credentials', pad: 'x'.repeat(20_000) });
    expect(res.status).toBe(413);
  });

  describe('JSON shape, bounded where bodies are parsed', () => {
    const deep = (n: number): string =>
      `{"a":${'['.repeat(n)}${']'.repeat(n)}}`;

    it.each([
      ['POST', `${FS}/connections`],
      ['POST', `${FS}/flows`],
      ['PATCH', `${FS}/flows/${MISSING_ID}`],
      ['PATCH', `${FS}/connections/${MISSING_ID}`],
      ['POST', INGEST],
      ['POST', '/data/core/ups/segment/definitions'],
    ])('%s %s: 5,000 levels is a 400', async (method, path) => {
      const res = await t.http[method === 'POST' ? 'post' : 'patch'](path)
        .set(tenant.headers)
        .set('if-match', '"1"')
        .set('content-type', 'application/json')
        .send(deep(5000));
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expectError(res.body, '1100-400', /nested too deeply/);
    });

    it('the limit is BODY_MAX_DEPTH (64): 64 levels reach validation, 65 do not', async () => {
      const at = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .set('content-type', 'application/json')
        .send(deep(63));
      expect(at.status).toBe(400);
      expect((at.body as { message: string }).message).not.toMatch(
        /nested too deeply/,
      );
      const over = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .set('content-type', 'application/json')
        .send(deep(64));
      expectError(over.body, '1100-400', /nested too deeply/);
    });

    it("an NDJSON line nested too deeply is that line's rejection (its neighbours are stored), and a deep token request is a 400", async () => {
      const nd = await t.http
        .post(INGEST)
        .set(tenant.headers)
        .set('content-type', 'application/x-ndjson')
        .send(
          `{"identityMap":{"email":[{"id":"deep-ok@x.io"}]}}\n${deep(5000)}\n`,
        );
      expect(nd.status).toBe(207);
      expect(nd.body).toMatchObject({ accepted: 1, rejected: 1 });
      expect(
        (nd.body as { results: { line: number; reason?: string }[] })
          .results[1],
      ).toMatchObject({
        line: 2,
        reason: expect.stringMatching(/nested deeper than/),
      });
      const token = await t.http
        .post('/ims/token/v3')
        .set('content-type', 'application/json')
        .send(deep(2000));
      expect(token.status).toBe(400);
    });

    it('a JSON string body is a 400, not NDJSON text past the 1,000-record limit', async () => {
      const lines = Array.from({ length: 1001 }, (_, i) =>
        JSON.stringify({
          identityMap: { email: [{ id: `s${i}@example.com` }] },
        }),
      ).join('\n');
      const res = await t.http
        .post(INGEST)
        .set(tenant.headers)
        .set('content-type', 'application/json')
        .send(JSON.stringify(lines));
      expect(res.status).toBe(400);
      expectError(res.body, '1100-400', /not a string/);
    });
  });

  describe('namespaces name Event Hubs, not arbitrary hosts', () => {
    it.each([
      'evil.example.com',
      'attacker.servicebus.windows.net.example.com',
      '10.0.0.1',
      '10.0.0.1:8080',
      '169.254.169.254:80',
      'example.com:5671',
      'a.b.servicebus.windows.net',
    ])('%s is a 400 at create', async (namespace) => {
      const res = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(
          connectionBody({
            auth: { specName: EH_AUTH, params: ehAuthParams({ namespace }) },
          }),
        );
      expect(res.status).toBe(400);
      expectError(res.body, '1100-400', /namespace/);
      expect(res.body).toMatchObject({
        details: [{ path: 'auth.params.namespace' }],
      });
    });

    it.each([
      'myns',
      'my-namespace.servicebus.windows.net',
      'MyNs.servicebus.chinacloudapi.cn',
      'ns1.servicebus.usgovcloudapi.net',
      '127.0.0.1:5673',
    ])('%s is accepted', async (namespace) => {
      await createConnection(t, tenant, {
        auth: { specName: EH_AUTH, params: ehAuthParams({ namespace }) },
      });
    });

    it('is a 400 at patch too, and the connection keeps its namespace', async () => {
      const c = await createConnection(t, tenant, {
        auth: {
          specName: EH_AUTH,
          params: ehAuthParams({ namespace: 'myns' }),
        },
      });
      const res = await t.http
        .patch(`${FS}/connections/${c.id}`)
        .set(tenant.headers)
        .set('if-match', c.etag)
        .send([
          {
            op: 'replace',
            path: '/auth/params/namespace',
            value: 'internal.example.com:443',
          },
        ]);
      expect(res.status).toBe(400);
      expectError(res.body, '1100-400', /namespace/);
      const after = await t.http
        .get(`${FS}/connections/${c.id}`)
        .set(tenant.headers)
        .expect(200);
      expect(JSON.stringify(after.body)).toContain('"namespace":"myns"');
    });
  });

  describe('the connection test says what to fix, not what answered', () => {
    let emulator: EventHubsEmulator;
    let http: Server;
    beforeAll(async () => {
      emulator = new EventHubsEmulator({ autoCreateHubs: true });
      await emulator.start();
      http = createServer((_req, res) => res.end('hello'));
      await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    });
    afterAll(async () => {
      await emulator.stop();
      await new Promise((r) => http.close(r));
    });

    async function testConnection(
      params: Record<string, unknown>,
    ): Promise<{ result: boolean; reason?: string }> {
      const c = await createConnection(t, tenant, {
        auth: { specName: EH_AUTH, params: ehAuthParams(params) },
      });
      await createTarget(t, tenant, c.id);
      const res = await t.http
        .get(`${FS}/connections/${c.id}/test`)
        .set(tenant.headers)
        .expect(200);
      return res.body as { result: boolean; reason?: string };
    }

    it('a closed port on an allowed endpoint: cannot reach the namespace', async () => {
      const body = await testConnection({
        namespace: `127.0.0.1:${await freePort()}`,
      });
      expect(body.result).toBe(false);
      expect(body.reason).toMatch(/^Cannot reach the namespace/);
      expect(body.reason).not.toMatch(
        /ECONNREFUSED|refused|127\.0\.0\.1:\d+\)/,
      );
    });

    it('something else listening: not an Event Hubs endpoint, without naming it', async () => {
      const body = await testConnection({
        namespace: `127.0.0.1:${(http.address() as AddressInfo).port}`,
      });
      expect(body.result).toBe(false);
      expect(body.reason).toMatch(/is not an Event Hubs endpoint/);
      expect(body.reason).not.toMatch(/protocol|HTTP|4854|AMQP/i);
    });

    it('a wrong key: the key was refused; the right key passes', async () => {
      const namespace = `127.0.0.1:${emulator.port}`;
      const refused = await testConnection({
        namespace,
        sasKeyName: DEFAULT_KEY_NAME,
        sasKey: Buffer.from('not-the-key').toString('base64'),
      });
      expect(refused.result).toBe(false);
      expect(refused.reason).toMatch(/^The key was refused/);
      const ok = await testConnection({
        namespace,
        sasKeyName: DEFAULT_KEY_NAME,
        sasKey: DEFAULT_EMULATOR_KEY,
      });
      expect(ok).toEqual({ result: true });
    });
  });

  describe('smaller holes', () => {
    it('/metrics requires METRICS_TOKEN when it is set', async () => {
      const none = await t.http.get('/metrics');
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect(none.text).not.toContain('http_requests');
      await t.http
        .get('/metrics')
        .set('authorization', 'Bearer wrong-token-0123456789abcdef')
        .expect(401);
      const ok = await t.http
        .get('/metrics')
        .set('authorization', `Bearer ${METRICS_TOKEN}`)
        .expect(200);
      expect(ok.text).toContain('# TYPE');
    });

    it('a rotated secret invalidates the tokens issued before it', async () => {
      const other = await createTenant(t);
      await t.http.get(`${FS}/flows`).set(other.headers).expect(200);
      const tenancy = t.app.get(TenancyService);
      const rotated = await tenancy.rotateSecret(other.clientId);
      expect(rotated?.clientSecret).toBeDefined();
      const stale = await t.http.get(`${FS}/flows`).set(other.headers);
      expect(stale.status).toBe(401);
      expect(stale.body).toEqual({
        error_code: '401013',
        message: 'Oauth token is not valid',
      });
      await t.http
        .post('/ims/token/v3')
        .type('form')
        .send({
          grant_type: 'client_credentials',
          client_id: other.clientId,
          client_secret: other.clientSecret,
        })
        .expect(401);
      const fresh = await t.http
        .post('/ims/token/v3')
        .type('form')
        .send({
          grant_type: 'client_credentials',
          client_id: other.clientId,
          client_secret: rotated?.clientSecret,
        })
        .expect(200);
      await t.http
        .get(`${FS}/flows`)
        .set({
          ...other.headers,
          authorization: `Bearer ${(fresh.body as { access_token: string }).access_token}`,
        })
        .expect(200);
    });

    it('re-creating a client with its current secret (the development client at boot) keeps its tokens valid', async () => {
      const other = await createTenant(t);
      await t.app.get(TenancyService).createClient({
        orgId: other.orgId,
        clientId: other.clientId,
        clientSecret: other.clientSecret,
      });
      await t.http.get(`${FS}/flows`).set(other.headers).expect(200);
    });
  });
});
