import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../../src/emulator/defaults.js';
import { SegmentWorker } from '../../src/segments/segment-worker.js';
import { createTenant, type TestApp, type TestTenant } from '../helpers/app.js';
import { createEventHubsFlow } from '../helpers/flows.js';
import type { ReceivedExport } from '../helpers/hub.js';
import { ingest } from '../helpers/profiles.js';
import { FS } from '../helpers/resources.js';
import { type RunnerHarness, startRunnerHarness } from '../helpers/runner.js';
import { createSegment } from '../helpers/segments.js';
import { eventually } from '../helpers/wait.js';

interface PreviewMessage {
  messageId: string;
  body: string;
}

/**
 * A messageId names one state of a profile as one flow sends it (issue 14
 * point 5): writes the flow does not see leave it as it was, so the same
 * state read again by any path keeps its id; a profile that returns to an
 * earlier state gets a new one.
 */
describe('export messageIds', () => {
  let h: RunnerHarness;
  let t: TestApp;

  beforeAll(async () => {
    h = await startRunnerHarness();
    t = h.t;
  });
  afterAll(async () => h.close());

  async function preview(
    tenant: TestTenant,
    flowId: string,
    address: string,
  ): Promise<PreviewMessage> {
    const res = await t.http
      .get(`${FS}/flows/${flowId}/preview`)
      .query({ entityId: address, entityIdNS: 'email' })
      .set(tenant.headers);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const target = (
      res.body as {
        targets: { outcome: string; message: PreviewMessage | null }[];
      }
    ).targets[0];
    expect(target?.outcome, JSON.stringify(res.body)).toBe('send');
    return target?.message as PreviewMessage;
  }

  async function setState(
    tenant: TestTenant,
    flowId: string,
    op: 'enable' | 'disable',
  ): Promise<void> {
    await t.http
      .post(`${FS}/flows/${flowId}/action`)
      .query({ op })
      .set(tenant.headers)
      .expect(200);
    // A step that started before a disable finishes first.
    if (op === 'disable') await new Promise((r) => setTimeout(r, 300));
  }

  it('keeps a state its messageId through writes the flow does not send, and gives a return to an earlier state a new one', async () => {
    const tenant = await createTenant(t);
    const ds = t.app.get(DataSource);
    const { name, collector } = h.hub('msgid');
    const segmentId = (
      await createSegment(t, tenant, 'Gold', 'loyalty.tier = "gold"')
    ).id;
    const { flowId } = await createEventHubsFlow(t, tenant, {
      namespace: `127.0.0.1:${h.emulator.port}`,
      sasKeyName: DEFAULT_KEY_NAME,
      sasKey: DEFAULT_EMULATOR_KEY,
      eventHubName: name,
      segmentIds: [segmentId],
      attributes: ['personalEmail.address', 'loyalty.points'],
    });
    const address = `p-${name}@x.io`;
    const record = (extra: Record<string, unknown>) => ({
      identityMap: { email: [{ id: address }] },
      personalEmail: { address },
      ...extra,
    });
    const gold = (points: number) =>
      record({ loyalty: { tier: 'gold', points } });
    const arrived = async (count: number): Promise<ReceivedExport> => {
      await collector.waitFor((es) => es.length >= count);
      return collector.events[count - 1] as ReceivedExport;
    };

    await ingest(t, tenant, [gold(1)]);
    await arrived(1);

    // Paused: the flow's next message is the profile with 2 points.
    await setState(tenant, flowId, 'disable');
    await ingest(t, tenant, [gold(2)]);
    const pending = await preview(tenant, flowId, address);

    // Writes that change nothing the flow sends move the row's version but
    // not the message: an attribute it does not map …
    await ingest(t, tenant, [record({ preferences: { color: 'red' } })]);
    expect(await preview(tenant, flowId, address)).toEqual(pending);
    // … the same record again …
    await ingest(t, tenant, [gold(2)]);
    expect(await preview(tenant, flowId, address)).toEqual(pending);
    // … and entering a segment the flow does not export.
    const red = (
      await createSegment(t, tenant, 'Red', 'preferences.color = "red"')
    ).id;
    // The segment's evaluation job (this worker, or the app's own).
    await eventually(async () => {
      await t.app.get(SegmentWorker).runOnce({
        tenant: { orgId: tenant.orgId, sandboxName: tenant.sandbox },
      });
      const [row] = (await ds.query(
        `SELECT memberships ? $2 AS member, content_versions AS versions FROM profiles
          WHERE org_id = $1 AND identity_map -> 'email' -> 0 ->> 'id' = $3`,
        [tenant.orgId, red, address],
      )) as { member: boolean; versions: Record<string, number> }[];
      // The job moved the segment's facet, named as ingestion names it.
      if (row?.member)
        expect(row.versions[`s:${red.slice(-8)}`]).toBeGreaterThan(
          row.versions[`s:${segmentId.slice(-8)}`] ?? 0,
        );
      return row?.member === true;
    }, 'the profile to enter the Red segment');
    expect(await preview(tenant, flowId, address)).toEqual(pending);

    // What the flow then sends is that message, once.
    await setState(tenant, flowId, 'enable');
    const second = await arrived(2);
    expect(second.messageId).toBe(pending.messageId);
    expect(JSON.stringify(second.body)).toBe(pending.body);

    // 2 → 3 → 2 points: the return to 2 is news, under a new messageId.
    await ingest(t, tenant, [gold(3)]);
    await arrived(3);
    await ingest(t, tenant, [gold(2)]);
    const back = await arrived(4);
    expect(JSON.stringify(back.body)).toBe(pending.body);
    expect(back.messageId).not.toBe(pending.messageId);

    await new Promise((r) => setTimeout(r, 500));
    const ids = collector.events.map((e) => e.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    await eventually(
      () => collector.events.length === 4,
      () => `exactly four messages, got ${collector.events.length}`,
    );
  });
});
