import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SegmentWorker } from '../../src/segments/segment-worker.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { email, ingest } from '../helpers/profiles.js';
import { createSegment } from '../helpers/segments.js';
import { eventually } from '../helpers/wait.js';

interface Metrics {
  status: string;
  countedAt: number | null;
  totalProfiles: number | null;
  segmentedProfileCounter: Record<string, number>;
  segmentedProfileByStatusCounter: Record<
    string,
    { realized: number; existing: number; exited: number }
  >;
}

async function metricsOf(
  t: TestApp,
  headers: Record<string, string>,
  segmentId: string,
): Promise<Metrics> {
  const res = await t.http
    .get(`/data/core/ups/segment/definitions/${segmentId}/metrics`)
    .set(headers);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as Metrics;
}

const adult = (mail: string, age: number) => ({
  identityMap: email(mail),
  person: { age },
});

describe('segment member counts', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Counts are reused for ten times as long as counting took (a few ms
    // here), so a test sees its own writes without waiting.
    t = await createTestApp({ env: { SEGMENT_COUNT_CACHE_MS: '0' } });
  });
  afterAll(async () => t.close());

  it('counts members by status after an evaluation job, an entry, a stay and an exit, and only the sandbox’s own profiles', async () => {
    const tn = await createTenant(t, { sandboxes: ['prod', 'dev'] });
    const dev = { ...tn.headers, 'x-sandbox-name': 'dev' };
    await ingest(t, tn, [
      adult('a@x.io', 20),
      adult('b@x.io', 30),
      adult('c@x.io', 10),
    ]);
    const seg = await createSegment(t, tn, 'Adults', 'person.age >= 18');
    // Before the job ran: a definition nobody is a member of yet.
    const before = await metricsOf(t, tn.headers, seg.id);
    expect(before).toMatchObject({
      status: 'counted',
      totalProfiles: 3,
      segmentedProfileCounter: { [seg.id]: 0 },
      segmentedProfileByStatusCounter: {
        [seg.id]: { realized: 0, existing: 0, exited: 0 },
      },
    });
    await t.app.get(SegmentWorker).runOnce({
      tenant: { orgId: tn.orgId, sandboxName: 'prod' },
    });
    const evaluated = await eventually(async () => {
      const m = await metricsOf(t, tn.headers, seg.id);
      return m.segmentedProfileCounter[seg.id] === 2 && m;
    }, 'the job’s two members counted');
    expect(evaluated.segmentedProfileByStatusCounter[seg.id]).toEqual({
      realized: 2,
      existing: 0,
      exited: 0,
    });
    expect(evaluated.countedAt).toBeGreaterThan(before.countedAt as number);

    // Another sandbox of the same org, with more qualifying profiles.
    const devRes = await t.http
      .post('/data/core/ups/ingest/profiles')
      .set(dev)
      .send({
        profiles: [adult('a@x.io', 50), adult('d@x.io', 60)],
      });
    expect(devRes.status).toBe(200);
    const devSeg = await t.http
      .post('/data/core/ups/segment/definitions')
      .set(dev)
      .send({
        name: 'Adults',
        expression: {
          type: 'PQL',
          format: 'pql/text',
          value: 'person.age >= 18',
        },
      });
    expect(devSeg.status).toBe(200);

    // a stays (realized → existing), b leaves, e enters.
    await ingest(t, tn, [
      adult('a@x.io', 21),
      adult('b@x.io', 5),
      adult('e@x.io', 40),
    ]);
    const after = await eventually(async () => {
      const m = await metricsOf(t, tn.headers, seg.id);
      return m.segmentedProfileByStatusCounter[seg.id]?.exited === 1 && m;
    }, 'the exit counted');
    expect(after).toMatchObject({
      status: 'counted',
      totalProfiles: 4,
      segmentedProfileCounter: { [seg.id]: 2 },
      segmentedProfileByStatusCounter: {
        [seg.id]: { realized: 1, existing: 1, exited: 1 },
      },
    });

    // The other sandbox sees its own profiles, and not prod's definition.
    const devId = (devSeg.body as { id: string }).id;
    await t.app.get(SegmentWorker).runOnce({
      tenant: { orgId: tn.orgId, sandboxName: 'dev' },
    });
    const devMetrics = await eventually(async () => {
      const m = await metricsOf(t, dev, devId);
      return m.segmentedProfileCounter[devId] === 2 && m;
    }, 'the dev sandbox’s two members counted');
    expect(devMetrics.totalProfiles).toBe(2);
    const hidden = await t.http
      .get(`/data/core/ups/segment/definitions/${seg.id}/metrics`)
      .set(dev);
    expect(hidden.status).toBe(404);
  });

  it('counts a page of definitions in one answer, leaving out ids of other tenants', async () => {
    const tn = await createTenant(t);
    const other = await createTenant(t);
    const gold = await createSegment(t, tn, 'Gold', 'loyalty.tier = "gold"');
    const none = await createSegment(t, tn, 'Nobody', 'person.age > 200');
    const foreign = await createSegment(
      t,
      other,
      'Gold',
      'loyalty.tier = "gold"',
    );
    await ingest(t, tn, [
      { identityMap: email('g1@x.io'), loyalty: { tier: 'gold' } },
      { identityMap: email('g2@x.io'), loyalty: { tier: 'gold' } },
      { identityMap: email('s1@x.io'), loyalty: { tier: 'silver' } },
    ]);
    await ingest(t, other, [
      { identityMap: email('g1@x.io'), loyalty: { tier: 'gold' } },
    ]);
    const res = await t.http
      .get('/data/core/ups/segment/metrics')
      .query({
        ids: `${gold.id},${none.id.toUpperCase()},${foreign.id},00000000-0000-4000-8000-000000000000`,
      })
      .set(tn.headers);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      status: 'counted',
      countedAt: expect.any(Number) as number,
      totalProfiles: 3,
      segmentedProfileCounter: { [gold.id]: 2, [none.id]: 0 },
      segmentedProfileByStatusCounter: {
        [gold.id]: { realized: 2, existing: 0, exited: 0 },
        [none.id]: { realized: 0, existing: 0, exited: 0 },
      },
    });
  });

  it('refuses malformed or too many ids, and answers 404 in Adobe’s shape for an unknown definition', async () => {
    const tn = await createTenant(t);
    const bad = async (query: Record<string, string>) => {
      const res = await t.http
        .get('/data/core/ups/segment/metrics')
        .query(query)
        .set(tn.headers);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      return res.body as { message: string };
    };
    expect((await bad({})).message).toContain('ids');
    expect((await bad({ ids: 'not-an-id' })).message).toContain('ids');
    await bad({
      ids: Array.from(
        { length: 101 },
        (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      ).join(','),
    });
    const missing = '00000000-0000-4000-8000-000000000001';
    const res = await t.http
      .get(`/data/core/ups/segment/definitions/${missing}/metrics`)
      .set(tn.headers);
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({
      code: expect.stringMatching(/-404$/) as string,
      message: `Segment definition not found with id = [${missing}]`,
    });
  });
});

describe('segment member counts past their time bound', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { SEGMENT_COUNT_TIMEOUT_MS: '1' } });
  });
  afterAll(async () => t.close());

  it('answers unavailable (200, no counts) when counting takes longer than SEGMENT_COUNT_TIMEOUT_MS', async () => {
    const tn: TestTenant = await createTenant(t);
    const seg = await createSegment(t, tn, 'Adults', 'person.age >= 18');
    // Volume only (30,000 profiles take a scan well over 1 ms); ingesting
    // them through the API would take most of a minute.
    await t.app.get(DataSource).query(
      `INSERT INTO profiles (org_id, sandbox_name, attributes, memberships)
       SELECT $1, 'prod', jsonb_build_object('person', jsonb_build_object('age', 30)),
              jsonb_build_object($2::text, jsonb_build_array('existing', '2026-01-01T00:00:00.000Z'))
         FROM generate_series(1, 30000)`,
      [tn.orgId, seg.id],
    );
    const m = await metricsOf(t, tn.headers, seg.id);
    expect(m).toEqual({
      status: 'unavailable',
      countedAt: null,
      totalProfiles: null,
      segmentedProfileCounter: {},
      segmentedProfileByStatusCounter: {},
    });
  });
});
