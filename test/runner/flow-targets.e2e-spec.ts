import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../../src/emulator/defaults.js';
import { EventHubsEmulator } from '../../src/emulator/index.js';
import { createTenant, type TestApp, type TestTenant } from '../helpers/app.js';
import { type RunnerHarness, startRunnerHarness } from '../helpers/runner.js';
import { createEventHubsFlow, patchFlow } from '../helpers/flows.js';
import type { HubCollector } from '../helpers/hub.js';
import { ingest } from '../helpers/profiles.js';
import { FS, createTarget } from '../helpers/resources.js';
import { createSegment } from '../helpers/segments.js';

/** PATCH of a flow's targetConnectionIds (Adobe's destinations spec), proven on the hub. */
describe("a running flow's targets change", () => {
  let h: RunnerHarness;
  let t: TestApp;
  let emulator: EventHubsEmulator;

  beforeAll(async () => {
    h = await startRunnerHarness();
    ({ t, emulator } = h);
  });
  afterAll(async () => h.close());

  const hub = () => h.hub('targets');

  const profile = (email: string, tier: string) => ({
    identityMap: { email: [{ id: email }] },
    personalEmail: { address: email },
    loyalty: { tier },
  });
  const emails = (c: HubCollector): string[] =>
    c
      .unique()
      .map(
        (e) =>
          (e.body.personalEmail as { address: string } | undefined)?.address ??
          '',
      )
      .sort();

  async function flowIds(tenant: TestTenant, flowId: string) {
    const res = await t.http
      .get(`${FS}/flows/${flowId}`)
      .set(tenant.headers)
      .expect(200);
    return (res.body as { items: { targetConnectionIds: string[] }[] }).items[0]
      ?.targetConnectionIds;
  }

  it('an added target gets the current members once and then every change; a removed one stops', async () => {
    const tenant = await createTenant(t);
    const a = hub();
    const b = hub();
    const segmentId = (
      await createSegment(t, tenant, `Gold ${a.name}`, 'loyalty.tier = "gold"')
    ).id;
    const flow = await createEventHubsFlow(t, tenant, {
      namespace: `127.0.0.1:${emulator.port}`,
      sasKeyName: DEFAULT_KEY_NAME,
      sasKey: DEFAULT_EMULATOR_KEY,
      eventHubName: a.name,
      segmentIds: [segmentId],
      attributes: ['personalEmail.address'],
    });
    await ingest(t, tenant, [
      profile('m1@x.io', 'gold'),
      profile('m2@x.io', 'gold'),
      profile('n1@x.io', 'silver'),
    ]);
    await a.collector.waitFor(() => a.collector.unique().length === 2);

    // Add a target on hub B (same base connection).
    const targetB = await createTarget(t, tenant, flow.baseConnectionId, {
      params: { eventHubName: b.name },
    });
    await patchFlow(t, tenant, flow.flowId, [
      { op: 'add', path: '/targetConnectionIds/-', value: targetB.id },
    ]);
    expect(await flowIds(tenant, flow.flowId)).toEqual([
      flow.targetConnectionId,
      targetB.id,
    ]);
    // B gets the segment's current members (a backfill to B only)...
    await b.collector.waitFor(() => b.collector.unique().length === 2);
    expect(emails(b.collector)).toEqual(['m1@x.io', 'm2@x.io']);
    // ...and then, like A, every change.
    await ingest(t, tenant, [profile('m3@x.io', 'gold')]);
    await a.collector.waitFor(() => a.collector.unique().length === 3);
    await b.collector.waitFor(() => b.collector.unique().length === 3);
    // A was not sent the backfill again.
    expect(emails(a.collector)).toEqual(['m1@x.io', 'm2@x.io', 'm3@x.io']);

    // Remove target A: it stops receiving.
    await patchFlow(t, tenant, flow.flowId, [
      { op: 'replace', path: '/targetConnectionIds', value: [targetB.id] },
    ]);
    await ingest(t, tenant, [profile('m4@x.io', 'gold')]);
    await b.collector.waitFor(() => b.collector.unique().length === 4);
    await new Promise((r) => setTimeout(r, 500));
    expect(emails(a.collector)).not.toContain('m4@x.io');
  });

  it('PATCH checks new connections as create does', async () => {
    const tenant = await createTenant(t);
    const a = hub();
    const segmentId = (
      await createSegment(t, tenant, `Gold ${a.name}`, 'loyalty.tier = "gold"')
    ).id;
    const flow = await createEventHubsFlow(t, tenant, {
      namespace: `127.0.0.1:${emulator.port}`,
      sasKeyName: DEFAULT_KEY_NAME,
      sasKey: DEFAULT_EMULATOR_KEY,
      eventHubName: a.name,
      segmentIds: [segmentId],
      attributes: [],
    });
    const get = await t.http
      .get(`${FS}/flows/${flow.flowId}`)
      .set(tenant.headers)
      .expect(200);
    const etag =
      (get.body as { items: { etag: string }[] }).items[0]?.etag ?? '';
    const patch = (ops: object[]) =>
      t.http
        .patch(`${FS}/flows/${flow.flowId}`)
        .set(tenant.headers)
        .set('If-Match', etag)
        .send(ops);
    const missing = randomUUID();
    const res = await patch([
      { op: 'add', path: '/targetConnectionIds/-', value: missing },
    ]);
    expect(res.status).toBe(404);
    expect(JSON.stringify(res.body)).toContain(missing);
    // A source connection where a target belongs: the flow spec refuses it.
    const wrong = await patch([
      {
        op: 'replace',
        path: '/targetConnectionIds',
        value: [flow.sourceConnectionId],
      },
    ]);
    expect(wrong.status).toBe(404);
    const empty = await patch([
      { op: 'replace', path: '/targetConnectionIds', value: [] },
    ]);
    expect(empty.status).toBe(400);
    expect(await flowIds(tenant, flow.flowId)).toEqual([
      flow.targetConnectionId,
    ]);
  });
});
