import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../../src/emulator/defaults.js';
import { EventHubsEmulator } from '../../src/emulator/index.js';
import { SegmentWorker } from '../../src/segments/segment-worker.js';
import { createTenant, createTestApp, type TestApp } from '../helpers/app.js';
import { createEventHubsFlow, flowProgress } from '../helpers/flows.js';
import { HubCollector } from '../helpers/hub.js';
import { ingest } from '../helpers/profiles.js';
import { createSegment } from '../helpers/segments.js';
import { eventually } from '../helpers/wait.js';

/**
 * Lanes without changes of their own follow the log's horizon without a
 * step: one change exports from its lane, and the flow's other lanes move
 * past it without being claimed, read and committed.
 */
describe('idle lanes', () => {
  let emulator: EventHubsEmulator;
  let t: TestApp;
  let collector: HubCollector | undefined;

  beforeAll(async () => {
    emulator = new EventHubsEmulator({ autoCreateHubs: true });
    await emulator.start();
    t = await createTestApp({
      env: {
        RUNNER_ENABLED: 'true',
        RUNNER_LANES: '4',
        RUNNER_INTERVAL_MS: '100',
        RATE_LIMIT_PER_MINUTE: '0',
      },
    });
  });

  afterAll(async () => {
    await collector?.close();
    await t.close();
    await emulator.stop();
  });

  it('move to the horizon without a step while another lane exports', async () => {
    const ds = t.app.get(DataSource);
    const tenant = await createTenant(t);
    const segmentId = (
      await createSegment(t, tenant, 'Gold', 'loyalty.tier = "gold"')
    ).id;
    await t.app.get(SegmentWorker).runOnce({
      tenant: { orgId: tenant.orgId, sandboxName: tenant.sandbox },
    });
    const hub = `idle-${randomUUID().slice(0, 8)}`;
    emulator.addHub({ name: hub, partitionCount: 2 });
    collector = new HubCollector(emulator.connectionString(hub), hub);
    collector.start();
    const { flowId } = await createEventHubsFlow(t, tenant, {
      namespace: `127.0.0.1:${emulator.port}`,
      sasKeyName: DEFAULT_KEY_NAME,
      sasKey: DEFAULT_EMULATOR_KEY,
      eventHubName: hub,
      segmentIds: [segmentId],
      attributes: ['personalEmail.address'],
    });
    await eventually(async () => {
      const p = await flowProgress(ds, flowId);
      return p?.stepped && p.noBackfill && p.pending === 0;
    }, 'every lane of the new flow to step');
    const steps = async (): Promise<Map<number, number>> =>
      new Map(
        (
          (await ds.query(
            `SELECT lane, extract(epoch FROM last_success_at) * 1000 AS at
               FROM flow_cursors WHERE flow_id = $1`,
            [flowId],
          )) as { lane: number; at: number }[]
        ).map((r) => [r.lane, Number(r.at)]),
      );
    const before = await steps();

    await ingest(t, tenant, [
      {
        identityMap: { email: [{ id: 'idle@x.io' }] },
        personalEmail: { address: 'idle@x.io' },
        loyalty: { tier: 'gold' },
      },
    ]);
    await collector.waitFor(() => collector?.events.length === 1, 20_000);
    // Every lane's position passes the change, the idle ones without a step.
    await eventually(
      async () => (await flowProgress(ds, flowId))?.pending === 0,
      'every lane to pass the change',
    );
    const after = await steps();
    const stepped = [...after].filter(([lane, at]) => at !== before.get(lane));
    // The lane holding the profile steps; the three idle ones are moved by
    // advanceIdleLanes (without the fix all four step). On a loaded machine
    // the claim's fallback catch-up may still step one of them when the
    // once-a-second advance comes late (seen once in a clean-clone CI run).
    expect(stepped.length).toBeGreaterThanOrEqual(1);
    expect(stepped.length).toBeLessThanOrEqual(2);
    const [moved] = (await ds.query(
      `SELECT count(*)::int AS n FROM flow_cursors
        WHERE flow_id = $1 AND caught_up_at IS NOT NULL`,
      [flowId],
    )) as { n: number }[];
    expect(moved?.n).toBeGreaterThanOrEqual(3);
  }, 90_000);
});
