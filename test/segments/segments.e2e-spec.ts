import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SegmentsService } from '../../src/segments/segments.service.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { createSegment, type SegmentBody } from '../helpers/segments.js';

const BASE = '/data/core/ups/segment/definitions';
const errorShape = {
  code: expect.stringMatching(/^\d{4}-\d{3}$/),
  message: expect.any(String),
  errorMessage: expect.any(String),
  requestId: expect.any(String),
};

describe('segment definitions API', () => {
  let t: TestApp;
  let tenant: TestTenant;
  beforeAll(async () => {
    t = await createTestApp();
    tenant = await createTenant(t);
  });
  afterAll(async () => t.close());

  it('creates (200, Adobe shape), gets, lists with paging, overwrites and deletes', async () => {
    const created = await createSegment(
      t,
      tenant,
      'Adults',
      'person.age >= 18',
    );
    expect(created).toMatchObject({
      name: 'Adults',
      schema: { name: '_xdm.context.profile' },
      profileInstanceId: 'ups',
      imsOrgId: tenant.orgId,
      sandbox: { sandboxName: 'prod', default: true },
      expression: {
        type: 'PQL',
        format: 'pql/text',
        value: 'person.age >= 18',
      },
      evaluationJob: { status: 'queued', kind: 'evaluate' },
    });
    expect(typeof created.creationTime).toBe('number');
    expect(typeof created.updateEpoch).toBe('number');

    const got = await t.http
      .get(`${BASE}/${created.id}`)
      .set(tenant.headers)
      .expect(200);
    expect((got.body as SegmentBody).id).toBe(created.id);

    await createSegment(t, tenant, 'Bravo', 'person.age < 18');
    await createSegment(t, tenant, 'Charlie', 'homeAddress.countryCode = "US"');
    const page = await t.http
      .get(BASE)
      .query({ start: 1, limit: 1, sort: 'name:asc' })
      .set(tenant.headers)
      .expect(200);
    expect(page.body).toMatchObject({
      segments: [{ name: 'Bravo' }],
      page: {
        totalCount: 3,
        totalPages: 3,
        sortField: 'name',
        sort: 'asc',
        pageSize: 1,
        limit: 1,
      },
    });
    expect((page.body as { link: { next: string } }).link.next).toContain(
      'start=2',
    );

    // GET → edit → PATCH round trip (read-only fields are accepted and ignored).
    const patched = await t.http
      .patch(`${BASE}/${created.id}`)
      .set(tenant.headers)
      .send({
        ...(got.body as object),
        description: 'grown-ups',
        expression: {
          type: 'PQL',
          format: 'pql/text',
          value: 'person.age >= 21',
        },
      })
      .expect(200);
    expect(patched.body).toMatchObject({
      id: created.id,
      description: 'grown-ups',
      expression: { value: 'person.age >= 21' },
    });
    // A changed expression queues a new evaluation and cancels the old one.
    const newJob = (patched.body as SegmentBody).evaluationJob;
    expect(newJob?.id).not.toBe(created.evaluationJob?.id);
    const oldJob = await t.http
      .get(`/data/core/ups/segment/jobs/${created.evaluationJob?.id}`)
      .set(tenant.headers)
      .expect(200);
    expect(oldJob.body).toMatchObject({ status: 'cancelled' });

    const summaries = await t.app
      .get(SegmentsService)
      .findByIds({ orgId: tenant.orgId, sandboxName: 'prod' }, [
        created.id,
        randomUUID(),
      ]);
    expect(summaries).toEqual([
      expect.objectContaining({
        id: created.id,
        name: 'Adults',
        createdAt: expect.any(Date),
        updatedAt: expect.any(Date),
      }),
    ]);

    const del = await t.http
      .delete(`${BASE}/${created.id}`)
      .set(tenant.headers)
      .expect(200);
    expect(del.body).toMatchObject({ status: true });
    await t.http.get(`${BASE}/${created.id}`).set(tenant.headers).expect(404);
  });

  it('rejects duplicates (422), bad PQL (400 naming the position) and bad bodies (400)', async () => {
    const tn = await createTenant(t);
    await createSegment(t, tn, 'Dup', 'a = 1');
    const dup = await t.http
      .post(BASE)
      .set(tn.headers)
      .send({
        name: 'Dup',
        expression: { type: 'PQL', format: 'pql/text', value: 'a = 2' },
      })
      .expect(422);
    expect(dup.body).toMatchObject(errorShape);

    const bad = await t.http
      .post(BASE)
      .set(tn.headers)
      .send({
        name: 'Bad',
        expression: {
          type: 'PQL',
          format: 'pql/text',
          value: 'person.age >= ',
        },
      })
      .expect(400);
    expect(bad.body).toMatchObject(errorShape);
    expect((bad.body as { message: string }).message).toMatch(/column \d+/);
    expect((bad.body as { details: { path: string }[] }).details[0]?.path).toBe(
      'expression.value',
    );

    const unsupported = await t.http
      .post(BASE)
      .set(tn.headers)
      .send({
        name: 'Events',
        expression: {
          type: 'PQL',
          format: 'pql/text',
          value: 'exists E from xEvent where (E.x = 1)',
        },
      })
      .expect(400);
    expect((unsupported.body as { message: string }).message).toMatch(
      /line 1, column/,
    );

    for (const body of [
      {},
      { name: 'x' },
      {
        name: '',
        expression: { type: 'PQL', format: 'pql/text', value: 'a = 1' },
      },
      {
        name: 'x',
        expression: { type: 'SQL', format: 'pql/text', value: 'a = 1' },
      },
      {
        name: 'x',
        expression: { type: 'PQL', format: 'pql/json', value: 'a = 1' },
      },
      {
        name: 'x',
        expression: { type: 'PQL', format: 'pql/text', value: 'a = 1' },
        bogus: true,
      },
      {
        name: 'x',
        expression: { type: 'PQL', format: 'pql/text', value: 'a = 1' },
        schema: { name: 'other' },
      },
    ]) {
      const res = await t.http.post(BASE).set(tn.headers).send(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject(errorShape);
    }
    await t.http.get(`${BASE}/not-a-uuid`).set(tn.headers).expect(400);
    await t.http.get(`${BASE}/${randomUUID()}`).set(tn.headers).expect(404);
    await t.http.get(BASE).query({ limit: 0 }).set(tn.headers).expect(400);
    await t.http.get(BASE).query({ sort: 'id:up' }).set(tn.headers).expect(400);
    await t.http.get(BASE).query({ nope: 1 }).set(tn.headers).expect(400);
    await t.http
      .get(`/data/core/ups/segment/jobs/${randomUUID()}`)
      .set(tn.headers)
      .expect(404);

    // PATCH to another segment's name is a duplicate too.
    const other = await createSegment(t, tn, 'Other', 'a = 3');
    await t.http
      .patch(`${BASE}/${other.id}`)
      .set(tn.headers)
      .send({
        name: 'Dup',
        expression: { type: 'PQL', format: 'pql/text', value: 'a = 3' },
      })
      .expect(422);
    await t.http
      .patch(`${BASE}/${other.id}`)
      .set(tn.headers)
      .send({
        name: 'Other',
        expression: { type: 'PQL', format: 'pql/text', value: 'a = (' },
      })
      .expect(400);
  });

  it('refuses to delete a segment used by a flow of the same sandbox (400)', async () => {
    const tn = await createTenant(t);
    const seg = await createSegment(t, tn, 'Used', 'a = 1');
    const ds = t.app.get(DataSource);
    const [{ sandbox_id: sandboxId }] = (await ds.query(
      'SELECT id AS sandbox_id FROM sandboxes WHERE org_id = $1 AND name = $2',
      [tn.orgId, 'prod'],
    )) as [{ sandbox_id: string }];
    await ds.query(
      `INSERT INTO flows (org_id, sandbox_name, sandbox_id, name, state, version, created_by, updated_by,
                          created_client, updated_client, flow_spec_id, flow_spec_version,
                          source_connection_ids, target_connection_ids, transformations)
       VALUES ($1, 'prod', $2, 'f', 'enabled', gen_random_uuid(), 'c', 'c', 'c', 'c', gen_random_uuid(), '1.0',
               '{}', '{}', $3::jsonb)`,
      [
        tn.orgId,
        sandboxId,
        JSON.stringify([
          {
            name: 'GeneralTransform',
            params: {
              segmentSelectors: {
                selectors: [
                  { type: 'PLATFORM_SEGMENT', value: { id: seg.id } },
                ],
              },
            },
          },
        ]),
      ],
    );
    const res = await t.http
      .delete(`${BASE}/${seg.id}`)
      .set(tn.headers)
      .expect(400);
    expect(res.body).toMatchObject(errorShape);
    await t.http.get(`${BASE}/${seg.id}`).set(tn.headers).expect(200);

    // Another org's flow referencing the same id does not block (and cannot see it).
    const other = await createTenant(t);
    const mine = await createSegment(t, other, 'Mine', 'a = 1');
    await t.http.delete(`${BASE}/${mine.id}`).set(other.headers).expect(200);
  });

  it('keeps tenants apart', async () => {
    const a = await createTenant(t);
    const b = await createTenant(t);
    const seg = await createSegment(t, a, 'Private', 'a = 1');
    await t.http.get(`${BASE}/${seg.id}`).set(b.headers).expect(404);
    await t.http
      .patch(`${BASE}/${seg.id}`)
      .set(b.headers)
      .send({
        name: 'Hijack',
        expression: { type: 'PQL', format: 'pql/text', value: 'a = 2' },
      })
      .expect(404);
    await t.http.delete(`${BASE}/${seg.id}`).set(b.headers).expect(404);
    await t.http
      .get(`/data/core/ups/segment/jobs/${seg.evaluationJob?.id}`)
      .set(b.headers)
      .expect(404);
    const list = await t.http.get(BASE).set(b.headers).expect(200);
    expect((list.body as { segments: unknown[] }).segments).toEqual([]);
    // The same name is free in another org.
    await createSegment(t, b, 'Private', 'a = 1');
  });
});
