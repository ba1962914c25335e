import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
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
import {
  createEventHubsFlow,
  flowProgress,
  patchFlow,
} from '../helpers/flows.js';
import { ingest } from '../helpers/profiles.js';
import { createSegment } from '../helpers/segments.js';
import { SegmentWorker } from '../../src/segments/segment-worker.js';
import { HubCollector } from '../helpers/hub.js';
import { eventually } from '../helpers/wait.js';

const FS = '/data/foundation/flowservice';

describe('dataflow runner: exports through the local emulator, proven with the SDK consumer', () => {
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

  const namespace = (): string => `127.0.0.1:${emulator.port}`;

  async function setup(
    opts: {
      segmentPql?: string;
      attributes?: string[];
      sasKey?: string;
      targetParams?: Record<string, unknown>;
    } = {},
  ) {
    const tenant = await createTenant(t);
    const hub = `exports-${randomUUID().slice(0, 8)}`;
    emulator.addHub({ name: hub, partitionCount: 4 });
    const collector = new HubCollector(emulator.connectionString(hub), hub);
    collectors.push(collector);
    collector.start();
    const segmentId = (
      await createSegment(
        t,
        tenant,
        `Gold ${hub}`,
        opts.segmentPql ?? 'loyalty.tier = "gold"',
      )
    ).id;
    return { tenant, hub, collector, segmentId };
  }

  async function flowFor(
    tenant: TestTenant,
    hub: string,
    segmentIds: string[],
    attributes: string[],
    sasKey = DEFAULT_EMULATOR_KEY,
    targetParams?: Record<string, unknown>,
  ) {
    return createEventHubsFlow(t, tenant, {
      namespace: namespace(),
      sasKeyName: DEFAULT_KEY_NAME,
      sasKey,
      eventHubName: hub,
      segmentIds,
      attributes,
      targetParams,
    });
  }

  /** The flow's cursor has passed every committed change and no backfill is pending. */
  async function caughtUp(flowId: string, timeoutMs = 20_000): Promise<void> {
    let last: unknown;
    await eventually(
      async () => {
        const p = await flowProgress(ds, flowId);
        last = p;
        return p?.noBackfill === true && p.pending === 0;
      },
      () => `flow ${flowId} to catch up: ${JSON.stringify(last)}`,
      { timeoutMs },
    );
    // Acknowledged sends are in the emulator; give the consumer a moment to receive them.
    await new Promise((res) => setTimeout(res, 300));
  }

  /** The membership status the profile lookup reports. */
  async function lookupStatus(
    tenant: TestTenant,
    email: string,
    segmentId: string,
  ): Promise<string | undefined> {
    const res = await t.http
      .get('/data/core/ups/access/entities')
      .query({
        'schema.name': '_xdm.context.profile',
        entityId: email,
        entityIdNS: 'email',
      })
      .set(tenant.headers)
      .expect(200);
    const entity = Object.values(
      res.body as Record<string, { entity: Record<string, unknown> }>,
    )[0]?.entity as {
      segmentMembership: { ups: Record<string, { status: string }> };
    };
    return entity.segmentMembership.ups[segmentId]?.status;
  }

  const profile = (
    email: string,
    tier: string,
    extra: Record<string, unknown> = {},
  ) => ({
    identityMap: { email: [{ id: email }] },
    person: { name: { firstName: email.split('@')[0], lastName: 'Doe' } },
    personalEmail: { address: email },
    loyalty: { tier },
    ...extra,
  });

  it('exports incrementally as on the product page: five new qualifiers → exactly five messages with every mapped attribute', async () => {
    const { tenant, hub, collector, segmentId } = await setup();
    await ingest(
      t,
      tenant,
      ['a@x.com', 'b@x.com', 'c@x.com'].map((e) => profile(e, 'gold')),
    );
    const attributes = [
      'person.name.firstName',
      'person.name.lastName',
      'personalEmail.address',
    ];
    const flow = await flowFor(tenant, hub, [segmentId], attributes);
    // Backfill: the segment's existing members are exported once.
    await collector.waitFor((ev) => ev.length >= 3);
    await caughtUp(flow.flowId);
    expect(collector.unique()).toHaveLength(3);

    const newcomers = ['d@x.com', 'e@x.com', 'f@x.com', 'g@x.com', 'h@x.com'];
    await ingest(t, tenant, [
      ...newcomers.map((e) => profile(e, 'gold')),
      profile('s1@x.com', 'silver'),
      profile('s2@x.com', 'silver'),
    ]);
    await collector.waitFor((ev) => ev.length >= 8);
    await caughtUp(flow.flowId);
    const seen = collector.events.map(
      (e) =>
        `${String((e.body.personalEmail as { address?: string } | undefined)?.address)} ${String(e.properties.trigger)} ${e.messageId}`,
    );
    expect(collector.unique(), JSON.stringify(seen)).toHaveLength(8);
    const fresh = collector.unique().slice(3);
    expect(
      fresh
        .map((e) => (e.body.personalEmail as { address: string }).address)
        .sort(),
    ).toEqual(newcomers);
    for (const e of fresh) {
      const email = (e.body.personalEmail as { address: string }).address;
      expect(e.contentType).toBe('application/json');
      expect(e.properties.flowId).toBe(flow.flowId);
      expect(e.body).toEqual({
        person: { name: { firstName: email.split('@')[0], lastName: 'Doe' } },
        personalEmail: { address: email },
        segmentMembership: {
          ups: {
            [segmentId]: {
              lastQualificationTime: expect.stringMatching(
                /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
              ) as unknown,
              status: 'realized',
            },
          },
        },
        identityMap: { email: [{ id: email }] },
      });
    }
  });

  it('exports on each trigger and never for unmapped or same-value writes', async () => {
    const { tenant, hub, collector, segmentId } = await setup();
    await ingest(t, tenant, [profile('ann@x.com', 'gold')]);
    const flow = await flowFor(
      tenant,
      hub,
      [segmentId],
      ['person.name.firstName'],
    );
    await collector.waitFor((ev) => ev.length === 1);
    await caughtUp(flow.flowId);
    const count = () => collector.unique().length;

    await ingest(t, tenant, [
      {
        identityMap: { email: [{ id: 'ann@x.com' }] },
        homeAddress: { city: 'Basel' },
      },
    ]);
    await ingest(t, tenant, [
      {
        identityMap: { email: [{ id: 'ann@x.com' }] },
        person: { name: { firstName: 'ann' } },
      },
    ]);
    await caughtUp(flow.flowId);
    expect(count()).toBe(1);

    await ingest(t, tenant, [
      {
        identityMap: { email: [{ id: 'ann@x.com' }] },
        person: { name: { firstName: 'Anna' } },
      },
    ]);
    await collector.waitFor(() => collector.unique().length === 2);
    expect(collector.unique()[1]?.body.person).toEqual({
      name: { firstName: 'Anna' },
    });
    expect(collector.unique()[1]?.properties.trigger).toBe('attribute');

    await ingest(t, tenant, [
      { identityMap: { email: [{ id: 'ann@x.com' }], ecid: [{ id: '123' }] } },
    ]);
    await collector.waitFor(() => collector.unique().length === 3);
    expect(collector.unique()[2]?.body.identityMap).toEqual({
      email: [{ id: 'ann@x.com' }],
      ecid: [{ id: '123' }],
    });

    await ingest(t, tenant, [
      {
        identityMap: { email: [{ id: 'ann@x.com' }] },
        loyalty: { tier: 'silver' },
      },
    ]);
    await collector.waitFor(() => collector.unique().length === 4);
    const exitMessage = collector.unique()[3]?.body.segmentMembership as
      { ups: Record<string, { status: string }> } | undefined;
    expect(exitMessage?.ups[segmentId]?.status).toBe('exited');
    await caughtUp(flow.flowId);
    expect(count()).toBe(4);
    // One profile's messages share a partition, so they arrive in order.
    expect(new Set(collector.events.map((e) => e.partitionId)).size).toBe(1);
  });

  it('pauses a disabled flow and catches up when it is enabled again', async () => {
    const { tenant, hub, collector, segmentId } = await setup();
    const flow = await flowFor(
      tenant,
      hub,
      [segmentId],
      ['personalEmail.address'],
    );
    await t.http
      .post(`${FS}/flows/${flow.flowId}/action?op=disable`)
      .set(tenant.headers)
      .expect(200);
    await ingest(t, tenant, [
      profile('p1@x.com', 'gold'),
      profile('p2@x.com', 'gold'),
    ]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(collector.unique()).toHaveLength(0);
    await t.http
      .post(`${FS}/flows/${flow.flowId}/action?op=ENABLE`)
      .set(tenant.headers)
      .expect(200);
    await collector.waitFor(() => collector.unique().length === 2);
    await caughtUp(flow.flowId);
    expect(collector.unique()).toHaveLength(2);
  });

  it('each flow shows a qualification as realized once, whichever exports first; the profile store then says existing', async () => {
    const { tenant, hub, collector, segmentId } = await setup();
    const hubB = `${hub}-b`;
    emulator.addHub({ name: hubB, partitionCount: 2 });
    const collectorB = new HubCollector(emulator.connectionString(hubB), hubB);
    collectors.push(collectorB);
    collectorB.start();
    const attributes = ['personalEmail.address', 'person.name.firstName'];
    const later = (
      await createSegment(
        t,
        tenant,
        `Later ${hub}`,
        'person.name.lastName = "Smith"',
      )
    ).id;
    const flowA = await flowFor(tenant, hub, [segmentId, later], attributes);
    const flowB = await flowFor(tenant, hubB, [segmentId, later], attributes);
    await caughtUp(flowA.flowId);
    await caughtUp(flowB.flowId);
    const action = (flowId: string, op: string) =>
      t.http
        .post(`${FS}/flows/${flowId}/action?op=${op}`)
        .set(tenant.headers)
        .expect(200);
    const statusIn = (
      e: { body: Record<string, unknown> } | undefined,
      id = segmentId,
    ) =>
      (
        e?.body.segmentMembership as
          { ups: Record<string, { status: string }> } | undefined
      )?.ups[id]?.status;
    const storeStatus = () => lookupStatus(tenant, 'once@x.com', segmentId);

    // The new segments' background evaluations are done: one running after
    // the ingest would be a later evaluation and make the profile `existing`.
    await eventually(async () => {
      const [row] = (await ds.query(
        `SELECT count(*)::int AS n FROM segment_jobs
          WHERE org_id = $1 AND status IN ('queued', 'running')`,
        [tenant.orgId],
      )) as { n: number }[];
      return row?.n === 0;
    }, 'the segment jobs to finish');
    // Both paused while the profile qualifies: no export has seen it yet.
    await action(flowA.flowId, 'disable');
    await action(flowB.flowId, 'disable');
    await ingest(t, tenant, [profile('once@x.com', 'gold')]);
    expect(await storeStatus()).toBe('realized');
    await action(flowA.flowId, 'enable');
    await collector.waitFor((ev) => ev.length === 1);
    await caughtUp(flowA.flowId);
    expect(statusIn(collector.events[0])).toBe('realized');
    // Flow A has exported it: the profile store reports it as existing.
    expect(await storeStatus()).toBe('existing');
    // Flow B had not: its first message of the qualification says realized too.
    await action(flowB.flowId, 'enable');
    await collectorB.waitFor((ev) => ev.length === 1);
    await caughtUp(flowB.flowId);
    expect(statusIn(collectorB.events[0])).toBe('realized');
    // A new flow's backfill reports the store's view: seen, so existing.
    const hubC = `${hub}-c`;
    emulator.addHub({ name: hubC, partitionCount: 1 });
    const collectorC = new HubCollector(emulator.connectionString(hubC), hubC);
    collectors.push(collectorC);
    collectorC.start();
    const flowC = await flowFor(tenant, hubC, [segmentId], attributes);
    await collectorC.waitFor((ev) => ev.length === 1);
    await caughtUp(flowC.flowId);
    expect(statusIn(collectorC.events[0])).toBe('existing');
    // A background evaluation lets the profile enter the other segment: the
    // export shows that one realized, and the first one, already exported
    // by each flow (though still stored as realized), existing.
    await t.http
      .patch(`/data/core/ups/segment/definitions/${later}`)
      .set(tenant.headers)
      .send({
        name: `Later ${hub}`,
        expression: {
          type: 'PQL',
          format: 'pql/text',
          value: 'person.name.lastName = "Doe"',
        },
      })
      .expect(200);
    await t.app.get(SegmentWorker).runOnce({
      tenant: { orgId: tenant.orgId, sandboxName: tenant.sandbox },
    });
    await collector.waitFor((ev) => ev.length === 2);
    await collectorB.waitFor((ev) => ev.length === 2);
    for (const e of [collector.events[1], collectorB.events[1]]) {
      expect(statusIn(e, later)).toBe('realized');
      expect(statusIn(e)).toBe('existing');
    }
    // A later change of a mapped attribute: existing everywhere.
    await ingest(t, tenant, [
      profile('once@x.com', 'gold', {
        person: { name: { firstName: 'Renamed', lastName: 'Doe' } },
      }),
    ]);
    await collector.waitFor((ev) => ev.length === 3);
    await collectorB.waitFor((ev) => ev.length === 3);
    for (const e of [collector.events[2], collectorB.events[2]]) {
      expect(statusIn(e)).toBe('existing');
      expect(statusIn(e, later)).toBe('existing');
    }
  });

  it('a deleted flow still counts as having exported: the lookup keeps saying existing', async () => {
    const { tenant, hub, collector, segmentId } = await setup();
    const flow = await flowFor(
      tenant,
      hub,
      [segmentId],
      ['personalEmail.address'],
    );
    await caughtUp(flow.flowId);
    await ingest(t, tenant, [profile('gone@x.com', 'gold')]);
    await collector.waitFor((ev) => ev.length === 1);
    await caughtUp(flow.flowId);
    expect(await lookupStatus(tenant, 'gone@x.com', segmentId)).toBe(
      'existing',
    );
    await t.http
      .delete(`${FS}/flows/${flow.flowId}`)
      .set(tenant.headers)
      .expect(202);
    // The runner marks the cursor of a deleted flow instead of dropping it.
    await eventually(
      async () => {
        const [row] = (await ds.query(
          `SELECT deleted_at IS NOT NULL AS deleted FROM flow_cursors WHERE flow_id = $1`,
          [flow.flowId],
        )) as { deleted: boolean }[];
        return row?.deleted;
      },
      'the cursor to be marked deleted',
      { timeoutMs: 10_000 },
    );
    expect(await lookupStatus(tenant, 'gone@x.com', segmentId)).toBe(
      'existing',
    );
  });

  it('backfills the members of a segment added to an existing flow', async () => {
    const { tenant, hub, collector, segmentId } = await setup();
    const platinum = (
      await createSegment(
        t,
        tenant,
        `Platinum ${hub}`,
        'loyalty.points >= 1000',
      )
    ).id;
    await ingest(t, tenant, [
      profile('q1@x.com', 'bronze', {
        loyalty: { tier: 'bronze', points: 5000 },
      }),
      profile('q2@x.com', 'bronze', {
        loyalty: { tier: 'bronze', points: 10 },
      }),
    ]);
    const flow = await flowFor(
      tenant,
      hub,
      [segmentId],
      ['personalEmail.address'],
    );
    await caughtUp(flow.flowId);
    expect(collector.unique()).toHaveLength(0);
    await patchFlow(t, tenant, flow.flowId, [
      {
        op: 'add',
        path: '/transformations/0/params/segmentSelectors/selectors/-',
        value: { type: 'PLATFORM_SEGMENT', value: { id: platinum } },
      },
    ]);
    await collector.waitFor((ev) => ev.length === 1);
    await caughtUp(flow.flowId);
    expect(collector.unique()).toHaveLength(1);
    expect(collector.unique()[0]?.body.personalEmail).toEqual({
      address: 'q1@x.com',
    });
  });

  it('a wrong SAS key fails the run with a clear error, loses nothing, and delivers after the key is patched', async () => {
    const { tenant, hub, collector, segmentId } = await setup();
    const flow = await flowFor(
      tenant,
      hub,
      [segmentId],
      ['personalEmail.address'],
      'd3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=',
    );
    await ingest(t, tenant, [profile('k1@x.com', 'gold')]);
    type Run = {
      metrics: {
        statusSummary: {
          status: string;
          errors: { code: string; message: string }[];
        };
      };
    };
    const run = await eventually(
      async () => {
        const res = await t.http
          .get(`${FS}/runs?property=flowId==${flow.flowId}`)
          .set(tenant.headers)
          .expect(200);
        return (res.body as { items: Run[] }).items.find(
          (r) => r.metrics.statusSummary.errors?.length > 0,
        );
      },
      'a run with errors',
      { intervalMs: 100 },
    );
    expect(run?.metrics.statusSummary.status).toBe('failed');
    expect(run?.metrics.statusSummary.errors[0]?.message).toMatch(/SAS key/);
    expect(JSON.stringify(run)).not.toContain('d3Jvbmcta2V5');
    expect(collector.unique()).toHaveLength(0);

    // The connection test makes the same SAS-authenticated call and says why it failed.
    const probe = await t.http
      .get(`${FS}/connections/${flow.baseConnectionId}/test`)
      .set(tenant.headers)
      .expect(200);
    expect(probe.body).toMatchObject({
      result: false,
      reason: expect.stringMatching(/SAS key/) as unknown,
    });
    const conn = await t.http
      .get(`${FS}/connections/${flow.baseConnectionId}`)
      .set(tenant.headers)
      .expect(200);
    const etag =
      (conn.body as { items: { etag: string }[] }).items[0]?.etag ?? '';
    await t.http
      .patch(`${FS}/connections/${flow.baseConnectionId}`)
      .set(tenant.headers)
      .set('If-Match', etag)
      .send([
        {
          op: 'replace',
          path: '/auth/params/sasKey',
          value: DEFAULT_EMULATOR_KEY,
        },
      ])
      .expect(200);
    await collector.waitFor((ev) => ev.length === 1, 30_000);
    expect(collector.unique()[0]?.body.personalEmail).toEqual({
      address: 'k1@x.com',
    });
    await t.http
      .get(`${FS}/connections/${flow.baseConnectionId}/test`)
      .set(tenant.headers)
      .expect(200, { result: true });
    // The failed attempts counted no records: the run shows the profile once.
    await caughtUp(flow.flowId);
    const runs = await t.http
      .get(`${FS}/runs?property=flowId==${flow.flowId}`)
      .set(tenant.headers)
      .expect(200);
    type Counted = {
      metrics: {
        recordSummary: {
          inputRecordCount: number;
          outputRecordCount: number;
          sourceSummaries: {
            entitySummaries: { id: string; inputRecordCount: number }[];
          }[];
        };
      };
    };
    const items = (runs.body as { items: Counted[] }).items;
    const total = (f: (r: Counted) => number) =>
      items.reduce((n, r) => n + f(r), 0);
    expect(total((r) => r.metrics.recordSummary.inputRecordCount)).toBe(1);
    expect(total((r) => r.metrics.recordSummary.outputRecordCount)).toBe(1);
    expect(
      total(
        (r) =>
          r.metrics.recordSummary.sourceSummaries[0]?.entitySummaries.find(
            (e) => e.id === `segment:${segmentId}`,
          )?.inputRecordCount ?? 0,
      ),
    ).toBe(1);
  });

  it('retries injected server-busy and dropped connections without loss; duplicates keep their messageId', async () => {
    const { tenant, hub, collector, segmentId } = await setup();
    const flow = await flowFor(
      tenant,
      hub,
      [segmentId],
      ['personalEmail.address'],
    );
    await caughtUp(flow.flowId);
    emulator.faults.add({
      kind: 'publish',
      effect: 'server-busy',
      hub,
      count: 2,
    });
    await ingest(
      t,
      tenant,
      ['r1', 'r2', 'r3', 'r4'].map((n) => profile(`${n}@x.com`, 'gold')),
    );
    await collector.waitFor(
      (ev) => new Set(ev.map((e) => e.properties.profileId)).size === 4,
    );
    expect(emulator.faults.fired('publish').length).toBeGreaterThanOrEqual(2);
    emulator.faults.add({ kind: 'connection', effect: 'drop' });
    await ingest(
      t,
      tenant,
      ['r5', 'r6'].map((n) => profile(`${n}@x.com`, 'gold')),
    );
    await collector.waitFor(
      (ev) => new Set(ev.map((e) => e.properties.profileId)).size === 6,
      30_000,
    );
    await caughtUp(flow.flowId);
    const byProfile = new Map<string, Set<string>>();
    for (const e of collector.events) {
      const ids =
        byProfile.get(String(e.properties.profileId)) ?? new Set<string>();
      ids.add(e.messageId);
      byProfile.set(String(e.properties.profileId), ids);
    }
    // Each profile was exported once; any redelivery carries the same messageId.
    for (const ids of byProfile.values()) expect(ids.size).toBe(1);
  });
  it('a message over the hub limit is a failed record of the run, and the flow goes on', async () => {
    const { tenant, hub, collector, segmentId } = await setup();
    const flow = await flowFor(
      tenant,
      hub,
      [segmentId],
      ['personalEmail.address', 'bio'],
    );
    await caughtUp(flow.flowId);
    // Each fragment stays under the 64 KB record limit; together they pass 1 MB.
    const chunk = 'x'.repeat(60_000);
    await ingest(t, tenant, [
      profile('huge@x.com', 'gold', { bio: { p0: chunk } }),
    ]);
    for (let i = 1; i < 20; i++) {
      await ingest(t, tenant, [
        {
          identityMap: { email: [{ id: 'huge@x.com' }] },
          bio: { [`p${i}`]: chunk },
        },
      ]);
    }
    await ingest(t, tenant, [profile('after@x.com', 'gold')]);
    await collector.waitFor(
      (ev) =>
        ev.some(
          (e) =>
            (e.body.personalEmail as { address: string }).address ===
            'after@x.com',
        ),
      30_000,
    );
    await caughtUp(flow.flowId);
    const res = await t.http
      .get(`${FS}/runs?property=flowId==${flow.flowId}`)
      .set(tenant.headers)
      .expect(200);
    const run = (
      res.body as {
        items: {
          metrics: {
            recordSummary: {
              failedRecordCount: number;
              failedInfo: { code: string; count: number }[];
            };
          };
        }[];
      }
    ).items[0];
    expect(run?.metrics.recordSummary.failedRecordCount).toBeGreaterThanOrEqual(
      1,
    );
    expect(run?.metrics.recordSummary.failedInfo.map((f) => f.code)).toContain(
      'EVENT_TOO_LARGE',
    );
  });
});
