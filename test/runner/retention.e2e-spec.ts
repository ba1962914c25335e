import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../../src/emulator/defaults.js';
import { EventHubsEmulator } from '../../src/emulator/index.js';
import { RunnerRepository } from '../../src/runner/runner.repository.js';
import { SegmentJobsService } from '../../src/segments/segment-jobs.service.js';
import { createTenant, type TestApp, type TestTenant } from '../helpers/app.js';
import { type RunnerHarness, startRunnerHarness } from '../helpers/runner.js';
import { createEventHubsFlow, flowProgress } from '../helpers/flows.js';
import { ingest, lookup, waitVisible } from '../helpers/profiles.js';
import { FS } from '../helpers/resources.js';
import { createSegment } from '../helpers/segments.js';
import { eventually } from '../helpers/wait.js';

const WRONG_KEY = 'd3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=';

/**
 * Retention never outruns a flow: an exited membership is purged only once
 * every flow has exported the exit. Retention 0 (hours for the change log,
 * days for memberships) stands in for "the retention period has passed".
 */
describe('retention of exits a flow still owes', () => {
  let h: RunnerHarness;
  let t: TestApp;
  let emulator: EventHubsEmulator;
  let ds: DataSource;

  beforeAll(async () => {
    h = await startRunnerHarness();
    ({ t, emulator } = h);
    ds = t.app.get(DataSource);
  });
  afterAll(async () => h.close());

  async function setup(sasKey = DEFAULT_EMULATOR_KEY) {
    const tenant = await createTenant(t);
    const { name: hub, collector } = h.hub('retention');
    const segmentId = (
      await createSegment(t, tenant, `Gold ${hub}`, 'loyalty.tier = "gold"')
    ).id;
    const flow = await createEventHubsFlow(t, tenant, {
      namespace: `127.0.0.1:${emulator.port}`,
      sasKeyName: DEFAULT_KEY_NAME,
      sasKey,
      eventHubName: hub,
      segmentIds: [segmentId],
      attributes: ['personalEmail.address'],
    });
    return { tenant, collector, segmentId, flow };
  }

  const profile = (email: string, tier: string) => ({
    identityMap: { email: [{ id: email }] },
    personalEmail: { address: email },
    loyalty: { tier },
  });

  /** Both purges, as if the retention periods had passed. */
  async function purgeEverythingDue(): Promise<void> {
    await t.app.get(RunnerRepository).purgeConsumedChanges(0);
    await t.app.get(SegmentJobsService).purge(0);
  }

  const membership = async (
    tenant: TestTenant,
    email: string,
    segmentId: string,
  ): Promise<{ status: string } | undefined> => {
    const body = await lookup(t, tenant, email, 'email');
    const entity = Object.values(body)[0]?.entity as {
      segmentMembership: { ups: Record<string, { status: string }> };
    };
    return entity.segmentMembership.ups[segmentId];
  };

  const statusOf = (e: { body: Record<string, unknown> }, segmentId: string) =>
    (
      e.body.segmentMembership as {
        ups: Record<string, { status: string }>;
      }
    ).ups[segmentId]?.status;

  async function caughtUp(flowId: string): Promise<void> {
    await eventually(async () => {
      const p = await flowProgress(ds, flowId);
      return p?.noBackfill === true && p.pending === 0;
    }, `flow ${flowId} to catch up`);
  }

  it('a flow disabled across the retention period exports the exit when enabled again; then the exit is purged', async () => {
    const { tenant, collector, segmentId, flow } = await setup();
    await ingest(t, tenant, [profile('r1@x.io', 'gold')]);
    await collector.waitFor((ev) => ev.length >= 1);
    await t.http
      .post(`${FS}/flows/${flow.flowId}/action?op=disable`)
      .set(tenant.headers)
      .expect(200);
    await ingest(t, tenant, [profile('r1@x.io', 'silver')]);
    await waitVisible(t, tenant);

    await purgeEverythingDue();
    // The disabled flow has not sent the exit: the membership stays.
    expect(await membership(tenant, 'r1@x.io', segmentId)).toMatchObject({
      status: 'exited',
    });

    await t.http
      .post(`${FS}/flows/${flow.flowId}/action?op=enable`)
      .set(tenant.headers)
      .expect(200);
    await collector.waitFor((ev) =>
      ev.some((e) => statusOf(e, segmentId) === 'exited'),
    );
    await caughtUp(flow.flowId);

    // Now every flow has exported it: the retention purge removes it.
    await purgeEverythingDue();
    expect(await membership(tenant, 'r1@x.io', segmentId)).toBeUndefined();
  });

  it('a flow failing on a wrong key across the retention period exports the exit once the key is fixed', async () => {
    const { tenant, collector, segmentId, flow } = await setup();
    const setKey = async (sasKey: string) => {
      const conn = await t.http
        .get(`${FS}/connections/${flow.baseConnectionId}`)
        .set(tenant.headers)
        .expect(200);
      await t.http
        .patch(`${FS}/connections/${flow.baseConnectionId}`)
        .set(tenant.headers)
        .set(
          'If-Match',
          (conn.body as { items: { etag: string }[] }).items[0]?.etag ?? '',
        )
        .send([{ op: 'replace', path: '/auth/params/sasKey', value: sasKey }])
        .expect(200);
    };
    await ingest(t, tenant, [profile('r2@x.io', 'gold')]);
    await collector.waitFor((ev) => ev.length >= 1);
    await caughtUp(flow.flowId);
    // The key goes bad; the exit cannot be sent, the flow keeps its position.
    await setKey(WRONG_KEY);
    await ingest(t, tenant, [profile('r2@x.io', 'silver')]);
    await eventually(async () => {
      const p = await flowProgress(ds, flow.flowId);
      return (p?.failures ?? 0) > 0;
    }, 'the flow to fail');

    await purgeEverythingDue();
    expect(await membership(tenant, 'r2@x.io', segmentId)).toMatchObject({
      status: 'exited',
    });

    await setKey(DEFAULT_EMULATOR_KEY);
    await collector.waitFor(
      (ev) => ev.some((e) => statusOf(e, segmentId) === 'exited'),
      30_000,
    );
  });

  it('the purge reads only what is due: exits no flow has passed are not queued', async () => {
    const { tenant, segmentId, flow } = await setup();
    await t.http
      .post(`${FS}/flows/${flow.flowId}/action?op=disable`)
      .set(tenant.headers)
      .expect(200);
    await ingest(t, tenant, [profile('r3@x.io', 'gold')]);
    await ingest(t, tenant, [profile('r3@x.io', 'silver')]);
    await waitVisible(t, tenant);
    await purgeEverythingDue();
    const queued = (await ds.query(
      `SELECT segment_id FROM exported_exits WHERE org_id = $1`,
      [tenant.orgId],
    )) as unknown[];
    expect(queued).toEqual([]);
    expect(await membership(tenant, 'r3@x.io', segmentId)).toMatchObject({
      status: 'exited',
    });
  });
});
