import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SegmentWorker } from '../../src/segments/segment-worker.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { email, ingest, lookup, tenantRef } from '../helpers/profiles.js';
import { createSegment } from '../helpers/segments.js';

/** The backtracking pattern of issue 13: exponential on a JavaScript RegExp, linear on RE2. */
const HOSTILE = 'person.name.firstName.matches("^(a+)+$")';
/** 30,000 `a`s and a `!`: a backtracking engine would not finish this in a lifetime. */
const HOSTILE_NAME = 'a'.repeat(30_000) + '!';
/** Profiles per request or job: 10 × 30 KB, well under the 1 MB JSON body limit. */
const BATCH = 10;
const HEALTH_LIMIT_MS = 200;

/**
 * Runs `work` while asking `GET /health` back to back; returns each health
 * answer's latency. At least one health request is in flight during the work.
 */
async function healthLatenciesDuring(
  t: TestApp,
  work: () => Promise<unknown>,
): Promise<number[]> {
  const latencies: number[] = [];
  let done = false;
  const probe = (async () => {
    while (!done || latencies.length === 0) {
      const t0 = performance.now();
      const res = await t.http.get('/health');
      latencies.push(performance.now() - t0);
      expect(res.status).toBe(200);
    }
  })();
  try {
    await work();
  } finally {
    done = true;
  }
  await probe;
  return latencies;
}

function hostileProfiles(prefix: string): Record<string, unknown>[] {
  return Array.from({ length: BATCH }, (_, i) => ({
    identityMap: email(`${prefix}-${i}@hostile.example`),
    person: { name: { firstName: HOSTILE_NAME } },
  }));
}

async function postSegment(
  t: TestApp,
  tn: TestTenant,
  name: string,
  pql: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await t.http
    .post('/data/core/ups/segment/definitions')
    .set(tn.headers)
    .send({
      name,
      schema: { name: '_xdm.context.profile' },
      expression: { type: 'PQL', format: 'pql/text', value: pql },
    });
  return { status: res.status, body: res.body as Record<string, unknown> };
}

