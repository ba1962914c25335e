import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../../src/emulator/defaults.js';
import { EventHubsEmulator } from '../../src/emulator/index.js';
import { RunnerScheduler } from '../../src/runner/runner.scheduler.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { createEventHubsFlow } from '../helpers/flows.js';
import { ingest } from '../helpers/profiles.js';
import { createSegment } from '../helpers/segments.js';
import { eventually } from '../helpers/wait.js';
import { sample, scrape } from './helpers.js';

const FS = '/data/foundation/flowservice';

describe('GET /metrics', () => {
  let emulator: EventHubsEmulator;
  let t: TestApp;

  beforeAll(async () => {
    emulator = new EventHubsEmulator({ autoCreateHubs: true });
    await emulator.start();
    t = await createTestApp({
      env: {
        RUNNER_ENABLED: 'true',
        RUNNER_INTERVAL_MS: '100',
        RUNNER_MAX_BACKOFF_MS: '200',
      },
    });
  });

  afterAll(async () => {
    await t?.close();
    await emulator?.stop();
  });

  async function flowTo(tenant: TestTenant, sasKey = DEFAULT_EMULATOR_KEY) {
    const hub = `metrics-${randomUUID().slice(0, 8)}`;
    emulator.addHub({ name: hub, partitionCount: 2 });
    const segmentId = (
      await createSegment(t, tenant, `Gold ${hub}`, 'loyalty.tier = "gold"')
    ).id;
    return createEventHubsFlow(t, tenant, {
      namespace: `127.0.0.1:${emulator.port}`,
      sasKeyName: DEFAULT_KEY_NAME,
      sasKey,
      eventHubName: hub,
      segmentIds: [segmentId],
      attributes: ['personalEmail.address'],
    });
  }

  const gold = (email: string) => ({
    identityMap: { email: [{ id: email }] },
    personalEmail: { address: email },
    loyalty: { tier: 'gold' },
  });

  it('is Prometheus text with process metrics, needs no auth and is not in the OpenAPI document', async () => {
    const res = await t.http.get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(res.text).toContain(
      '# TYPE http_request_duration_seconds histogram',
    );
    const doc = await t.http.get('/docs-json').expect(200);
    expect(Object.keys((doc.body as { paths: object }).paths)).not.toContain(
      '/metrics',
    );
  });

  it('gives each app its own registry (a second app in the same process scrapes fine)', async () => {
    const other = await createTestApp();
    try {
      await other.http.get('/health').expect(200);
      const text = await scrape(other);
      expect(sample(text, 'http_requests_total', { route: '/health' })).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('counts HTTP requests by route template and status, never by raw URL', async () => {
    const tenant = await createTenant(t);
    const missing = randomUUID();
    await t.http.get(`${FS}/flows/${missing}`).set(tenant.headers).expect(404);
    await t.http.get(`/no/such/route/${missing}`).expect(404);
    const text = await scrape(t);
    expect(
      sample(text, 'http_requests_total', {
        method: 'GET',
        route: `${FS}/flows/:id`,
        status: '404',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: `${FS}/flows/:id`,
        status: '404',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'http_requests_total', {
        method: 'GET',
        route: '<unmatched>',
        status: '404',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(missing);
  });

  it('counts ingested records accepted and rejected', async () => {
    const tenant = await createTenant(t);
    const before = await scrape(t);
    await t.http
      .post('/data/core/ups/ingest/profiles')
      .set(tenant.headers)
      .send({
        profiles: [
          { identityMap: { email: [{ id: `a-${randomUUID()}@x.io` }] } },
          { identityMap: { email: [{ id: `b-${randomUUID()}@x.io` }] } },
          { person: { name: 'no identities' } },
        ],
      })
      .expect(207);
    const after = await scrape(t);
    const delta = (result: string) =>
      (sample(after, 'fse_ingest_records_total', { result }) ?? 0) -
      (sample(before, 'fse_ingest_records_total', { result }) ?? 0);
    expect(delta('accepted')).toBe(2);
    expect(delta('rejected')).toBe(1);
  });

  it('reports per flow: exports, last success, and lag that grows while the runner is stopped', async () => {
    const tenant = await createTenant(t);
    const flow = await flowTo(tenant);
    await ingest(t, tenant, [gold(`m1-${randomUUID()}@x.io`)]);
    const labels = { flow_id: flow.flowId };
    // The counter moves when the hub acknowledges, the last success when the step commits.
    const exported = await eventually(async () => {
      const text = await scrape(t);
      const n = sample(text, 'fse_flow_exports_total', labels);
      return n !== undefined &&
        n >= 1 &&
        sample(text, 'fse_flow_last_success_timestamp_seconds', labels)
        ? text
        : undefined;
    }, 'the first export');
    const lastSuccess = sample(
      exported,
      'fse_flow_last_success_timestamp_seconds',
      labels,
    );
    expect(lastSuccess).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(lastSuccess).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    await eventually(async () => {
      const n = sample(await scrape(t), 'fse_flow_lag_seconds', labels);
      return n === 0 ? n : undefined;
    }, 'lag 0 once caught up');

    const scheduler = t.app.get(RunnerScheduler);
    await scheduler.stop();
    try {
      await ingest(t, tenant, [gold(`m2-${randomUUID()}@x.io`)]);
      await new Promise((r) => setTimeout(r, 1500));
      const lag = sample(await scrape(t), 'fse_flow_lag_seconds', labels);
      expect(lag).toBeGreaterThanOrEqual(1.4);
      expect(lag).toBeLessThan(30);
    } finally {
      await scheduler.start();
    }
    await eventually(async () => {
      const text = await scrape(t);
      return sample(text, 'fse_flow_lag_seconds', labels) === 0 &&
        (sample(text, 'fse_flow_exports_total', labels) ?? 0) >= 2
        ? true
        : undefined;
    }, 'the second export and lag back to 0');
  });

  it('counts failed publish attempts as retries, by error code', async () => {
    const tenant = await createTenant(t);
    const flow = await flowTo(
      tenant,
      Buffer.from('not the key').toString('base64'),
    );
    await ingest(t, tenant, [gold(`r-${randomUUID()}@x.io`)]);
    const text = await eventually(async () => {
      const s = await scrape(t);
      return s.includes(`fse_flow_retries_total{flow_id="${flow.flowId}"`)
        ? s
        : undefined;
    }, 'a failed publish attempt');
    const line = text
      .split('\n')
      .find((l) =>
        l.startsWith(`fse_flow_retries_total{flow_id="${flow.flowId}"`),
      );
    expect(line).toMatch(/code="[A-Za-z_]+"\} [1-9]/);
    expect(
      sample(text, 'fse_flow_exports_total', { flow_id: flow.flowId }),
    ).toBeUndefined();
    // The flow is enabled and stuck behind the change: its lag is reported.
    expect(
      sample(text, 'fse_flow_lag_seconds', { flow_id: flow.flowId }),
    ).toBeGreaterThanOrEqual(0);
  });
});
