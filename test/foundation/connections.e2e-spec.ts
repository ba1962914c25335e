import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tenant } from '../../src/common/request-context.js';
import { ConnectionsService } from '../../src/connections/connections.service.js';
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
  createFlow,
  createProfileConnection,
  createSource,
  createTarget,
  EH_AUTH,
  EH_SPEC,
  ehAuthParams,
  expectError,
  FS,
  getItem,
  MISSING_ID,
  PROFILE_SPEC,
} from '../helpers/resources.js';

const SAS_KEY = 'UGxhaW50ZXh0LXNhcy1rZXktbmV2ZXItc3RvcmVk';

describe('connections, source and target connections', () => {
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

  const patch = (
    tenant: TestTenant,
    path: string,
    etag: string,
    ops: unknown[],
  ) =>
    t.http
      .patch(`${FS}/${path}`)
      .set(tenant.headers)
      .set('if-match', etag)
      .send(ops);

  describe('create', () => {
    it('creates an Event Hubs connection: 201, id, quoted etag, Location', async () => {
      const tenant = await createTenant(t);
      const res = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(connectionBody())
        .expect(201);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        etag: expect.stringMatching(/^".+"$/),
      });
      expect(res.headers.location).toBe(`${FS}/connections/${res.body.id}`);
      const item = await getItem(t, tenant, `connections/${res.body.id}`);
      expect(item).toMatchObject({
        id: res.body.id,
        name: 'Event Hubs namespace',
        description: 'test namespace',
        connectionSpec: EH_SPEC,
        state: 'enabled',
        etag: res.body.etag,
        version: res.body.etag,
        imsOrgId: tenant.orgId,
        sandboxName: 'prod',
        createdClient: tenant.clientId,
        auth: {
          specName: EH_AUTH,
          params: {
            sasKeyName: 'RootManageSharedAccessKey',
            sasKey: '********',
            namespace: '127.0.0.1:1',
          },
        },
      });
      expect(item.createdAt).toEqual(expect.any(Number));
    });

    it('validates auth params against the spec JSON Schema', async () => {
      const tenant = await createTenant(t);
      const { sasKey: _omit, ...noKey } = ehAuthParams();
      const missing = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(connectionBody({ auth: { specName: EH_AUTH, params: noKey } }))
        .expect(400);
      expectError(missing.body, '1100-400', /sasKey/);
      expect(missing.body.details).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ path: 'auth.params' }),
        ]),
      );
      const unknown = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(
          connectionBody({
            auth: { specName: EH_AUTH, params: ehAuthParams({ bogus: 1 }) },
          }),
        )
        .expect(400);
      expectError(unknown.body, '1100-400', /bogus/);
      const wrongType = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(
          connectionBody({
            auth: { specName: EH_AUTH, params: ehAuthParams({ sasKey: 42 }) },
          }),
        )
        .expect(400);
      expectError(wrongType.body, '1100-400');
      const noAuth = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(connectionBody({ auth: undefined }))
        .expect(400);
      expectError(noAuth.body, '1100-400', /auth/);
      const list = await t.http
        .get(`${FS}/connections?count=true`)
        .set(tenant.headers)
        .expect(200);
      expect(list.body).toEqual({ count: 0 });
    });

    it('rejects bad spec ids, versions and auth spec names with catalogue codes', async () => {
      const tenant = await createTenant(t);
      const badId = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(
          connectionBody({
            connectionSpec: { id: MISSING_ID, version: '1.0' },
          }),
        )
        .expect(400);
      expectError(badId.body, '1413-400', 'Please provide a valid spec id');
      const badVersion = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(
          connectionBody({ connectionSpec: { ...EH_SPEC, version: '2.0' } }),
        )
        .expect(400);
      expectError(badVersion.body, '1413-400');
      const noVersion = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(connectionBody({ connectionSpec: { id: EH_SPEC.id } }));
      expect([400, 422]).toContain(noVersion.status);
      expect(noVersion.body.message).toMatch(/version/);
      const badAuth = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(
          connectionBody({
            auth: { specName: 'Basic', params: ehAuthParams() },
          }),
        )
        .expect(400);
      expectError(
        badAuth.body,
        '1415-400',
        `The auth spec 'Basic' could not be found for the connection spec ID ${EH_SPEC.id}`,
      );
      const authOnProfile = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(
          connectionBody({
            connectionSpec: PROFILE_SPEC,
          }),
        )
        .expect(400);
      expectError(authOnProfile.body, '1100-400');
    });
  });

  describe('secrets', () => {
    it('never returns the sasKey and keeps it encrypted at rest', async () => {
      const tenant = await createTenant(t);
      const created = await createConnection(t, tenant, {
        auth: { specName: EH_AUTH, params: ehAuthParams({ sasKey: SAS_KEY }) },
      });
      const get = await t.http
        .get(`${FS}/connections/${created.id}`)
        .set(tenant.headers)
        .expect(200);
      const list = await t.http
        .get(`${FS}/connections`)
        .set(tenant.headers)
        .expect(200);
      for (const text of [get.text, list.text]) {
        expect(text).not.toContain(SAS_KEY);
        expect(text).toContain('"sasKey":"********"');
      }
      const row = await db.query<{ doc: string }>(
        'SELECT row_to_json(c)::text AS doc FROM connections c WHERE id = $1',
        [created.id],
      );
      expect(row.rows).toHaveLength(1);
      const doc = row.rows[0]?.doc ?? '';
      expect(doc).toContain('RootManageSharedAccessKey');
      expect(doc).not.toContain(SAS_KEY);
      expect(doc).not.toContain(Buffer.from(SAS_KEY).toString('base64'));
      expect(doc).toMatch(/"auth_secrets":"v1\.k1\./);
      // A fresh IV each time: the same key sealed twice differs.
      const again = await createConnection(t, tenant, {
        auth: { specName: EH_AUTH, params: ehAuthParams({ sasKey: SAS_KEY }) },
      });
      const both = await db.query<{ auth_secrets: string }>(
        'SELECT auth_secrets FROM connections WHERE id = ANY($1)',
        [[created.id, again.id]],
      );
      expect(new Set(both.rows.map((r) => r.auth_secrets)).size).toBe(2);
    });

    it('does not echo the secret in validation errors', async () => {
      const tenant = await createTenant(t);
      const res = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .send(
          connectionBody({
            auth: {
              specName: EH_AUTH,
              params: ehAuthParams({ sasKey: SAS_KEY, namespace: 'bad ns!' }),
            },
          }),
        )
        .expect(400);
      expect(res.text).not.toContain(SAS_KEY);
    });
  });

  describe('PATCH', () => {
    it('replaces the whole auth params object and keeps the secret encrypted', async () => {
      const tenant = await createTenant(t);
      const c = await createConnection(t, tenant);
      const res = await patch(tenant, `connections/${c.id}`, c.etag, [
        {
          op: 'replace',
          path: '/auth/params',
          value: ehAuthParams({
            sasKeyName: 'send-only',
            sasKey: SAS_KEY,
            namespace: 'myns',
          }),
        },
      ]).expect(200);
      expect(res.body).toEqual({ id: c.id, etag: expect.any(String) });
      expect(res.body.etag).not.toBe(c.etag);
      const item = await getItem(t, tenant, `connections/${c.id}`);
      expect(item.auth).toEqual({
        specName: EH_AUTH,
        params: {
          sasKeyName: 'send-only',
          sasKey: '********',
          namespace: 'myns',
        },
      });
      expect(item.etag).toBe(res.body.etag);
      const row = await db.query<{ doc: string }>(
        'SELECT row_to_json(c)::text AS doc FROM connections c WHERE id = $1',
        [c.id],
      );
      expect(row.rows[0]?.doc).not.toContain(SAS_KEY);
      // `add` on an existing member replaces it (ED's recipe).
      const add = await patch(tenant, `connections/${c.id}`, res.body.etag, [
        { op: 'add', path: '/auth/params', value: ehAuthParams() },
      ]).expect(200);
      expect(add.body.etag).not.toBe(res.body.etag);
    });

    it('replaces one auth field and keeps the stored secret', async () => {
      const tenant = await createTenant(t);
      const c = await createConnection(t, tenant, {
        auth: { specName: EH_AUTH, params: ehAuthParams({ sasKey: SAS_KEY }) },
      });
      const res = await patch(tenant, `connections/${c.id}`, c.etag, [
        { op: 'replace', path: '/auth/params/namespace', value: 'other-ns' },
      ]).expect(200);
      const item = await getItem(t, tenant, `connections/${c.id}`);
      expect(item.auth).toMatchObject({
        params: { namespace: 'other-ns', sasKey: '********' },
      });
      // The secret is still the original one: replace only the key, then compare ciphertexts decrypt differently.
      const before = await db.query<{ auth_secrets: string }>(
        'SELECT auth_secrets FROM connections WHERE id = $1',
        [c.id],
      );
      await patch(tenant, `connections/${c.id}`, res.body.etag, [
        { op: 'replace', path: '/auth/params/sasKey', value: 'bmV3LWtleQ==' },
      ]).expect(200);
      const after = await db.query<{ auth_secrets: string }>(
        'SELECT auth_secrets FROM connections WHERE id = $1',
        [c.id],
      );
      expect(after.rows[0]?.auth_secrets).not.toBe(
        before.rows[0]?.auth_secrets,
      );
      const invalid = await patch(
        tenant,
        `connections/${c.id}`,
        (await getItem(t, tenant, `connections/${c.id}`)).etag as string,
        [{ op: 'remove', path: '/auth/params/sasKeyName' }],
      ).expect(400);
      expectError(invalid.body, '1100-400', /sasKeyName/);
    });

    it('patches name and description; refuses connectionSpec (1414-400)', async () => {
      const tenant = await createTenant(t);
      const c = await createConnection(t, tenant);
      const res = await patch(tenant, `connections/${c.id}`, c.etag, [
        { op: 'replace', path: '/name', value: 'renamed' },
        { op: 'replace', path: '/description', value: 'new text' },
      ]).expect(200);
      const item = await getItem(t, tenant, `connections/${c.id}`);
      expect(item).toMatchObject({ name: 'renamed', description: 'new text' });
      const spec = await patch(tenant, `connections/${c.id}`, res.body.etag, [
        { op: 'replace', path: '/connectionSpec', value: PROFILE_SPEC },
      ]).expect(400);
      expectError(
        spec.body,
        '1414-400',
        'The connection spec of a connection cannot be updated.',
      );
      const specId = await patch(tenant, `connections/${c.id}`, res.body.etag, [
        { op: 'replace', path: '/connectionSpec/id', value: PROFILE_SPEC.id },
      ]).expect(400);
      expectError(specId.body, '1414-400');
      const emptyName = await patch(
        tenant,
        `connections/${c.id}`,
        res.body.etag,
        [{ op: 'replace', path: '/name', value: '' }],
      ).expect(400);
      expectError(emptyName.body, '1100-400');
      expect((await getItem(t, tenant, `connections/${c.id}`)).name).toBe(
        'renamed',
      );
    });
  });

  describe('DELETE', () => {
    it('refuses to delete a base connection in use (1418-400), then deletes it', async () => {
      const tenant = await createTenant(t);
      const base = await createConnection(t, tenant);
      const target = await createTarget(t, tenant, base.id);
      const refused = await t.http
        .delete(`${FS}/connections/${base.id}`)
        .set(tenant.headers)
        .expect(400);
      expectError(refused.body, '1418-400', base.id);
      // The refusal names what uses the base connection.
      expect((refused.body as { message: string }).message).toContain(
        target.id,
      );
      await t.http
        .delete(`${FS}/targetConnections/${target.id}`)
        .set(tenant.headers)
        .expect(202);
      const del = await t.http
        .delete(`${FS}/connections/${base.id}`)
        .set(tenant.headers)
        .expect(202);
      expect(del.text).toBe('');
      const gone = await t.http
        .get(`${FS}/connections/${base.id}`)
        .set(tenant.headers)
        .expect(404);
      expectError(
        gone.body,
        '1101-404',
        `connections not found with id = [${base.id}]`,
      );
      await t.http
        .delete(`${FS}/connections/${base.id}`)
        .set(tenant.headers)
        .expect(404);
    });
  });

  describe('GET /connections/{id}', () => {
    it('answers exactly the list item: same fields, same order, secrets masked', async () => {
      const tenant = await createTenant(t);
      const created = [
        await createConnection(t, tenant, {
          description: 'with secrets',
          auth: {
            specName: EH_AUTH,
            params: ehAuthParams({ sasKey: SAS_KEY }),
          },
        }),
        await createProfileConnection(t, tenant),
      ];
      const list = await t.http
        .get(`${FS}/connections`)
        .set(tenant.headers)
        .expect(200);
      const listed = (list.body as { items: { id: string }[] }).items;
      for (const { id } of created) {
        const res = await t.http
          .get(`${FS}/connections/${id.toUpperCase()}`)
          .set(tenant.headers)
          .expect(200);
        expect(res.text).toBe(
          JSON.stringify({ items: [listed.find((i) => i.id === id)] }),
        );
        expect(res.text).not.toContain(SAS_KEY);
      }
    });

    it('answers source and target connections exactly as their lists do', async () => {
      const tenant = await createTenant(t);
      const base = await createConnection(t, tenant);
      const target = await createTarget(t, tenant, base.id);
      const source = await createSource(
        t,
        tenant,
        (await createProfileConnection(t, tenant)).id,
      );
      for (const [resource, id] of [
        ['targetConnections', target.id],
        ['sourceConnections', source.id],
      ] as const) {
        const list = await t.http
          .get(`${FS}/${resource}`)
          .set(tenant.headers)
          .expect(200);
        const listed = (list.body as { items: { id: string }[] }).items;
        const res = await t.http
          .get(`${FS}/${resource}/${id}`)
          .set(tenant.headers)
          .expect(200);
        expect(res.text).toBe(
          JSON.stringify({ items: [listed.find((i) => i.id === id)] }),
        );
        const other = await createTenant(t);
        expectError(
          (
            await t.http
              .get(`${FS}/${resource}/${id}`)
              .set(other.headers)
              .expect(404)
          ).body,
          '1101-404',
        );
      }
    });

    it('answers lookups that share a statement each with its own tenant only', async () => {
      const [a, b] = [await createTenant(t), await createTenant(t)];
      const ca = await createConnection(t, a);
      const cb = await createConnection(t, b);
      const asked = [
        [a, ca.id, 200],
        [b, ca.id, 404],
        [b, cb.id, 200],
        [a, cb.id, 404],
        [a, MISSING_ID, 404],
      ] as const;
      // Many at once, so most are read in one turn and batched.
      const answers = await Promise.all(
        [...asked, ...asked, ...asked].map(([tenant, id]) =>
          t.http.get(`${FS}/connections/${id}`).set(tenant.headers),
        ),
      );
      answers.forEach((res, i) => {
        const [tenant, id, status] = asked[i % asked.length] ?? [];
        expect(res.status).toBe(status);
        if (status === 200)
          expect(res.body.items[0]).toMatchObject({
            id,
            imsOrgId: tenant?.orgId,
          });
        else expectError(res.body, '1101-404');
      });
      // Started in one turn: one statement for all, each answered by tenant.
      const service = t.app.get(ConnectionsService);
      const tenantOf = (x: TestTenant): Tenant => ({
        orgId: x.orgId,
        sandboxName: 'prod',
        sandboxId: '',
        sandboxType: 'production',
        clientId: x.clientId,
      });
      const settled = await Promise.allSettled(
        asked.map(([tenant, id]) => service.get(tenantOf(tenant), id)),
      );
      expect(
        settled.map((r) => (r.status === 'fulfilled' ? r.value.id : 404)),
      ).toEqual([ca.id, 404, cb.id, 404, 404]);
    });
  });

  describe('GET /connections/{id}/test', () => {
    it('answers result:false with a reason when nothing listens, without throwing', async () => {
      const tenant = await createTenant(t);
      const port = await freePort();
      const c = await createConnection(t, tenant, {
        auth: {
          specName: EH_AUTH,
          params: ehAuthParams({ namespace: `127.0.0.1:${port}` }),
        },
      });
      const noHub = await t.http
        .get(`${FS}/connections/${c.id}/test`)
        .set(tenant.headers)
        .expect(200);
      expect(noHub.body).toEqual({ result: false, reason: expect.any(String) });
      await createTarget(t, tenant, c.id);
      const res = await t.http
        .get(`${FS}/connections/${c.id}/test`)
        .set(tenant.headers)
        .expect(200);
      expect(res.body).toEqual({
        result: false,
        reason: expect.stringMatching(/refused|reach/i),
      });
      expect(res.text).not.toContain('c2VjcmV0LWtleS1mb3ItdGVzdHM=');
    });

    it('404 for an unknown connection and 400 for a non-uuid id', async () => {
      const tenant = await createTenant(t);
      const missing = await t.http
        .get(`${FS}/connections/${MISSING_ID}/test`)
        .set(tenant.headers)
        .expect(404);
      expectError(missing.body, '1101-404');
      const bad = await t.http
        .get(`${FS}/connections/abc/test`)
        .set(tenant.headers)
        .expect(400);
      expectError(bad.body, '1100-400');
    });
  });

  describe('source and target connections', () => {
    it('creates a target connection on a base of the same spec and tenant', async () => {
      const tenant = await createTenant(t);
      const base = await createConnection(t, tenant);
      const target = await createTarget(t, tenant, base.id, {
        params: { eventHubName: 'hub-1', includeSegmentNames: true },
      });
      const item = await getItem(t, tenant, `targetConnections/${target.id}`);
      expect(item).toMatchObject({
        id: target.id,
        baseConnectionId: base.id,
        connectionSpec: EH_SPEC,
        data: { format: 'json' },
        params: { eventHubName: 'hub-1', includeSegmentNames: true },
        etag: target.etag,
        inheritedAttributes: {
          baseConnection: { id: base.id, connectionSpec: EH_SPEC },
        },
      });
    });

    it('requires an existing base of the same connection spec', async () => {
      const tenant = await createTenant(t);
      const profileBase = await createProfileConnection(t, tenant);
      const missing = await t.http
        .post(`${FS}/targetConnections`)
        .set(tenant.headers)
        .send({
          name: 't',
          baseConnectionId: MISSING_ID,
          connectionSpec: EH_SPEC,
          params: { eventHubName: 'h' },
        })
        .expect(404);
      expectError(
        missing.body,
        '1101-404',
        `connections not found with id = [${MISSING_ID}]`,
      );
      const otherSpec = await t.http
        .post(`${FS}/targetConnections`)
        .set(tenant.headers)
        .send({
          name: 't',
          baseConnectionId: profileBase.id,
          connectionSpec: EH_SPEC,
          params: { eventHubName: 'h' },
        })
        .expect(400);
      expectError(otherSpec.body, '1413-400');
      const noBase = await t.http
        .post(`${FS}/targetConnections`)
        .set(tenant.headers)
        .send({
          name: 't',
          connectionSpec: EH_SPEC,
          params: { eventHubName: 'h' },
        })
        .expect(400);
      expectError(noBase.body, '1100-400', /baseConnectionId/);
    });

    it('validates params: eventHubName required, unknown params rejected', async () => {
      const tenant = await createTenant(t);
      const base = await createConnection(t, tenant);
      const body = (params: unknown) => ({
        name: 't',
        baseConnectionId: base.id,
        connectionSpec: EH_SPEC,
        params,
      });
      for (const params of [
        {},
        { eventHubName: 'h', bogus: true },
        { eventHubName: '' },
        { eventHubName: 'h', includeSegmentNames: 'yes' },
      ]) {
        const res = await t.http
          .post(`${FS}/targetConnections`)
          .set(tenant.headers)
          .send(body(params));
        expect(res.status, JSON.stringify(params)).toBe(400);
        expectError(res.body, '1100-400');
      }
      const source = await t.http
        .post(`${FS}/sourceConnections`)
        .set(tenant.headers)
        .send({
          name: 's',
          baseConnectionId: (await createProfileConnection(t, tenant)).id,
          connectionSpec: PROFILE_SPEC,
          params: { bogus: 1 },
        })
        .expect(400);
      expectError(source.body, '1100-400', /bogus/);
    });

    it('PATCHes /params (replace whole, add one) with validation', async () => {
      const tenant = await createTenant(t);
      const base = await createConnection(t, tenant);
      const target = await createTarget(t, tenant, base.id);
      const replaced = await patch(
        tenant,
        `targetConnections/${target.id}`,
        target.etag,
        [{ op: 'replace', path: '/params', value: { eventHubName: 'other' } }],
      ).expect(200);
      const added = await patch(
        tenant,
        `targetConnections/${target.id}`,
        replaced.body.etag,
        [{ op: 'add', path: '/params/includeSegmentTimestamps', value: true }],
      ).expect(200);
      const item = await getItem(t, tenant, `targetConnections/${target.id}`);
      expect(item).toMatchObject({
        params: { eventHubName: 'other', includeSegmentTimestamps: true },
        etag: added.body.etag,
      });
      const bad = await patch(
        tenant,
        `targetConnections/${target.id}`,
        added.body.etag,
        [{ op: 'remove', path: '/params/eventHubName' }],
      ).expect(400);
      expectError(bad.body, '1100-400', /eventHubName/);
      const spec = await patch(
        tenant,
        `targetConnections/${target.id}`,
        added.body.etag,
        [{ op: 'replace', path: '/connectionSpec', value: PROFILE_SPEC }],
      ).expect(400);
      expectError(spec.body, '1414-400');
      expect(
        (await getItem(t, tenant, `targetConnections/${target.id}`)).params,
      ).toEqual({ eventHubName: 'other', includeSegmentTimestamps: true });
    });

    it('refuses to delete source/target connections used by a flow', async () => {
      const tenant = await createTenant(t);
      const flow = await createFlow(t, tenant);
      const { source, target } = flow.destination;
      for (const [resource, id] of [
        ['sourceConnections', source.id],
        ['targetConnections', target.id],
      ] as const) {
        const res = await t.http
          .delete(`${FS}/${resource}/${id}`)
          .set(tenant.headers)
          .expect(400);
        expectError(res.body, '1418-400', id);
        expect((res.body as { message: string }).message).toContain(flow.id);
      }
      await t.http
        .delete(`${FS}/flows/${flow.id}`)
        .set(tenant.headers)
        .expect(202);
      await t.http
        .delete(`${FS}/sourceConnections/${source.id}`)
        .set(tenant.headers)
        .expect(202);
      await t.http
        .delete(`${FS}/targetConnections/${target.id}`)
        .set(tenant.headers)
        .expect(202);
      await t.http
        .get(`${FS}/targetConnections/${target.id}`)
        .set(tenant.headers)
        .expect(404);
    });

    it('returns source connections with the profile typeInfo', async () => {
      const tenant = await createTenant(t);
      const profileBase = await createProfileConnection(t, tenant);
      const source = await createSource(t, tenant, profileBase.id);
      const item = await getItem(t, tenant, `sourceConnections/${source.id}`);
      expect(item).toMatchObject({
        baseConnectionId: profileBase.id,
        connectionSpec: PROFILE_SPEC,
        typeInfo: { type: 'ProfileFragments', id: 'ups' },
      });
    });
  });
});
