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
  EH_SPEC,
  expectError,
  flowBody,
  FS,
  PROFILE_SPEC,
} from '../helpers/resources.js';

/** Well-formed ids that no RFC 4122 validator accepts (version and variant nibbles 1, 0, f…). */
const ODD_IDS = [
  '11111111-1111-1111-1111-111111111111',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'ABCDEF01-2345-6789-0ABC-DEF012345678',
];

describe('ids are looked up, not judged', () => {
  let t: TestApp;
  let tenant: TestTenant;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await createTenant(t);
  });
  afterAll(async () => t.close());

  it("answers 404 with Adobe's text for any well-formed id that does not exist, on every resource", async () => {
    for (const resource of [
      'connections',
      'sourceConnections',
      'targetConnections',
      'flows',
      'runs',
      'connectionSpecs',
      'flowSpecs',
    ]) {
      for (const id of ODD_IDS) {
        const res = await t.http
          .get(`${FS}/${resource}/${id}`)
          .set(tenant.headers);
        expect(res.status, `${resource}/${id}`).toBe(404);
        expectError(res.body, '1101-404');
        expect(res.body.message).toBe(
          `${resource} not found with id = [${id}]`,
        );
      }
    }
    const id = ODD_IDS[0]!;
    for (const [method, path] of [
      ['delete', `connections/${id}`],
      ['delete', `flows/${id}`],
      ['post', `flows/${id}/action?op=enable`],
    ] as const) {
      const res = await t.http[method](`${FS}/${path}`).set(tenant.headers);
      expect(res.status, `${method} ${path}`).toBe(404);
    }
  });

  it('keeps a 400 for a malformed id', async () => {
    for (const id of [
      'not-a-uuid',
      '11111111-1111-1111-1111-11111111111',
      '11111111111111111111111111111111',
      '1111111g-1111-1111-1111-111111111111',
    ]) {
      const res = await t.http.get(`${FS}/flows/${id}`).set(tenant.headers);
      expect(res.status, id).toBe(400);
      expect(res.body.message).toMatch(/8-4-4-4-12/);
    }
  });

  it('answers 404 for body ids that do not exist, 400 for malformed ones', async () => {
    const d = await createDestination(t, tenant);
    const odd = ODD_IDS[0]!;
    const target = await t.http
      .post(`${FS}/targetConnections`)
      .set(tenant.headers)
      .send({
        name: 't',
        baseConnectionId: odd,
        connectionSpec: EH_SPEC,
        data: { format: 'json' },
        params: { eventHubName: 'profiles' },
      });
    expect(target.status, JSON.stringify(target.body)).toBe(404);
    expect(target.body.message).toBe(
      `connections not found with id = [${odd}]`,
    );
    const source = await t.http
      .post(`${FS}/sourceConnections`)
      .set(tenant.headers)
      .send({ name: 's', baseConnectionId: odd, connectionSpec: PROFILE_SPEC });
    expect(source.status).toBe(404);

    const noSource = await t.http
      .post(`${FS}/flows`)
      .set(tenant.headers)
      .send(flowBody(odd, d.target.id));
    expect(noSource.status, JSON.stringify(noSource.body)).toBe(404);
    expect(noSource.body.message).toBe(
      `sourceConnections not found with id = [${odd}]`,
    );
    const noTarget = await t.http
      .post(`${FS}/flows`)
      .set(tenant.headers)
      .send(flowBody(d.source.id, odd));
    expect(noTarget.status).toBe(404);
    expect(noTarget.body.message).toBe(
      `targetConnections not found with id = [${odd}]`,
    );

    const malformed = await t.http
      .post(`${FS}/flows`)
      .set(tenant.headers)
      .send(flowBody(d.source.id, 'nope'));
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toMatch(/targetConnectionIds.*8-4-4-4-12/);
    // A catalogue reference that is well formed but unknown is Adobe's invalid-spec 400.
    const spec = await t.http
      .post(`${FS}/connections`)
      .set(tenant.headers)
      .send({ name: 'x', connectionSpec: { id: odd, version: '1.0' } });
    expect(spec.status).toBe(400);
    expectError(spec.body, '1413-400');
  });

  it('finds an existing id whatever the case of its hex digits', async () => {
    const created = await createConnection(t, tenant);
    const res = await t.http
      .get(`${FS}/connections/${created.id.toUpperCase()}`)
      .set(tenant.headers);
    expect(res.status).toBe(200);
    expect(res.body.items[0].id).toBe(created.id);
  });
});
