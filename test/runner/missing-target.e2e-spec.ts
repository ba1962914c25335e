import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../../src/emulator/defaults.js';
import { EventHubsEmulator } from '../../src/emulator/index.js';
import { createTenant, createTestApp, type TestApp } from '../helpers/app.js';
import { laneOf } from '../../src/profile-store/lanes.js';
import {
  createEventHubsFlow,
  type CreatedFlow,
  flowProgress,
} from '../helpers/flows.js';
import { HubCollector } from '../helpers/hub.js';
import { ingest } from '../helpers/profiles.js';
import { FS } from '../helpers/resources.js';
import { createSegment } from '../helpers/segments.js';
import { eventually } from '../helpers/wait.js';
import { sample, scrape } from '../ops/helpers.js';

interface Run {
  metrics: {
    statusSummary: {
      status: string;
      errors: { code: string; message: string }[];
    };
  };
}

/**
 * The API refuses to delete a connection a flow publishes through; a row
 * removed anyway (by hand, in SQL) must make the flow fail where everyone
 * looks, and hold its position so nothing is skipped if the row comes back.
 */
describe('a flow whose target connection is gone', () => {
  let emulator: EventHubsEmulator;
  let t: TestApp;
  let ds: DataSource;
  const collectors: HubCollector[] = [];

  beforeAll(async () => {
    emulator = new EventHubsEmulator({ autoCreateHubs: true });
    await emulator.start();
    t = await createTestApp({
      env: {
        RUNNER_ENABLED: 'true',
        RUNNER_INTERVAL_MS: '100',
        RUNNER_LEASE_MS: '3000',
        RUNNER_MAX_BACKOFF_MS: '500',
      },
    });
    ds = t.app.get(DataSource);
  });
  afterAll(async () => {
    for (const c of collectors) await c.close();
    await t.close();
    await emulator.stop();
  });

  const gold = (address: string) => ({
    identityMap: { email: [{ id: address }] },
    personalEmail: { address },
    loyalty: { tier: 'gold' },
  });

  /**
   * Where the flow stands once a step has committed: the hub can hold the
   * first export before the step's commit lands (it moves the new cursor to
   * the log's horizon), so an untouched cursor is not an answer.
   */
  async function positionOf(
    flowId: string,
  ): Promise<{ pos: string; failures: number; pending: number }> {
    const p = await flowProgress(ds, flowId);
    return p?.noBackfill && p.stepped
      ? p
      : { pos: '', failures: -1, pending: -1 };
  }

  it.each([
    {
      gone: 'target connection',
      table: 'target_connections',
      idOf: (f: CreatedFlow) => f.targetConnectionId,
      code: 'TARGET_CONNECTION_MISSING',
    },
    {
      gone: 'base connection',
      table: 'connections',
      idOf: (f: CreatedFlow) => f.baseConnectionId,
      code: 'BASE_CONNECTION_MISSING',
    },
  ])(
    '$gone removed in SQL: a failed run with the reason, a retry counted, nothing sent, the position kept',
    async ({ table, idOf, code }) => {
      const tenant = await createTenant(t);
      const hub = `missing-target-${randomUUID().slice(0, 8)}`;
      emulator.addHub({ name: hub, partitionCount: 2 });
      const collector = new HubCollector(emulator.connectionString(hub), hub);
      collectors.push(collector);
      collector.start();
      const segmentId = (
        await createSegment(t, tenant, `Gold ${hub}`, 'loyalty.tier = "gold"')
      ).id;
      const flow = await createEventHubsFlow(t, tenant, {
        namespace: `127.0.0.1:${emulator.port}`,
        sasKeyName: DEFAULT_KEY_NAME,
        sasKey: DEFAULT_EMULATOR_KEY,
        eventHubName: hub,
        segmentIds: [segmentId],
        attributes: ['personalEmail.address'],
      });
      await ingest(t, tenant, [gold(`mt1-${randomUUID()}@x.io`)]);
      await collector.waitFor((ev) => ev.length >= 1);
      const before = await eventually(async () => {
        const p = await positionOf(flow.flowId);
        return p.pending === 0 ? p : undefined;
      }, 'the flow to catch up');

      await ds.query(`DELETE FROM ${table} WHERE id = $1`, [idOf(flow)]);
      const second = await ingest(t, tenant, [
        gold(`mt2-${randomUUID()}@x.io`),
      ]);
      // The lane that owes the second profile's export (other lanes, with
      // nothing to send, follow the log).
      const lanes = before.pos.split(',');
      const lane = laneOf(second.results[0]?.profileId ?? '', lanes.length);

      const run = await eventually(async () => {
        const res = await t.http
          .get(`${FS}/runs?property=flowId==${flow.flowId}`)
          .set(tenant.headers)
          .expect(200);
        return (res.body as { items: Run[] }).items.find((r) =>
          r.metrics.statusSummary.errors.some((e) => e.code === code),
        );
      }, `a failed run with ${code}`);
      expect(run?.metrics.statusSummary.status).toBe('failed');
      expect(run?.metrics.statusSummary.errors[0]?.message).toContain(
        idOf(flow),
      );
      const metrics = await scrape(t);
      expect(
        sample(metrics, 'fse_flow_retries_total', {
          flow_id: flow.flowId,
          code,
        }),
      ).toBeGreaterThanOrEqual(1);

      const after = await positionOf(flow.flowId);
      expect(after.pos.split(',')[lane]).toBe(lanes[lane]);
      expect(after.pending).toBeGreaterThan(0);
      expect(after.failures).toBeGreaterThan(0);
      expect(collector.unique()).toHaveLength(1);
    },
  );
});
