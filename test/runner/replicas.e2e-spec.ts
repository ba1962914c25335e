import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { DataSource } from 'typeorm';
import { realizationsSeen } from '../../src/profile-store/profile-state.js';
import { exportPositions } from '../../src/runner/export-positions.js';
import { inLaneSql } from '../../src/profile-store/lanes.js';
import { SegmentWorker } from '../../src/segments/segment-worker.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHubsEmulator } from '../../src/emulator/index.js';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../../src/emulator/defaults.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { startReplica, stopReplica } from '../helpers/child.js';
import { createEventHubsFlow } from '../helpers/flows.js';
import { ingest } from '../helpers/profiles.js';
import { createSegment } from '../helpers/segments.js';
import { HubCollector } from '../helpers/hub.js';

/** Runner replicas as real processes sharing one database. */
describe('runner replicas', () => {
  let emulator: EventHubsEmulator;
  let t: TestApp;
  const children: ChildProcess[] = [];
  const collectors: HubCollector[] = [];

  beforeAll(async () => {
    emulator = new EventHubsEmulator({ autoCreateHubs: true });
    await emulator.start();
    // This app only serves the API; the replicas below do the exporting.
    t = await createTestApp();
  });

  afterAll(async () => {
    for (const c of children) await stopReplica(c, 'SIGKILL');
    for (const c of collectors) await c.close();
    await t.close();
    await emulator.stop();
  });

  async function flowWithMembers(n: number): Promise<{
    tenant: TestTenant;
    collector: HubCollector;
    emails: string[];
  }> {
    const tenant = await createTenant(t);
    const hub = `replicas-${randomUUID().slice(0, 8)}`;
    emulator.addHub({ name: hub, partitionCount: 4 });
    const collector = new HubCollector(emulator.connectionString(hub), hub);
    collectors.push(collector);
    collector.start();
    const segmentId = (
      await createSegment(t, tenant, `Members ${hub}`, 'loyalty.tier = "gold"')
    ).id;
    // The new segment's background evaluation (of no profiles yet) is done
    // here, so none runs in a replica after the fill: the members stay
    // `realized` in their rows, as a fresh qualification does.
    await t.app.get(SegmentWorker).runOnce({
      tenant: { orgId: tenant.orgId, sandboxName: tenant.sandbox },
    });
    await createEventHubsFlow(t, tenant, {
      namespace: `127.0.0.1:${emulator.port}`,
      sasKeyName: DEFAULT_KEY_NAME,
      sasKey: DEFAULT_EMULATOR_KEY,
      eventHubName: hub,
      segmentIds: [segmentId],
      attributes: ['personalEmail.address'],
    });
    const emails = Array.from({ length: n }, (_, i) => `m${i}-${hub}@x.com`);
    for (let i = 0; i < emails.length; i += 500) {
      await ingest(
        t,
        tenant,
        emails.slice(i, i + 500).map((email) => ({
          identityMap: { email: [{ id: email }] },
          personalEmail: { address: email },
          loyalty: { tier: 'gold' },
        })),
      );
    }
    return { tenant, collector, emails };
  }

  const delivered = (c: HubCollector): Set<string> =>
    new Set(
      c.events.map((e) =>
        String((e.body.personalEmail as { address: string }).address),
      ),
    );

  it('a replica killed with SIGKILL mid-export: after a restart every change is delivered', async () => {
    const { collector, emails } = await flowWithMembers(3000);
    const first = startReplica(t.databaseUrl, { RUNNER_BATCH_SIZE: '100' });
    children.push(first);
    await collector.waitFor((ev) => ev.length >= 200, 60_000);
    await stopReplica(first, 'SIGKILL');
    expect(delivered(collector).size).toBeLessThan(emails.length);
    const second = startReplica(t.databaseUrl, { RUNNER_BATCH_SIZE: '100' });
    children.push(second);
    await collector.waitFor(
      () => delivered(collector).size === emails.length,
      90_000,
    );
    expect([...delivered(collector)].sort()).toEqual([...emails].sort());
    await stopReplica(second);
  });

  it('two replicas on one database: no duplicate, no gap', async () => {
    const flows = await Promise.all([
      flowWithMembers(800),
      flowWithMembers(800),
      flowWithMembers(800),
    ]);
    const a = startReplica(t.databaseUrl, { RUNNER_BATCH_SIZE: '50' });
    const b = startReplica(t.databaseUrl, { RUNNER_BATCH_SIZE: '50' });
    children.push(a, b);
    for (const f of flows) {
      await f.collector.waitFor(
        () => delivered(f.collector).size === f.emails.length,
        90_000,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const f of flows) {
      expect(f.collector.events).toHaveLength(f.emails.length);
      expect([...delivered(f.collector)].sort()).toEqual([...f.emails].sort());
    }
    expect(await stopReplica(a)).toBe(0);
    expect(await stopReplica(b)).toBe(0);
    // Every step's commit landed, the last ones too (a step commits while the
    // next one publishes): each cursor is at or past its tenant's last change
    // (a first backfill starts at the log's horizon), and the profile store
    // reports every exported `realized` membership as `existing`.
    const ds = t.app.get(DataSource);
    for (const f of flows) {
      const tenant = { orgId: f.tenant.orgId, sandboxName: f.tenant.sandbox };
      const [row] = (await ds.query(
        // Each lane has passed the last change of its own profiles.
        `SELECT bool_and(NOT EXISTS (
                  SELECT 1 FROM profile_changes p
                   WHERE p.org_id = c.org_id AND p.sandbox_name = c.sandbox_name
                     AND (p.tx_id, p.id) > (c.last_tx_id::xid8, c.last_change_id)
                     AND ${inLaneSql('p.profile_id', 'c.lane', 'c.lanes')})) AS passed
           FROM flow_cursors c WHERE c.org_id = $1 AND c.sandbox_name = $2`,
        [tenant.orgId, tenant.sandboxName],
      )) as { passed: boolean }[];
      expect(row?.passed).toBe(true);
      const realized = (await ds.query(
        `SELECT p.id::text AS id, s.key AS segment_id FROM profiles p, jsonb_each(p.memberships) s
          WHERE p.org_id = $1 AND p.sandbox_name = $2 AND s.value->>0 = 'realized'`,
        [tenant.orgId, tenant.sandboxName],
      )) as { id: string; segment_id: string }[];
      // The rows still say `realized` (exports do not write them)...
      expect(realized).toHaveLength(f.emails.length);
      // ...and the lookup's rule reports every one of them as exported.
      const seen = await realizationsSeen(
        ds,
        tenant,
        realized.map((r) => r.id),
        await exportPositions(ds, tenant),
      );
      expect(
        realized.filter((r) => !seen.get(r.id)?.has(r.segment_id)),
      ).toEqual([]);
    }
  });
  it('SIGTERM: the replica exits 0 and releases its flow at once, so another replica resumes it', async () => {
    const { collector, emails } = await flowWithMembers(3000);
    // A long lease: if the stopped replica kept its claim, the next one would wait a minute.
    const env = { RUNNER_BATCH_SIZE: '100', RUNNER_LEASE_MS: '60000' };
    const first = startReplica(t.databaseUrl, env);
    children.push(first);
    await collector.waitFor((ev) => ev.length >= 200, 60_000);
    const stoppedAt = Date.now();
    expect(await stopReplica(first, 'SIGTERM')).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(15_000);
    const second = startReplica(t.databaseUrl, env);
    children.push(second);
    await collector.waitFor(
      () => delivered(collector).size === emails.length,
      40_000,
    );
    expect([...delivered(collector)].sort()).toEqual([...emails].sort());
    await stopReplica(second);
  });
});
