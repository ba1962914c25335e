import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../helpers/app.js';
import { ingest } from '../helpers/profiles.js';
import { expectError, MISSING_ID } from '../helpers/resources.js';
import { startRunnerHarness, type RunnerHarness } from '../helpers/runner.js';
import { eventually } from '../helpers/wait.js';
import { flowFixture, FS, goldProfile } from './fixtures.js';

interface MetricsBody {
  flowId: string;
  state: string;
  lagSeconds: number | null;
  lastSuccessAt: number | null;
  minutes: number;
  exports: number;
  failures: number;
  points: { at: number; exports: number; failures: number }[];
}

describe('GET /flows/{id}/metrics: lag and exports per minute', () => {
  let h: RunnerHarness;

  beforeAll(async () => {
    h = await startRunnerHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('counts acknowledged exports in the current minute and shows lag while a disabled flow has pending changes', async () => {
    const f = await flowFixture(h);
    const metrics = async (query = ''): Promise<MetricsBody> => {
      const res = await h.t.http
        .get(`${FS}/flows/${f.flow.flowId}/metrics${query}`)
        .set(f.tenant.headers)
        .expect(200);
      return res.body as MetricsBody;
    };

    const first = await metrics();
    expect(first).toMatchObject({
      flowId: f.flow.flowId,
      state: 'enabled',
      minutes: 60,
      exports: 0,
      failures: 0,
    });
    expect(first.points).toHaveLength(60);
    expect(first.points.every((p) => p.exports === 0)).toBe(true);
    // Oldest first, one minute apart, the last one the current minute.
    expect(first.points[59]!.at - first.points[0]!.at).toBe(59 * 60_000);
    expect(first.points[59]!.at).toBe(Math.floor(Date.now() / 60_000) * 60_000);

    await ingest(h.t, f.tenant, [
      goldProfile('a@x.com'),
      goldProfile('b@x.com'),
    ]);
    await f.collector.waitFor((ev) => ev.length >= 2);
    const counted = await eventually(async () => {
      const m = await metrics();
      return m.exports >= 2 && m.lagSeconds === 0 ? m : undefined;
    }, 'the two exports counted (flushed every 2 s)');
    expect(
      counted.points.at(-1)!.exports + counted.points.at(-2)!.exports,
    ).toBe(counted.exports);
    expect(counted.lastSuccessAt).toBeGreaterThan(Date.now() - 60_000);
    expect((await metrics('?minutes=1')).points).toHaveLength(1);

    // A disabled flow exports nothing: its lag grows with the pending change.
    await h.t.http
      .post(`${FS}/flows/${f.flow.flowId}/action?op=disable`)
      .set(f.tenant.headers)
      .expect(200);
    await ingest(h.t, f.tenant, [goldProfile('c@x.com')]);
    const behind = await eventually(async () => {
      const m = await metrics();
      return m.lagSeconds !== null && m.lagSeconds >= 1 ? m : undefined;
    }, 'a lag of at least a second');
    expect(behind.state).toBe('disabled');
    expect(behind.exports).toBe(counted.exports);

    await h.t.http
      .post(`${FS}/flows/${f.flow.flowId}/action?op=enable`)
      .set(f.tenant.headers)
      .expect(200);
    await eventually(async () => {
      const m = await metrics();
      return m.lagSeconds === 0 && m.exports >= 3;
    }, 'the flow caught up after enabling');
  });

  it('is tenant-scoped and validated like the rest of the API', async () => {
    const f = await flowFixture(h);
    const other = await createTenant(h.t);
    const path = `${FS}/flows/${f.flow.flowId}/metrics`;
    const res = await h.t.http.get(path).set(other.headers).expect(404);
    expectError(res.body, '1101-404', /not found/);
    await h.t.http
      .get(`${FS}/flows/${MISSING_ID}/metrics`)
      .set(f.tenant.headers)
      .expect(404);
    await h.t.http
      .get(`${FS}/flows/not-an-id/metrics`)
      .set(f.tenant.headers)
      .expect(400);
    for (const q of ['minutes=0', 'minutes=1441', 'minutes=abc', 'other=1'])
      await h.t.http.get(`${path}?${q}`).set(f.tenant.headers).expect(400);
    await h.t.http.get(path).expect(403);
  });
});

describe('the console files at /console', () => {
  let h: RunnerHarness;

  beforeAll(async () => {
    h = await startRunnerHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('serves the built page with a strict content security policy, no API credentials needed', async () => {
    await h.t.http.get('/console').expect(301).expect('location', '/console/');
    const page = await h.t.http.get('/console/').expect(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toContain(
      "script-src 'self'",
    );
    expect(page.headers['content-security-policy']).toContain(
      "frame-ancestors 'none'",
    );
    expect(page.headers['cache-control']).toBe('no-cache');
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(page.text)?.[1];
    expect(script, page.text).toBeDefined();
    const js = await h.t.http.get(script!).expect(200);
    expect(js.headers['cache-control']).toContain('immutable');
    await h.t.http.get('/console/missing.js').expect(404);
  });
});
