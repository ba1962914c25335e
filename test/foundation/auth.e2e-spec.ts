import { SignJWT } from 'jose';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenancyService } from '../../src/tenancy/tenancy.service.js';
import {
  createTenant,
  createTestApp,
  TEST_SECRETS,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import {
  createConnection,
  createFlow,
  expectError,
  FS,
  getItem,
} from '../helpers/resources.js';

const key = new TextEncoder().encode(TEST_SECRETS.tokenSigningKey);

describe('tokens, gateway headers and sandboxes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  describe('POST /ims/token/v3', () => {
    it('issues a bearer token for a form grant and for a JSON grant', async () => {
      const tenant = await createTenant(t);
      const form = await t.http
        .post('/ims/token/v3')
        .type('form')
        .send({
          grant_type: 'client_credentials',
          client_id: tenant.clientId,
          client_secret: tenant.clientSecret,
          // What Adobe's Developer Console puts in its sample curl.
          scope: 'openid,AdobeID,read_organizations',
        })
        .expect(200);
      expect(form.body).toEqual({
        access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
        token_type: 'bearer',
        expires_in: 86400,
      });
      const json = await t.http
        .post('/ims/token/v3')
        .set('content-type', 'application/json')
        .send({
          grant_type: 'client_credentials',
          client_id: tenant.clientId,
          client_secret: tenant.clientSecret,
        })
        .expect(200);
      const token = (json.body as { access_token: string }).access_token;
      await t.http
        .get(`${FS}/connections`)
        .set({ ...tenant.headers, authorization: `Bearer ${token}` })
        .expect(200);
    });

    it('answers OAuth errors for a wrong secret, an unknown client and a bad grant', async () => {
      const tenant = await createTenant(t);
      const wrong = await t.http
        .post('/ims/token/v3')
        .type('form')
        .send({
          grant_type: 'client_credentials',
          client_id: tenant.clientId,
          client_secret: 'not-the-secret',
        })
        .expect(401);
      expect(wrong.body).toEqual({
        error: 'invalid_client',
        error_description: expect.any(String),
      });
      const unknown = await t.http
        .post('/ims/token/v3')
        .type('form')
        .send({
          grant_type: 'client_credentials',
          client_id: 'nobody',
          client_secret: 'x',
        })
        .expect(401);
      expect(unknown.body).toMatchObject({ error: 'invalid_client' });
      const grant = await t.http
        .post('/ims/token/v3')
        .type('form')
        .send({
          grant_type: 'password',
          client_id: tenant.clientId,
          client_secret: tenant.clientSecret,
        })
        .expect(400);
      expect(grant.body).toMatchObject({ error: 'unsupported_grant_type' });
      const missing = await t.http
        .post('/ims/token/v3')
        .type('form')
        .send({ grant_type: 'client_credentials' })
        .expect(400);
      expect(missing.body).toMatchObject({ error: 'invalid_request' });
    });
  });

  describe('gateway errors (Adobe bodies)', () => {
    let tenant: TestTenant;
    beforeAll(async () => {
      tenant = await createTenant(t);
    });
    const call = (headers: Record<string, string | undefined>) => {
      const req = t.http.get(`${FS}/connections`);
      for (const [k, v] of Object.entries(headers))
        if (v !== undefined) req.set(k, v);
      return req;
    };

    it('403010 when the token is missing', async () => {
      const res = await call({ ...tenant.headers, authorization: undefined });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({
        error_code: '403010',
        message: 'Oauth token is missing.',
      });
    });

    it('401013 for a garbage, a wrongly signed and an expired token', async () => {
      const expired = await new SignJWT({
        org: tenant.orgId,
        client_id: tenant.clientId,
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer('flowservice-eventhubs')
        .setAudience('platform')
        .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
        .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
        .sign(key);
      const foreign = await new SignJWT({
        org: tenant.orgId,
        client_id: tenant.clientId,
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer('flowservice-eventhubs')
        .setAudience('platform')
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode('another-key-0123456789abcdef012345'));
      for (const auth of [
        'Bearer garbage',
        'Bearer a.b.c',
        `Bearer ${expired}`,
        `Bearer ${foreign}`,
        'Basic dXNlcjpwYXNz',
      ]) {
        const res = await call({ ...tenant.headers, authorization: auth });
        expect(res.status, auth).toBe(401);
        expect(res.body).toEqual({
          error_code: '401013',
          message: 'Oauth token is not valid',
        });
      }
    });

    it('403000 without x-api-key, 403003 with another client id', async () => {
      const missing = await call({ ...tenant.headers, 'x-api-key': undefined });
      expect(missing.status).toBe(403);
      expect(missing.body).toEqual({
        error_code: '403000',
        message: 'Api Key is required',
      });
      const other = await call({ ...tenant.headers, 'x-api-key': 'other' });
      expect(other.status).toBe(403);
      expect(other.body).toEqual({
        error_code: '403003',
        message: 'Api Key is invalid',
      });
    });

    it('400003 without x-gw-ims-org-id, 403025 with another org', async () => {
      const missing = await call({
        ...tenant.headers,
        'x-gw-ims-org-id': undefined,
      });
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual({
        error_code: '400003',
        message: 'Missing header',
      });
      const other = await call({
        ...tenant.headers,
        'x-gw-ims-org-id': 'OTHER@AdobeOrg',
      });
      expect(other.status).toBe(403);
      expect(other.body).toEqual({
        error_code: '403025',
        message: 'Profile is not valid',
      });
    });

    it('checks the headers on every Platform resource, not only connections', async () => {
      for (const path of [
        'connectionSpecs',
        'flowSpecs',
        'sourceConnections',
        'targetConnections',
        'flows',
        'runs',
      ]) {
        const res = await t.http.get(`${FS}/${path}`);
        expect(res.status, path).toBe(403);
        expect(res.body).toMatchObject({ error_code: '403010' });
      }
    });
  });

  describe('sandboxes', () => {
    it('defaults to prod when x-sandbox-name is absent', async () => {
      const tenant = await createTenant(t);
      const { 'x-sandbox-name': _omitted, ...headers } = tenant.headers;
      const created = await createConnection(t, tenant);
      const res = await t.http
        .get(`${FS}/connections/${created.id}`)
        .set(headers)
        .expect(200);
      expect(res.body.items[0]).toMatchObject({ sandboxName: 'prod' });
    });

    it('2100-404 for a sandbox that does not exist or the client may not use', async () => {
      const tenant = await createTenant(t, { sandboxes: ['prod'] });
      // `dev` exists in the org (created for another client) but this client may not use it.
      await t.app.get(TenancyService).ensureSandbox(tenant.orgId, 'dev');
      for (const sandbox of ['nope', 'dev']) {
        const res = await t.http
          .get(`${FS}/connections`)
          .set({ ...tenant.headers, 'x-sandbox-name': sandbox })
          .expect(404);
        expectError(res.body, '2100-404', `'${sandbox}'`);
      }
    });

    it('accepts the sandbox name in any case and separates sandboxes of one org', async () => {
      const tenant = await createTenant(t, { sandboxes: ['prod', 'dev'] });
      const dev = { ...tenant.headers, 'x-sandbox-name': 'DEV' };
      const inDev = await t.http
        .post(`${FS}/connections`)
        .set(dev)
        .send({
          name: 'dev connection',
          connectionSpec: {
            id: '8a9c3494-9708-43d7-ae3f-cda01e5030e1',
            version: '1.0',
          },
        })
        .expect(201);
      const item = await getItem(
        t,
        { ...tenant, headers: dev },
        `connections/${inDev.body.id}`,
      );
      expect(item).toMatchObject({ sandboxName: 'dev' });
      await t.http
        .get(`${FS}/connections/${inDev.body.id}`)
        .set(tenant.headers)
        .expect(404);
    });
  });

  describe('tenant isolation', () => {
    let owner: TestTenant;
    let stranger: TestTenant;
    let sibling: TestTenant;
    let flow: Awaited<ReturnType<typeof createFlow>>;
    beforeAll(async () => {
      owner = await createTenant(t, { sandboxes: ['prod', 'dev'] });
      stranger = await createTenant(t);
      sibling = {
        ...owner,
        sandbox: 'dev',
        headers: { ...owner.headers, 'x-sandbox-name': 'dev' },
      };
      flow = await createFlow(t, owner);
    });

    const resources = (): [string, string][] => [
      ['connections', flow.destination.base.id],
      ['targetConnections', flow.destination.target.id],
      ['sourceConnections', flow.destination.source.id],
      ['flows', flow.id],
    ];

    for (const who of ['another org', 'another sandbox of the same org']) {
      it(`hides every resource from ${who}`, async () => {
        const other = who === 'another org' ? stranger : sibling;
        for (const [resource, id] of resources()) {
          const get = await t.http
            .get(`${FS}/${resource}/${id}`)
            .set(other.headers);
          expect(get.status, `GET ${resource}`).toBe(404);
          expectError(
            get.body,
            '1101-404',
            `${resource} not found with id = [${id}]`,
          );
          const patch = await t.http
            .patch(`${FS}/${resource}/${id}`)
            .set(other.headers)
            .set('if-match', '"x"')
            .send([{ op: 'replace', path: '/name', value: 'stolen' }]);
          expect(patch.status, `PATCH ${resource}`).toBe(404);
          const del = await t.http
            .delete(`${FS}/${resource}/${id}`)
            .set(other.headers);
          expect(del.status, `DELETE ${resource}`).toBe(404);
          const list = await t.http
            .get(`${FS}/${resource}`)
            .set(other.headers)
            .expect(200);
          expect(list.body.items).toEqual([]);
        }
        await t.http
          .get(`${FS}/connections/${flow.destination.base.id}/test`)
          .set(other.headers)
          .expect(404);
        await t.http
          .post(`${FS}/flows/${flow.id}/action?op=disable`)
          .set(other.headers)
          .expect(404);
        // Another tenant cannot build on the owner's connections either.
        const target = await t.http
          .post(`${FS}/targetConnections`)
          .set(other.headers)
          .send({
            name: 'x',
            baseConnectionId: flow.destination.base.id,
            connectionSpec: {
              id: 'bf9f5905-92b7-48bf-bf20-455bc6b60a4e',
              version: '1.0',
            },
            params: { eventHubName: 'h' },
          });
        expect(target.status).toBe(404);
        // Everything is still there for the owner.
        for (const [resource, id] of resources()) {
          const item = await getItem(t, owner, `${resource}/${id}`);
          expect(item.name).not.toBe('stolen');
        }
      });
    }
  });

  describe('request ids and health', () => {
    it('echoes x-request-id and generates one when absent or malformed', async () => {
      const echoed = await t.http
        .get('/health')
        .set('x-request-id', 'my-trace-123')
        .expect(200);
      expect(echoed.headers['x-request-id']).toBe('my-trace-123');
      const generated = await t.http.get('/health').expect(200);
      expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const bad = await t.http
        .get(`${FS}/flows/not-a-uuid`)
        .set('x-request-id', 'bad id with spaces')
        .expect(403);
      expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('puts the request id into error bodies', async () => {
      const tenant = await createTenant(t);
      const res = await t.http
        .get(`${FS}/flows/00000000-0000-4000-8000-000000000000`)
        .set(tenant.headers)
        .set('x-request-id', 'trace-404')
        .expect(404);
      expectError(res.body, '1101-404');
      expect(res.body.requestId).toBe('trace-404');
    });

    it('answers 503 from /health and a generic 500 when the database is gone', async () => {
      const broken = await createTestApp();
      const tenant = await createTenant(broken);
      try {
        await broken.app.get(DataSource).destroy();
        const health = await broken.http.get('/health').expect(503);
        // Readiness only: the driver's message stays in the log.
        expect(health.body).toEqual({
          status: 'unavailable',
          database: { ready: false },
        });
        const res = await broken.http
          .get(`${FS}/connections`)
          .set(tenant.headers)
          .set('x-request-id', 'trace-500');
        expect(res.status).toBe(500);
        expect(res.body).toEqual({
          code: '1100-500',
          message:
            'An internal error occurred. Quote request id trace-500 when reporting it.',
          errorMessage:
            'An internal error occurred. Quote request id trace-500 when reporting it.',
          errorDetails:
            'An internal error occurred. Quote request id trace-500 when reporting it.',
          requestId: 'trace-500',
        });
      } finally {
        await broken.close();
      }
    });

    it('reports database readiness', async () => {
      const res = await t.http.get('/health').expect(200);
      expect(res.body).toEqual({
        status: 'ok',
        database: { ready: true, latencyMs: expect.any(Number) },
      });
    });
  });
});
