import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import {
  connectionBody,
  createFlow,
  EH_SPEC,
  expectError,
  FS,
  MISSING_ID,
} from '../helpers/resources.js';

describe('error handling', () => {
  let t: TestApp;
  let tenant: TestTenant;
  let flow: Awaited<ReturnType<typeof createFlow>>;
  beforeAll(async () => {
    t = await createTestApp();
    tenant = await createTenant(t);
    flow = await createFlow(t, tenant);
  });
  afterAll(async () => t.close());

  it('400 in the contract shape for malformed JSON', async () => {
    const res = await t.http
      .post(`${FS}/connections`)
      .set(tenant.headers)
      .set('content-type', 'application/json')
      .send('{"name": "x", ')
      .expect(400);
    expectError(res.body, '1100-400', /JSON/);
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
  });

  it('400 with details for unknown and invalid fields', async () => {
    const res = await t.http
      .post(`${FS}/connections`)
      .set(tenant.headers)
      .send(connectionBody({ bogus: 1, name: 7 }))
      .expect(400);
    expectError(res.body, '1100-400');
    expect(res.body.details).toEqual(
      expect.arrayContaining([
        { path: 'bogus', message: 'property bogus should not exist' },
        expect.objectContaining({ path: 'name' }),
      ]),
    );
    const nested = await t.http
      .post(`${FS}/connections`)
      .set(tenant.headers)
      .send(connectionBody({ connectionSpec: { ...EH_SPEC, extra: true } }))
      .expect(400);
    expect(nested.body.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'connectionSpec.extra' }),
      ]),
    );
  });

  it('422 when a spec reference has no version (Adobe: "version is required for spec info")', async () => {
    const res = await t.http
      .post(`${FS}/connections`)
      .set(tenant.headers)
      .send(connectionBody({ connectionSpec: { id: EH_SPEC.id } }))
      .expect(422);
    expectError(res.body, '1413-422', /version/);
    const flowRes = await t.http
      .post(`${FS}/flows`)
      .set(tenant.headers)
      .send({
        name: 'x',
        flowSpec: { id: '71471eba-b620-49e4-90fd-23f1fa0174d8' },
        sourceConnectionIds: flow.destination.source.id
          ? [flow.destination.source.id]
          : [],
        targetConnectionIds: [flow.destination.target.id],
        transformations: [],
      })
      .expect(422);
    expectError(flowRes.body, '1413-422', /flowSpec\.version/);
  });

  it('400 for a path id that is not a uuid', async () => {
    for (const path of [
      'connections/abc',
      'sourceConnections/abc',
      'targetConnections/1',
      'flows/abc',
      'runs/abc',
      'connectionSpecs/abc',
      'flowSpecs/abc',
    ]) {
      const res = await t.http.get(`${FS}/${path}`).set(tenant.headers);
      expect(res.status, path).toBe(400);
      expectError(res.body, '1100-400');
    }
  });

  it('404 in the contract shape for unknown ids and routes', async () => {
    for (const path of [
      `connectionSpecs/${MISSING_ID}`,
      `flowSpecs/${MISSING_ID}`,
      `runs/${MISSING_ID}`,
    ]) {
      const res = await t.http.get(`${FS}/${path}`).set(tenant.headers);
      expect(res.status, path).toBe(404);
      expectError(res.body, '1101-404');
    }
    const route = await t.http.get('/no/such/route').expect(404);
    expectError(route.body, '1101-404');
  });

  it('400 in the gateway content-type shape for a wrong Content-Type', async () => {
    for (const type of ['text/plain', 'application/xml']) {
      const res = await t.http
        .post(`${FS}/connections`)
        .set(tenant.headers)
        .set('content-type', type)
        .send(JSON.stringify(connectionBody()))
        .expect(400);
      expect(res.body).toEqual({
        type: '/placeholder/type/uri',
        status: 400,
        title: 'BadRequestError',
        detail: 'A valid content-type must be specified',
      });
    }
    const patch = await t.http
      .patch(`${FS}/flows/${flow.id}`)
      .set(tenant.headers)
      .set('if-match', flow.etag)
      .set('content-type', 'text/plain')
      .send('[]')
      .expect(400);
    expect(patch.body).toMatchObject({ title: 'BadRequestError' });
    // JSON Patch's own media type and charset parameters are fine.
    await t.http
      .patch(`${FS}/flows/${flow.id}`)
      .set(tenant.headers)
      .set('if-match', flow.etag)
      .set('content-type', 'application/json-patch+json; charset=utf-8')
      .send(JSON.stringify([{ op: 'replace', path: '/name', value: 'jp' }]))
      .expect(200);
  });

  it("accepts Adobe's Postman habits: Content-Type and a versioned Accept on bodiless requests", async () => {
    const postman = {
      ...tenant.headers,
      accept: 'application/json; version=1',
      'content-type': 'application/json',
    };
    await t.http.get(`${FS}/flows/${flow.id}`).set(postman).expect(200);
    await t.http.get(`${FS}/connectionSpecs`).set(postman).expect(200);
    const disabled = await t.http
      .post(`${FS}/flows/${flow.id}/action?op=disable`)
      .set(postman)
      .expect(200);
    await t.http
      .post(`${FS}/flows/${flow.id}/action?op=enable`)
      .set({ ...postman, 'content-type': 'text/plain' })
      .expect(200);
    expect(disabled.body.id).toBe(flow.id);
  });

  it('413 for a body over 1 MB', async () => {
    const res = await t.http
      .post(`${FS}/connections`)
      .set(tenant.headers)
      .send(connectionBody({ description: 'x'.repeat(1_100_000) }));
    expect(res.status).toBe(413);
    expectError(res.body, '1100-413');
  });

  it('never answers 500 to odd input', async () => {
    const bodies: unknown[] = [
      null,
      [],
      'a string',
      42,
      true,
      {},
      [null],
      { name: null, connectionSpec: null },
      { name: 'x', connectionSpec: { id: null, version: null } },
      { name: 'x', connectionSpec: EH_SPEC, auth: null },
      { name: 'x', connectionSpec: EH_SPEC, auth: { specName: 1, params: [] } },
      {
        name: 'x',
        connectionSpec: EH_SPEC,
        auth: { specName: 'x', params: 'y' },
      },
      { name: 'x'.repeat(10_000), connectionSpec: EH_SPEC },
      { __proto__: { polluted: true }, name: 'x' },
      { constructor: { prototype: { polluted: true } } },
    ];
    const targets: [string, string][] = [
      ['post', 'connections'],
      ['post', 'sourceConnections'],
      ['post', 'targetConnections'],
      ['post', 'flows'],
      ['patch', `flows/${flow.id}`],
      ['patch', `connections/${flow.destination.base.id}`],
      ['patch', `targetConnections/${flow.destination.target.id}`],
      ['post', 'connections/abc'],
      ['put', `flows/${flow.id}`],
    ];
    const patchBodies: unknown[] = [
      [{ op: 'add', path: '/transformations/0/params', value: null }],
      [{ op: 'replace', path: '/transformations', value: null }],
      [{ op: 'replace', path: '/transformations', value: [null] }],
      [{ op: 'remove', path: '/transformations/0' }],
      [{ op: 'remove', path: '/transformations/0/params' }],
      [
        {
          op: 'add',
          path: '/transformations/0/params/segmentSelectors',
          value: {},
        },
      ],
      [
        {
          op: 'add',
          path: '/transformations/0/params/segmentSelectors/selectors/-',
          value: null,
        },
      ],
      [{ op: 'replace', path: '/auth', value: null }],
      [{ op: 'replace', path: '/auth/params', value: 'x' }],
      [{ op: 'replace', path: '/auth/params', value: null }],
      [{ op: 'remove', path: '/auth' }],
      [{ op: 'replace', path: '/params', value: null }],
      [{ op: 'replace', path: '/params', value: [] }],
      [{ op: 'replace', path: '/description', value: null }],
      [{ op: 'remove', path: '/name' }],
      [{ op: 'add', path: '/name/x', value: 1 }],
      [{ op: 'replace', path: '/', value: {} }],
      [{ op: 'replace', path: '', value: {} }],
      [{ op: 'add', path: '/__proto__/polluted', value: true }],
      [{ op: 5, path: 5 }],
    ];
    const failures: string[] = [];
    for (const [method, path] of targets) {
      const current = await t.http
        .get(`${FS}/${path.replace(/\/.*$/, '')}/${path.split('/')[1] ?? ''}`)
        .set(tenant.headers);
      const etag =
        (current.body as { items?: { etag: string }[] }).items?.[0]?.etag ??
        '"none"';
      for (const body of method === 'patch'
        ? [...bodies, ...patchBodies]
        : bodies) {
        const res = await (
          t.http as unknown as Record<
            string,
            (url: string) => ReturnType<typeof t.http.post>
          >
        )[method]!(`${FS}/${path}`)
          .set(tenant.headers)
          .set('if-match', etag)
          .set('content-type', 'application/json')
          .send(JSON.stringify(body));
        // Some of these are legitimate edits (clearing a description); none may be a 500.
        if (res.status >= 500 || (method === 'post' && res.status < 400))
          failures.push(
            `${method} ${path} ${JSON.stringify(body)} → ${res.status}`,
          );
      }
    }
    expect(failures).toEqual([]);
    for (const path of [
      `flows?property=${'a'.repeat(3000)}==1`,
      'flows?orderby=,,,',
      'flows?orderby=-',
      'flows?property=transformations[]]==1',
      'flows?property=__proto__.x==1',
      'flows?property=constructor.name==Object',
      'flows?limit=1&limit=2',
      'flows?count=true&count=false',
      'flows?continuationToken=a&continuationToken=b',
      'flows?property[a]=b',
      `flows/${flow.id}/action?op[]=enable`,
      'flows/%E0%A4%A',
      'runs?property=metrics.recordSummary.targetSummaries[].entitySummaries[].id==segment:x',
    ]) {
      const method = path.includes('/action') ? 'post' : 'get';
      const res = await t.http[method](`${FS}/${path}`).set(tenant.headers);
      expect(res.status, path).toBeLessThan(500);
      if (res.status >= 400 && res.headers['content-type']?.includes('json')) {
        expect(res.body.code ?? res.body.error_code, path).toBeDefined();
      }
    }
    const still = await t.http
      .get(`${FS}/flows/${flow.id}`)
      .set(tenant.headers)
      .expect(200);
    expect(still.body.items[0].state).toBe('enabled');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('gives every Flow Service error the full body', async () => {
    const responses = await Promise.all([
      t.http.get(`${FS}/flows/${MISSING_ID}`).set(tenant.headers),
      t.http.get(`${FS}/flows?orderby=bogus`).set(tenant.headers),
      t.http
        .patch(`${FS}/flows/${flow.id}`)
        .set(tenant.headers)
        .send([{ op: 'replace', path: '/name', value: 'x' }]),
      t.http
        .get(`${FS}/flows`)
        .set({ ...tenant.headers, 'x-sandbox-name': 'none' }),
    ]);
    for (const res of responses) {
      expect(Object.keys(res.body as object).sort()).toEqual([
        'code',
        'errorDetails',
        'errorMessage',
        'message',
        'requestId',
      ]);
      expect(res.body.code).toMatch(/^\d{4}-\d{3}$/);
      expect(res.body.code.endsWith(String(res.status))).toBe(true);
    }
  });
});