describe('hostile PQL cannot stall the service', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      env: {
        PQL_MAX_TEXT_LENGTH: '300',
        PQL_MAX_NODES: '40',
        PQL_MAX_ARRAY_ITEMS: '5',
        PQL_MAX_PATTERN_LENGTH: '20',
        SEGMENTS_MAX_PER_SANDBOX: '3',
      },
    });
  });
  afterAll(async () => t.close());

  it('a catastrophic-backtracking pattern is evaluated in linear time during ingestion', async () => {
    const tn = await createTenant(t);
    // An ordinary batch first, so the measurement is not of the app's first
    // request (JIT warm-up, first connections).
    await ingest(
      t,
      tn,
      hostileProfiles('warm-up').map((p) => ({
        ...p,
        person: { name: { firstName: 'Ann' } },
      })),
    );
    const seg = await createSegment(t, tn, 'Hostile', HOSTILE);

    let body: Awaited<ReturnType<typeof ingest>> | undefined;
    const latencies = await healthLatenciesDuring(t, async () => {
      body = await ingest(t, tn, hostileProfiles('ingest'));
    });
    expect(body?.accepted).toBe(BATCH);
    expect(Math.max(...latencies), latencies.join(', ')).toBeLessThan(
      HEALTH_LIMIT_MS,
    );

    // The pattern was really evaluated: an all-`a` name is a member, the `!` one is not.
    await ingest(t, tn, [
      {
        identityMap: email('member@hostile.example'),
        person: { name: { firstName: 'a'.repeat(30_000) } },
      },
    ]);
    const member = Object.values(
      await lookup(t, tn, 'member@hostile.example', 'email'),
    )[0]?.entity as { segmentMembership?: { ups?: Record<string, unknown> } };
    expect(member.segmentMembership?.ups?.[seg.id]).toMatchObject({
      status: 'realized',
    });
    const outsider = Object.values(
      await lookup(t, tn, 'ingest-0@hostile.example', 'email'),
    )[0]?.entity as { segmentMembership?: { ups?: Record<string, unknown> } };
    expect(outsider.segmentMembership?.ups?.[seg.id]).toBeUndefined();
  });

  it('the background evaluation of a new segment over hostile profiles keeps /health answering', async () => {
    const tn = await createTenant(t);
    await ingest(t, tn, hostileProfiles('job'));
    const seg = await createSegment(t, tn, 'Hostile later', HOSTILE);
    expect(seg.evaluationJob?.status).toBe('queued');

    const worker = t.app.get(SegmentWorker);
    let ran = { jobs: 0, batches: 0 };
    const latencies = await healthLatenciesDuring(t, async () => {
      ran = await worker.runOnce({ tenant: tenantRef(tn) });
    });
    expect(ran.jobs).toBe(1);
    expect(Math.max(...latencies), latencies.join(', ')).toBeLessThan(
      HEALTH_LIMIT_MS,
    );

    const job = await t.http
      .get(`/data/core/ups/segment/jobs/${seg.evaluationJob?.id}`)
      .set(tn.headers)
      .expect(200);
    expect(job.body).toMatchObject({
      status: 'succeeded',
      processedProfiles: BATCH,
    });
  });

  it.each([
    ['a backreference', 'a.matches("(x)\\\\1")', 'Backreference', 14],
    ['a lookahead', 'a.matches("x(?=y)")', 'Lookahead', 12],
    ['a possessive quantifier', 'a.matches("x++")', 'Possessive', 12],
  ])(
    'refuses %s with a 400 naming the position',
    async (_what, pql, reason, offset) => {
      const tn = await createTenant(t);
      const res = await postSegment(t, tn, 'Java regex', pql);
      expect(res.status).toBe(400);
      expect(String(res.body.message)).toContain(reason);
      expect(String(res.body.message)).toContain(`(offset ${offset})`);
      expect(JSON.stringify(res.body)).toContain(`column ${offset + 1}`);
    },
  );

  it.each([
    ['text length', `a = "${'x'.repeat(300)}"`, 'at most 300 are allowed'],
    ['array items', 'a in [1, 2, 3, 4, 5, 6]', 'more than 5 items'],
    ['node count', Array(14).fill('a = 1').join(' or '), 'more than 40 nodes'],
    ['pattern length', `a like "${'x'.repeat(21)}"`, 'at most 20 are allowed'],
  ])(
    'refuses a definition over the %s limit with a 400',
    async (_what, pql, reason) => {
      const tn = await createTenant(t);
      const res = await postSegment(t, tn, 'Too big', pql);
      expect(res.status).toBe(400);
      expect(String(res.body.message)).toContain(reason);
      // The same limit applies when an edit changes the expression.
      const seg = await createSegment(t, tn, 'Small', 'a = 1');
      const patched = await t.http
        .patch(`/data/core/ups/segment/definitions/${seg.id}`)
        .set(tn.headers)
        .send({
          name: 'Small',
          schema: { name: '_xdm.context.profile' },
          expression: { type: 'PQL', format: 'pql/text', value: pql },
        });
      expect(patched.status).toBe(400);
    },
  );

  it('refuses a definition past SEGMENTS_MAX_PER_SANDBOX with a 422, per sandbox', async () => {
    const tn = await createTenant(t);
    const other = await createTenant(t);
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((i) => postSegment(t, tn, `S${i}`, 'a = 1')),
    );
    expect(results.map((r) => r.status).sort((a, b) => a - b)).toEqual([
      200, 200, 200, 422, 422,
    ]);
    const refused = results.find((r) => r.status === 422);
    expect(String(refused?.body.message)).toContain(
      'at most 3 are allowed (SEGMENTS_MAX_PER_SANDBOX)',
    );
    await createSegment(t, other, 'S1', 'a = 1');

    const list = await t.http
      .get('/data/core/ups/segment/definitions')
      .set(tn.headers)
      .expect(200);
    const segments = (list.body as { segments: { id: string }[] }).segments;
    expect(segments).toHaveLength(3);
    await t.http
      .delete(`/data/core/ups/segment/definitions/${segments[0].id}`)
      .set(tn.headers)
      .expect(200);
    await createSegment(t, tn, 'S6', 'a = 1');
  });
});

describe('many costly segments cannot stall the service either', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  // Each evaluation is bounded; 1,200 of them in one batch are not, so the
  // batch gives the event loop a turn every few milliseconds (TimeSlice).
  // Without it /health waited ~450 ms here.
  it('120 hostile definitions over hostile profiles: ingestion takes turns with /health', async () => {
    const tn = await createTenant(t);
    await ingest(t, tn, [
      { identityMap: email('warm@hostile.example'), person: { name: 'x' } },
    ]);
    for (let i = 0; i < 120; i++)
      await createSegment(t, tn, `Hostile ${i}`, HOSTILE);
    // Compiles the 120 definitions (the catalogue, once) before measuring.
    await ingest(t, tn, [
      { identityMap: email('warm2@hostile.example'), person: { name: 'y' } },
    ]);
    let body: Awaited<ReturnType<typeof ingest>> | undefined;
    const t0 = performance.now();
    const latencies = await healthLatenciesDuring(t, async () => {
      body = await ingest(t, tn, hostileProfiles('many'));
    });
    const took = performance.now() - t0;
    expect(body?.accepted).toBe(BATCH);
    // Each answer came within the limit however long the whole batch took.
    expect(
      Math.max(...latencies),
      `${latencies.join(', ')} over ${took} ms`,
    ).toBeLessThan(HEALTH_LIMIT_MS);
  });
});
