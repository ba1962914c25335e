import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import {
  createConnection,
  createDestination,
  createFlow,
  createProfileConnection,
  createSource,
  createTarget,
  EH_SPEC,
  expectError,
  FLOW_SPEC,
  flowBody,
  FS,
  getItem,
  MISSING_ID,
  PROFILE_SPEC,
  segmentSelector,
} from '../helpers/resources.js';

interface Flow {
  id: string;
  name: string;
  description: string;
  state: string;
  etag: string;
  version: string;
  transformations: {
    name: string;
    params: {
      profileSelectors: {
        selectors: { type: string; value: { path: string } }[];
      };
      segmentSelectors: {
        selectors: { type: string; value: { id: string } }[];
      };
    };
  }[];
  [k: string]: unknown;
}

const SELECTORS = '/transformations/0/params/segmentSelectors/selectors';
const PROFILE = '/transformations/0/params/profileSelectors/selectors';

describe('flows', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  const getFlow = (tenant: TestTenant, id: string) =>
    getItem<Flow>(t, tenant, `flows/${id}`);
  const patch = (
    tenant: TestTenant,
    id: string,
    etag: string | undefined,
    ops: unknown,
  ) => {
    const req = t.http.patch(`${FS}/flows/${id}`).set(tenant.headers);
    if (etag !== undefined) req.set('if-match', etag);
    return req.send(ops as object);
  };

  describe('create and get', () => {
    it('creates an enabled flow and returns it with inheritedAttributes', async () => {
      const tenant = await createTenant(t);
      const d = await createDestination(t, tenant);
      const seg = randomUUID();
      const res = await t.http
        .post(`${FS}/flows`)
        .set(tenant.headers)
        .send(
          flowBody(d.source.id, d.target.id, {
            transformations: [
              {
                name: 'GeneralTransform',
                params: {
                  profileSelectors: {
                    selectors: [
                      {
                        type: 'JSON_PATH',
                        value: { path: 'personalEmail.address' },
                      },
                    ],
                  },
                  segmentSelectors: {
                    selectors: [segmentSelector(seg, 'Men over 50')],
                  },
                },
              },
            ],
          }),
        )
        .expect(201);
      expect(res.headers.location).toBe(`${FS}/flows/${res.body.id}`);
      const flow = await getFlow(tenant, res.body.id as string);
      expect(flow).toMatchObject({
        id: res.body.id,
        name: 'Azure Event Hubs',
        flowSpec: FLOW_SPEC,
        state: 'enabled',
        etag: res.body.etag,
        sourceConnectionIds: [d.source.id],
        targetConnectionIds: [d.target.id],
        imsOrgId: tenant.orgId,
        sandboxName: 'prod',
        inheritedAttributes: {
          properties: { isDestinationFlow: true },
          sourceConnections: [
            {
              id: d.source.id,
              connectionSpec: PROFILE_SPEC,
              baseConnection: {
                id: d.profileBase.id,
                connectionSpec: PROFILE_SPEC,
              },
              typeInfo: { type: 'ProfileFragments', id: 'ups' },
            },
          ],
          targetConnections: [
            {
              id: d.target.id,
              connectionSpec: EH_SPEC,
              baseConnection: { id: d.base.id, connectionSpec: EH_SPEC },
            },
          ],
        },
        transformations: [
          {
            name: 'GeneralTransform',
            params: {
              profileSelectors: {
                selectors: [
                  {
                    type: 'JSON_PATH',
                    value: {
                      path: 'personalEmail.address',
                      operator: 'EXISTS',
                    },
                  },
                ],
              },
              segmentSelectors: {
                selectors: [
                  {
                    type: 'PLATFORM_SEGMENT',
                    value: { id: seg, name: 'Men over 50' },
                  },
                ],
              },
            },
          },
        ],
        runs: `/runs?property=flowId==${res.body.id}`,
        lastOperation: { operation: 'create' },
      });
    });

    it('rejects state (1410-400), wrong flow specs (1413-400) and unknown connections (404)', async () => {
      const tenant = await createTenant(t);
      const d = await createDestination(t, tenant);
      const withState = await t.http
        .post(`${FS}/flows`)
        .set(tenant.headers)
        .send(flowBody(d.source.id, d.target.id, { state: 'enabled' }))
        .expect(400);
      expectError(
        withState.body,
        '1410-400',
        '`State` is not allowed in the create flow request.',
      );
      for (const flowSpec of [
        { id: MISSING_ID, version: '1.0' },
        { ...FLOW_SPEC, version: '9.9' },
      ]) {
        const res = await t.http
          .post(`${FS}/flows`)
          .set(tenant.headers)
          .send(flowBody(d.source.id, d.target.id, { flowSpec }))
          .expect(400);
        expectError(res.body, '1413-400');
      }
      const noSource = await t.http
        .post(`${FS}/flows`)
        .set(tenant.headers)
        .send(flowBody(MISSING_ID, d.target.id))
        .expect(404);
      expectError(
        noSource.body,
        '1101-404',
        `sourceConnections not found with id = [${MISSING_ID}]`,
      );
      const noTarget = await t.http
        .post(`${FS}/flows`)
        .set(tenant.headers)
        .send(flowBody(d.source.id, MISSING_ID))
        .expect(404);
      expectError(
        noTarget.body,
        '1101-404',
        `targetConnections not found with id = [${MISSING_ID}]`,
      );
      // Source and target swapped: the flow spec does not accept them.
      const swapped = await t.http
        .post(`${FS}/flows`)
        .set(tenant.headers)
        .send(flowBody(d.target.id, d.source.id));
      expect(swapped.status).toBeGreaterThanOrEqual(400);
      expect(swapped.status).toBeLessThan(500);
      const badSelector = await t.http
        .post(`${FS}/flows`)
        .set(tenant.headers)
        .send(
          flowBody(d.source.id, d.target.id, {
            transformations: [
              {
                name: 'GeneralTransform',
                params: {
                  segmentSelectors: {
                    selectors: [{ type: 'SEGMENT', value: { id: 'x' } }],
                  },
                },
              },
            ],
          }),
        )
        .expect(400);
      expectError(badSelector.body, '1100-400');
      expect(JSON.stringify(badSelector.body.details)).toContain('type');
      const list = await t.http
        .get(`${FS}/flows?count=true`)
        .set(tenant.headers)
        .expect(200);
      expect(list.body).toEqual({ count: 0 });
    });

    it('lists flows and deletes one: 202 then 404', async () => {
      const tenant = await createTenant(t);
      const d = await createDestination(t, tenant);
      const a = await createFlow(t, tenant, { name: 'a' }, d);
      const b = await createFlow(t, tenant, { name: 'b' }, d);
      const list = await t.http
        .get(`${FS}/flows`)
        .set(tenant.headers)
        .expect(200);
      expect((list.body.items as Flow[]).map((f) => f.id).sort()).toEqual(
        [a.id, b.id].sort(),
      );
      const del = await t.http
        .delete(`${FS}/flows/${a.id}`)
        .set(tenant.headers)
        .expect(202);
      expect(del.text).toBe('');
      const gone = await t.http
        .get(`${FS}/flows/${a.id}`)
        .set(tenant.headers)
        .expect(404);
      expectError(gone.body, '1101-404', `flows not found with id = [${a.id}]`);
      await t.http
        .delete(`${FS}/flows/${a.id}`)
        .set(tenant.headers)
        .expect(404);
      const after = await t.http
        .get(`${FS}/flows`)
        .set(tenant.headers)
        .expect(200);
      expect((after.body.items as Flow[]).map((f) => f.id)).toEqual([b.id]);
    });
  });

  describe('PATCH with JSON Patch', () => {
    it('adds segment and profile selectors, removes by index, renames', async () => {
      const tenant = await createTenant(t);
      const flow = await createFlow(t, tenant);
      const [s1, s2, s3] = [randomUUID(), randomUUID(), randomUUID()];
      const added = await patch(tenant, flow.id, flow.etag, [
        { op: 'add', path: `${SELECTORS}/-`, value: segmentSelector(s1) },
        { op: 'add', path: `${SELECTORS}/-`, value: segmentSelector(s2) },
        { op: 'add', path: `${SELECTORS}/-`, value: segmentSelector(s3) },
        {
          op: 'add',
          path: `${PROFILE}/-`,
          value: {
            type: 'JSON_PATH',
            value: { operator: 'EXISTS', path: 'personalEmail.address' },
          },
        },
        // UDD's sample: a profile selector with only a path.
        {
          op: 'add',
          path: `${PROFILE}/-`,
          value: { type: 'JSON_PATH', value: { path: 'mobilePhone.status' } },
        },
      ]).expect(200);
      expect(added.body).toEqual({ id: flow.id, etag: expect.any(String) });
      expect(added.body.etag).not.toBe(flow.etag);
      let current = await getFlow(tenant, flow.id);
      expect(current.etag).toBe(added.body.etag);
      const params = current.transformations[0]?.params;
      expect(params?.segmentSelectors.selectors.map((s) => s.value.id)).toEqual(
        [s1, s2, s3],
      );
      expect(params?.profileSelectors.selectors).toEqual([
        {
          type: 'JSON_PATH',
          value: { operator: 'EXISTS', path: 'personalEmail.address' },
        },
        {
          type: 'JSON_PATH',
          value: { operator: 'EXISTS', path: 'mobilePhone.status' },
        },
      ]);
      // Sequential RFC 6902 semantics: removing 0 then 1 removes the original 0 and 2.
      const removed = await patch(tenant, flow.id, current.etag, [
        {
          op: 'remove',
          path: `${SELECTORS}/0`,
          value: { type: 'PLATFORM_SEGMENT', value: {} },
        },
        { op: 'remove', path: `${SELECTORS}/1` },
        { op: 'replace', path: '/name', value: '2021/2022 winter campaign' },
      ]).expect(200);
      current = await getFlow(tenant, flow.id);
      expect(current.etag).toBe(removed.body.etag);
      expect(current.name).toBe('2021/2022 winter campaign');
      expect(
        current.transformations[0]?.params.segmentSelectors.selectors.map(
          (s) => s.value.id,
        ),
      ).toEqual([s2]);
      expect(current.lastOperation).toMatchObject({ operation: 'update' });
    });

    it('accepts ops in any case and the if-match query parameter', async () => {
      const tenant = await createTenant(t);
      const flow = await createFlow(t, tenant);
      const res = await t.http
        .patch(`${FS}/flows/${flow.id}`)
        .query({ 'if-match': flow.etag })
        .set(tenant.headers)
        .send([
          { op: 'REPLACE', path: '/name', value: 'upper' },
          {
            op: 'Add',
            path: `${SELECTORS}/-`,
            value: segmentSelector(randomUUID()),
          },
        ])
        .expect(200);
      const current = await getFlow(tenant, flow.id);
      expect(current).toMatchObject({ name: 'upper', etag: res.body.etag });
      expect(
        current.transformations[0]?.params.segmentSelectors.selectors,
      ).toHaveLength(1);
    });

    it('rejects move (1434-400) and read-only paths, changing nothing', async () => {
      const tenant = await createTenant(t);
      const flow = await createFlow(t, tenant);
      const move = await patch(tenant, flow.id, flow.etag, [
        { op: 'move', from: '/name', path: '/description' },
      ]).expect(400);
      expectError(
        move.body,
        '1434-400',
        "Unsupported operation 'move' received.",
      );
      for (const op of ['copy', 'test']) {
        const res = await patch(tenant, flow.id, flow.etag, [
          { op, from: '/name', path: '/description', value: 'x' },
        ]).expect(400);
        expectError(res.body, '1434-400');
      }
      for (const [path, value] of [
        ['/state', 'disabled'],
        ['/id', MISSING_ID],
        ['/flowSpec', FLOW_SPEC],
        ['/flowSpec/id', MISSING_ID],
        ['/etag', '"x"'],
        ['/createdAt', 1],
      ] as const) {
        const res = await patch(tenant, flow.id, flow.etag, [
          { op: 'replace', path, value },
        ]);
        expect(res.status, path).toBe(400);
        expect(res.body.code, path).toMatch(/^14\d\d-400$/);
      }
      const current = await getFlow(tenant, flow.id);
      expect(current).toMatchObject({
        state: 'enabled',
        etag: flow.etag,
        name: 'Azure Event Hubs',
      });
    });

    it('validates the patched document like a create and is atomic', async () => {
      const tenant = await createTenant(t);
      const flow = await createFlow(t, tenant);
      const cases: unknown[][] = [
        [
          {
            op: 'add',
            path: `${SELECTORS}/-`,
            value: { type: 'BAD', value: { id: 'x' } },
          },
        ],
        [
          {
            op: 'add',
            path: `${SELECTORS}/-`,
            value: { type: 'PLATFORM_SEGMENT', value: {} },
          },
        ],
        [
          {
            op: 'add',
            path: `${PROFILE}/-`,
            value: { type: 'JSON_PATH', value: { path: 'not a path' } },
          },
        ],
        [
          {
            op: 'add',
            path: `${SELECTORS}/-`,
            value: { type: 'PLATFORM_SEGMENT', value: { id: 'a', extra: 1 } },
          },
        ],
        [{ op: 'replace', path: '/name', value: '' }],
        [{ op: 'replace', path: '/name', value: 42 }],
        [
          {
            op: 'add',
            path: '/transformations/-',
            value: { name: 'GeneralTransform', params: {} },
          },
        ],
        // A good op followed by a bad one: nothing is applied.
        [
          { op: 'replace', path: '/name', value: 'half applied' },
          {
            op: 'add',
            path: `${SELECTORS}/-`,
            value: segmentSelector(randomUUID()),
          },
          { op: 'remove', path: `${SELECTORS}/5` },
        ],
        [
          { op: 'replace', path: '/name', value: 'half applied' },
          { op: 'replace', path: '/state', value: 'disabled' },
        ],
        [{ op: 'remove', path: '/nonexistent' }],
        [{ op: 'replace', path: '/name' }],
        [],
      ];
      for (const ops of cases) {
        const res = await patch(tenant, flow.id, flow.etag, ops);
        expect(res.status, JSON.stringify(ops)).toBe(400);
        expectError(
          res.body,
          expect.stringMatching(/^1\d{3}-400$/) as unknown as string,
        );
      }
      const notArray = await patch(tenant, flow.id, flow.etag, {
        op: 'replace',
        path: '/name',
        value: 'x',
      });
      expect(notArray.status).toBe(400);
      const badItem = await patch(tenant, flow.id, flow.etag, [null]);
      expect(badItem.status).toBe(400);
      const current = await getFlow(tenant, flow.id);
      expect(current).toMatchObject({
        name: 'Azure Event Hubs',
        etag: flow.etag,
      });
      expect(
        current.transformations[0]?.params.segmentSelectors.selectors,
      ).toEqual([]);
    });
  });

  describe('etags', () => {
    it('needs If-Match (1403-400); stale or unquoted is 1404-412', async () => {
      const tenant = await createTenant(t);
      const flow = await createFlow(t, tenant);
      const ops = [{ op: 'replace', path: '/name', value: 'x' }];
      const missing = await patch(tenant, flow.id, undefined, ops).expect(400);
      expectError(
        missing.body,
        '1403-400',
        "The header 'If-Match' is missing in the request.",
      );
      const updated = await patch(tenant, flow.id, flow.etag, ops).expect(200);
      const stale = await patch(tenant, flow.id, flow.etag, ops).expect(412);
      expectError(
        stale.body,
        '1404-412',
        `Supplied version=[${flow.etag}] does not match the current version on entity=[${updated.body.etag}]`,
      );
      const unquoted = await patch(
        tenant,
        flow.id,
        (updated.body.etag as string).replace(/"/g, ''),
        ops,
      ).expect(412);
      expectError(unquoted.body, '1404-412');
      await patch(tenant, flow.id, updated.body.etag, ops).expect(200);
    });

    it('applies the same rules to connections, source and target connections', async () => {
      const tenant = await createTenant(t);
      const base = await createConnection(t, tenant);
      const target = await createTarget(t, tenant, base.id);
      const source = await createSource(
        t,
        tenant,
        (await createProfileConnection(t, tenant)).id,
      );
      for (const [resource, c] of [
        ['connections', base],
        ['targetConnections', target],
        ['sourceConnections', source],
      ] as const) {
        const url = `${FS}/${resource}/${c.id}`;
        const ops = [{ op: 'replace', path: '/name', value: 'renamed' }];
        const missing = await t.http
          .patch(url)
          .set(tenant.headers)
          .send(ops)
          .expect(400);
        expectError(missing.body, '1403-400');
        const unquoted = await t.http
          .patch(url)
          .set(tenant.headers)
          .set('if-match', c.etag.replace(/"/g, ''))
          .send(ops)
          .expect(412);
        expectError(unquoted.body, '1404-412');
        const ok = await t.http
          .patch(url)
          .query({ 'if-match': c.etag })
          .set(tenant.headers)
          .send(ops)
          .expect(200);
        expect(ok.body.etag).not.toBe(c.etag);
        await t.http
          .patch(url)
          .set(tenant.headers)
          .set('if-match', c.etag)
          .send(ops)
          .expect(412);
        expect((await getItem(t, tenant, `${resource}/${c.id}`)).name).toBe(
          'renamed',
        );
      }
    });
  });

  describe('actions', () => {
    it('disables and enables (case-insensitive), 1422-400 when already in that state', async () => {
      const tenant = await createTenant(t);
      const flow = await createFlow(t, tenant);
      const already = await t.http
        .post(`${FS}/flows/${flow.id}/action?op=enable`)
        .set(tenant.headers)
        .expect(400);
      expectError(
        already.body,
        '1422-400',
        'The action enable cannot be applied on the current state enabled.',
      );
      const disabled = await t.http
        .post(`${FS}/flows/${flow.id}/action?op=DISABLE`)
        .set(tenant.headers)
        .expect(200);
      expect(disabled.body).toEqual({ id: flow.id, etag: expect.any(String) });
      expect(disabled.body.etag).not.toBe(flow.etag);
      let current = await getFlow(tenant, flow.id);
      expect(current).toMatchObject({
        state: 'disabled',
        etag: disabled.body.etag,
      });
      expect(current.lastOperation).toMatchObject({ operation: 'disable' });
      const again = await t.http
        .post(`${FS}/flows/${flow.id}/action?op=disable`)
        .set(tenant.headers)
        .expect(400);
      expectError(again.body, '1422-400');
      const enabled = await t.http
        .post(`${FS}/flows/${flow.id}/action?op=Enable&subOp=apply`)
        .set(tenant.headers)
        .expect(200);
      current = await getFlow(tenant, flow.id);
      expect(current).toMatchObject({
        state: 'enabled',
        etag: enabled.body.etag,
      });
      expect(enabled.body.etag).not.toBe(disabled.body.etag);
    });

    it('rejects unknown ops and sub-ops, honours an optional If-Match', async () => {
      const tenant = await createTenant(t);
      const flow = await createFlow(t, tenant);
      for (const q of ['', '?op=publish', '?op=enable&subOp=PROGRESS']) {
        const res = await t.http
          .post(`${FS}/flows/${flow.id}/action${q}`)
          .set(tenant.headers)
          .expect(400);
        expectError(res.body, '1436-400');
      }
      const stale = await t.http
        .post(`${FS}/flows/${flow.id}/action?op=disable`)
        .set(tenant.headers)
        .set('if-match', '"stale"')
        .expect(412);
      expectError(stale.body, '1404-412');
      await t.http
        .post(`${FS}/flows/${flow.id}/action?op=disable`)
        .set(tenant.headers)
        .set('if-match', flow.etag)
        .expect(200);
      const missing = await t.http
        .post(`${FS}/flows/${MISSING_ID}/action?op=disable`)
        .set(tenant.headers)
        .expect(404);
      expectError(missing.body, '1101-404');
    });
  });
});
