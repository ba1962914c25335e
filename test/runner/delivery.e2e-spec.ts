import { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CliContext } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/program.js';
import { loadEnv } from '../../src/config/env.js';
import { purgeRecords } from '../../src/records/record-writes.js';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../../src/emulator/defaults.js';
import { createTenant, type TestApp, type TestTenant } from '../helpers/app.js';
import { type CreatedFlow, createEventHubsFlow } from '../helpers/flows.js';
import type { HubCollector, ReceivedExport } from '../helpers/hub.js';
import { ingest } from '../helpers/profiles.js';
import { FS } from '../helpers/resources.js';
import { type RunnerHarness, startRunnerHarness } from '../helpers/runner.js';
import { createSegment } from '../helpers/segments.js';
import { eventually } from '../helpers/wait.js';

interface TargetPreview {
  targetConnectionId: string;
  eventHubName: string;
  outcome: 'send' | 'excluded' | 'none';
  trigger: string | null;
  reason: { code: string; message: string } | null;
  message: {
    messageId: string;
    messageIdScheme: string;
    partitionKey: string;
    partitionId: string | null;
    applicationProperties: Record<string, string>;
    body: string;
  } | null;
}

interface Preview {
  flowId: string;
  profileId: string;
  entityId: string;
  entityIdNS: string | null;
  targets: TargetPreview[];
}

interface RecordItem {
  id: string;
  flowId: string;
  runId: string;
  targetConnectionId: string | null;
  profileId: string;
  identityMap: Record<string, { id: string }[]>;
  trigger: string;
  status: string;
  reasonCode: string;
  message: string;
  createdAt: number;
  replayedAt: number | null;
}

interface RunItem {
  id: string;
  state: string;
  op?: string;
  metrics: {
    recordSummary: {
      outputRecordCount: number;
      storedRecords?: { failed: number; excluded: number };
    };
  };
  _links: { records: { href: string } };
}

/** Delivery operations (issue 17): preview, records, replay, resync, consent — proven on the hub. */
describe('delivery operations', () => {
  let h: RunnerHarness;
  let t: TestApp;

  beforeAll(async () => {
    h = await startRunnerHarness();
    t = h.t;
  });
  afterAll(async () => h.close());

  async function goldFlow(
    tenant: TestTenant,
    hubName: string,
    opts: {
      attributes: string[];
      mandatoryFields?: string[];
      targetParams?: Record<string, unknown>;
    },
  ): Promise<CreatedFlow & { segmentId: string }> {
    const segmentId = (
      await createSegment(t, tenant, `Gold ${hubName}`, 'loyalty.tier = "gold"')
    ).id;
    const flow = await createEventHubsFlow(t, tenant, {
      namespace: `127.0.0.1:${h.emulator.port}`,
      sasKeyName: DEFAULT_KEY_NAME,
      sasKey: DEFAULT_EMULATOR_KEY,
      eventHubName: hubName,
      segmentIds: [segmentId],
      ...opts,
    });
    // The runner has taken the new flow up: its first step recorded the
    // mapping, so a preview sees no backfill pending.
    await eventually(async () => {
      const rows = (await t.app
        .get(DataSource)
        .query(
          `SELECT mapping FROM flow_cursors WHERE flow_id = $1 AND backfill IS NULL`,
          [flow.flowId],
        )) as { mapping: { segmentIds?: string[] } }[];
      return rows[0]?.mapping.segmentIds?.includes(segmentId) === true;
    }, 'the runner to take the flow up');
    return { ...flow, segmentId };
  }

  async function listRuns(
    tenant: TestTenant,
    flowId: string,
  ): Promise<RunItem[]> {
    const res = await t.http
      .get(`${FS}/runs`)
      .query({ property: `flowId==${flowId}`, limit: 100 })
      .set(tenant.headers)
      .expect(200);
    return (res.body as { items: RunItem[] }).items;
  }

  async function records(
    tenant: TestTenant,
    flowId: string,
  ): Promise<RecordItem[]> {
    const out: RecordItem[] = [];
    for (const run of await listRuns(tenant, flowId)) {
      const res = await t.http
        .get(`${FS}/runs/${run.id}/records`)
        .query({ limit: 100 })
        .set(tenant.headers)
        .expect(200);
      out.push(...(res.body as { items: RecordItem[] }).items);
    }
    return out;
  }

  async function preview(
    tenant: TestTenant,
    flowId: string,
    email: string,
  ): Promise<Preview> {
    const res = await t.http
      .get(`${FS}/flows/${flowId}/preview`)
      .query({ entityId: email, entityIdNS: 'email' })
      .set(tenant.headers);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as Preview;
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
  }

  async function operate(
    tenant: TestTenant,
    flowId: string,
    query: Record<string, string>,
    expected = 202,
  ): Promise<{ id: string; op: string; runId: string }> {
    const res = await t.http
      .post(`${FS}/flows/${flowId}/action`)
      .query(query)
      .set(tenant.headers);
    expect(res.status, JSON.stringify(res.body)).toBe(expected);
    return res.body as { id: string; op: string; runId: string };
  }

  const forEmail = (c: HubCollector, address: string): ReceivedExport[] =>
    c.events.filter(
      (e) =>
        (e.body.personalEmail as { address?: string } | undefined)?.address ===
          address ||
        (e.body.identityMap as Record<string, { id: string }[]> | undefined)
          ?.email?.[0]?.id === address,
    );

  const statusIn = (
    e: ReceivedExport | undefined,
    segmentId: string,
  ): string | undefined =>
    (
      e?.body.segmentMembership as
        { ups: Record<string, { status: string }> } | undefined
    )?.ups[segmentId]?.status;

  it('preview equals the message that then arrives, for each trigger', async () => {
    const tenant = await createTenant(t);
    const { name, collector } = h.hub('preview');
    const flow = await goldFlow(tenant, name, {
      attributes: ['personalEmail.address', 'loyalty.points'],
    });
    const address = `p-${name}@x.io`;
    const base = {
      identityMap: { email: [{ id: address }] },
      personalEmail: { address },
    };

    // Each step: pause the flow, change the profile, preview, resume, compare.
    const cases: [string, Record<string, unknown>][] = [
      ['attribute,identity,segment', { loyalty: { tier: 'gold', points: 1 } }],
      ['attribute', { loyalty: { tier: 'gold', points: 2 } }],
      [
        'identity',
        {
          identityMap: {
            email: [{ id: address }],
            crmId: [{ id: `crm-${name}` }],
          },
        },
      ],
      ['segment', { loyalty: { tier: 'silver', points: 2 } }],
    ];
    for (const [trigger, change] of cases) {
      await setState(tenant, flow.flowId, 'disable');
      // A step that started before the disable finishes first.
      await new Promise((r) => setTimeout(r, 300));
      const before = collector.events.length;
      await ingest(t, tenant, [{ ...base, ...change }]);
      const p = await preview(tenant, flow.flowId, address);
      expect(p.targets).toHaveLength(1);
      const [target] = p.targets;
      expect(target?.outcome, JSON.stringify(p)).toBe('send');
      expect(target?.trigger).toBe(trigger);
      // The preview sent nothing.
      await new Promise((r) => setTimeout(r, 300));
      expect(collector.events.length).toBe(before);
      await setState(tenant, flow.flowId, 'enable');
      await collector.waitFor((es) => es.length > before);
      const arrived = collector.events[collector.events.length - 1];
      const message = target?.message;
      // The exact message, unless a background write changed the profile
      // between the preview and the step (the realized → existing flip):
      // then it is a different message, and never the same id for it.
      if (JSON.stringify(arrived?.body) === message?.body)
        expect(arrived?.messageId).toBe(message?.messageId);
      else expect(arrived?.messageId).not.toBe(message?.messageId);
      expect(arrived?.properties).toEqual(message?.applicationProperties);
      expect(arrived?.properties.trigger).toBe(trigger);
      expect(arrived?.partitionId).toBe(message?.partitionId);
      expect(message?.partitionKey).toBe(p.profileId);
    }
    // Nothing pending once the step's commit (which may land after its
    // message arrived) is in: nothing to send, and not a member (silver).
    let idle = await preview(tenant, flow.flowId, address);
    await eventually(async () => {
      idle = await preview(tenant, flow.flowId, address);
      return idle.targets[0]?.outcome === 'none';
    }, 'the last step to commit');
    expect(idle.targets[0]?.outcome).toBe('none');
    expect(idle.targets[0]?.reason?.code).toBe('NOT_A_MEMBER');
    // An unknown identity is a 404 in Adobe's shape.
    const missing = await t.http
      .get(`${FS}/flows/${flow.flowId}/preview`)
      .query({ entityId: 'nobody@x.io', entityIdNS: 'email' })
      .set(tenant.headers);
    expect(missing.status).toBe(404);
    expect(JSON.stringify(missing.body)).toContain('nobody@x.io');
  });

  it('an oversized profile and one missing a mandatory field are kept as records and arrive after the fix and op=replay', async () => {
    const tenant = await createTenant(t);
    const { name, collector } = h.hub('replay');
    const flow = await goldFlow(tenant, name, {
      attributes: ['personalEmail.address', 'blob'],
      mandatoryFields: ['person.name'],
    });
    // Records are at most 64 KiB: the profile grows one blob part at a time.
    const part = 'x'.repeat(60_000);
    const parts = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, k) =>
        profile('big', { blob: { [`a${from + k}`]: part } }),
      );
    const who = (tag: string) => `${tag}-${name}@x.io`;
    const profile = (tag: string, extra: Record<string, unknown>) => ({
      identityMap: { email: [{ id: who(tag) }] },
      personalEmail: { address: who(tag) },
      loyalty: { tier: 'gold' },
      ...extra,
    });
    await ingest(t, tenant, [
      profile('ok', { person: { name: 'Ok' } }),
      profile('nameless', {}),
      profile('big', { person: { name: 'Big' }, blob: { a0: part } }),
    ]);
    await collector.waitFor(
      () =>
        forEmail(collector, who('ok')).length === 1 &&
        forEmail(collector, who('big')).length === 1,
    );
    // Together the 20 parts exceed the hub's 1 MiB message size.
    await ingest(t, tenant, parts(1, 10));
    await ingest(t, tenant, parts(10, 20));
    const kept = await eventually(async () => {
      const list = await records(tenant, flow.flowId);
      return list.length >= 2 && list;
    }, 'two records');
    const byReason = new Map(kept.map((r) => [r.reasonCode, r]));
    const size = byReason.get('SIZE_LIMIT');
    const mandatory = byReason.get('MISSING_MANDATORY');
    expect(size?.status).toBe('failed');
    expect(size?.targetConnectionId).toBe(flow.targetConnectionId);
    expect(size?.identityMap).toEqual({ email: [{ id: who('big') }] });
    expect(size?.trigger).toBe('attribute');
    expect(mandatory?.status).toBe('excluded');
    expect(mandatory?.targetConnectionId).toBeNull();
    expect(mandatory?.message).toContain('person.name');
    expect(mandatory?.identityMap).toEqual({
      email: [{ id: who('nameless') }],
    });
    expect(mandatory?.replayedAt).toBeNull();
    // The run links its records and counts them; the list filters and pages.
    const run = (await listRuns(tenant, flow.flowId)).find(
      (r) => r.id === size?.runId,
    );
    expect(run?._links.records.href).toBe(
      `/data/foundation/flowservice/runs/${size?.runId}/records`,
    );
    if (size?.runId === mandatory?.runId) {
      expect(run?.metrics.recordSummary.storedRecords).toEqual({
        failed: 1,
        excluded: 1,
      });
      const failed = await t.http
        .get(`${FS}/runs/${size?.runId}/records`)
        .query({ status: 'failed' })
        .set(tenant.headers)
        .expect(200);
      expect(
        (failed.body as { items: RecordItem[] }).items.map((r) => r.reasonCode),
      ).toEqual(['SIZE_LIMIT']);
      const first = await t.http
        .get(`${FS}/runs/${size?.runId}/records`)
        .query({ limit: 1 })
        .set(tenant.headers)
        .expect(200);
      const page1 = first.body as {
        items: RecordItem[];
        _links?: { next?: { href: string } };
      };
      expect(page1.items).toHaveLength(1);
      const next = page1._links?.next?.href ?? '';
      expect(next).toContain('continuationToken=');
      const second = await t.http.get(next).set(tenant.headers).expect(200);
      const ids = [
        ...page1.items,
        ...(second.body as { items: RecordItem[] }).items,
      ].map((r) => r.id);
      expect(new Set(ids).size).toBe(2);
      const count = await t.http
        .get(`${FS}/runs/${size?.runId}/records`)
        .query({ count: 'true', status: 'excluded' })
        .set(tenant.headers)
        .expect(200);
      expect(count.body).toEqual({ count: 1 });
    }
    expect(
      (
        await t.http
          .get(`${FS}/runs/${size?.runId}/records`)
          .query({ status: 'lost' })
          .set(tenant.headers)
      ).status,
    ).toBe(400);

    // Fix the data without triggering an export: an unmapped mandatory
    // field, and a mapping that no longer carries the blob.
    await ingest(t, tenant, [
      profile('nameless', { person: { name: 'Named' } }),
    ]);
    const get = await t.http
      .get(`${FS}/flows/${flow.flowId}`)
      .set(tenant.headers)
      .expect(200);
    const flowDoc = (
      get.body as { items: { etag: string; transformations: unknown[] }[] }
    ).items[0];
    await t.http
      .patch(`${FS}/flows/${flow.flowId}`)
      .set(tenant.headers)
      .set('If-Match', flowDoc?.etag ?? '')
      .send([
        {
          op: 'remove',
          path: '/transformations/0/params/profileSelectors/selectors/1',
        },
      ])
      .expect(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(forEmail(collector, who('nameless'))).toHaveLength(0);

    // One replay at a time: while the flow is paused the first one waits.
    await setState(tenant, flow.flowId, 'disable');
    const replay = await operate(tenant, flow.flowId, { op: 'replay' });
    expect(replay.op).toBe('replay');
    expect(replay.id).toBe(flow.flowId);
    const again = await t.http
      .post(`${FS}/flows/${flow.flowId}/action`)
      .query({ op: 'resync' })
      .set(tenant.headers);
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.body)).toContain(replay.runId);
    await setState(tenant, flow.flowId, 'enable');

    await collector.waitFor(
      () =>
        forEmail(collector, who('nameless')).length === 1 &&
        forEmail(collector, who('big')).some(
          (e) => e.properties.trigger === 'replay',
        ),
    );
    const replayed = forEmail(collector, who('nameless'))[0];
    expect(replayed?.properties.trigger).toBe('replay');
    expect(replayed?.body.person).toBeUndefined();
    const bigReplay = forEmail(collector, who('big')).find(
      (e) => e.properties.trigger === 'replay',
    );
    expect(bigReplay?.body.blob).toBeUndefined();
    // The ok profile had nothing to replay.
    expect(forEmail(collector, who('ok'))).toHaveLength(1);
    // Its run finishes and the records are marked replayed.
    await eventually(async () => {
      const runs = await listRuns(tenant, flow.flowId);
      const r = runs.find((x) => x.id === replay.runId);
      return r?.state === 'success' && r.op === 'replay' && r;
    }, 'the replay run to finish');
    const after = await records(tenant, flow.flowId);
    for (const id of [size?.id, mandatory?.id])
      expect(after.find((r) => r.id === id)?.replayedAt).toBeGreaterThan(0);
    // A replay of one run: nothing left to send, it still gets its own run.
    const single = await operate(tenant, flow.flowId, {
      op: 'replay',
      runId: size?.runId ?? '',
    });
    expect(single.runId).not.toBe(replay.runId);
    await operate(
      tenant,
      flow.flowId,
      { op: 'resync', runId: size?.runId ?? '' },
      400,
    );
  });

  it('resync sends every member once more while changes keep flowing in order', async () => {
    const tenant = await createTenant(t);
    const { name, collector } = h.hub('resync');
    const flow = await goldFlow(tenant, name, {
      attributes: ['personalEmail.address', 'loyalty.points'],
    });
    const n = 40;
    const member = (i: number, points: number) => ({
      identityMap: { email: [{ id: `m${i}-${name}@x.io` }] },
      personalEmail: { address: `m${i}-${name}@x.io` },
      loyalty: { tier: 'gold', points },
    });
    await ingest(
      t,
      tenant,
      Array.from({ length: n }, (_, i) => member(i, 0)),
    );
    await collector.waitFor(() => collector.unique().length === n);
    const resync = await operate(tenant, flow.flowId, { op: 'resync' });
    // Changes keep coming while the resync runs.
    for (let round = 1; round <= 5; round++)
      await ingest(
        t,
        tenant,
        Array.from({ length: n }, (_, i) => member(i, round)),
      );
    await collector.waitFor(() => {
      const resent = collector
        .unique()
        .filter((e) => e.properties.trigger === 'resync');
      return resent.length === n;
    });
    // Exactly once more per member (by messageId), and each member's last
    // message shows its last state: no change skipped, none out of order.
    const resent = collector
      .unique()
      .filter((e) => e.properties.trigger === 'resync');
    expect(new Set(resent.map((e) => e.properties.profileId)).size).toBe(n);
    await eventually(() => {
      for (let i = 0; i < n; i++) {
        const mine = forEmail(collector, `m${i}-${name}@x.io`);
        const last = mine[mine.length - 1];
        if (
          (last?.body.loyalty as { points?: number } | undefined)?.points !== 5
        )
          return false;
      }
      return true;
    }, 'every member to end at its last state');
    for (let i = 0; i < n; i++) {
      const points = forEmail(collector, `m${i}-${name}@x.io`).map(
        (e) => (e.body.loyalty as { points: number }).points,
      );
      // Never an older state after a newer one.
      expect(points).toEqual([...points].sort((a, b) => a - b));
    }
    const run = await eventually(async () => {
      const r = (await listRuns(tenant, flow.flowId)).find(
        (x) => x.id === resync.runId,
      );
      return r?.state === 'success' && r;
    }, 'the resync run to finish');
    expect(run.op).toBe('resync');
    expect(run.metrics.recordSummary.outputRecordCount).toBe(n);
  });

  it('consent: excluded without it, one exit on withdrawal, nothing until it returns', async () => {
    const tenant = await createTenant(t);
    const { name, collector } = h.hub('consent');
    const flow = await goldFlow(tenant, name, {
      attributes: ['personalEmail.address'],
      targetParams: {
        consentPolicy: { path: 'consents.share.val', allowed: ['y'] },
      },
    });
    const who = (tag: string) => `${tag}-${name}@x.io`;
    const profile = (tag: string, consent: string, tier = 'gold') => ({
      identityMap: { email: [{ id: who(tag) }] },
      personalEmail: { address: who(tag) },
      loyalty: { tier },
      consents: { share: { val: consent } },
    });
    await ingest(t, tenant, [profile('yes', 'y'), profile('no', 'n')]);
    await collector.waitFor(() => forEmail(collector, who('yes')).length === 1);
    const kept = await eventually(async () => {
      const list = await records(tenant, flow.flowId);
      return list.length === 1 && list;
    }, 'the consent record');
    expect(kept[0]?.reasonCode).toBe('CONSENT');
    expect(kept[0]?.status).toBe('excluded');
    expect(kept[0]?.identityMap).toEqual({ email: [{ id: who('no') }] });
    expect(forEmail(collector, who('no'))).toHaveLength(0);

    // Withdrawal: one message with the membership exited.
    await ingest(t, tenant, [profile('yes', 'n')]);
    await collector.waitFor(() => forEmail(collector, who('yes')).length === 2);
    const exit = forEmail(collector, who('yes'))[1];
    expect(exit?.properties.trigger).toBe('consent');
    expect(statusIn(exit, flow.segmentId)).toBe('exited');
    // Then nothing while consent is withdrawn, even on a mapped change.
    await ingest(t, tenant, [
      { ...profile('yes', 'n'), personalEmail: { address: who('yes') } },
      profile('yes', 'n', 'gold'),
    ]);
    await ingest(t, tenant, [
      {
        identityMap: { email: [{ id: who('yes') }] },
        loyalty: { tier: 'gold', level: 2 },
      },
    ]);
    const p = await preview(tenant, flow.flowId, who('no'));
    expect(p.targets[0]?.outcome).toBe('none');
    await new Promise((r) => setTimeout(r, 800));
    expect(forEmail(collector, who('yes'))).toHaveLength(2);
    // Consent returns: the profile is sent again, as a member.
    await ingest(t, tenant, [profile('yes', 'y')]);
    await collector.waitFor(() => forEmail(collector, who('yes')).length === 3);
    const back = forEmail(collector, who('yes'))[2];
    expect(statusIn(back, flow.segmentId)).toMatch(/realized|existing/);
    // A profile without consent previews as excluded when a change is pending.
    await setState(tenant, flow.flowId, 'disable');
    await new Promise((r) => setTimeout(r, 300));
    await ingest(t, tenant, [profile('no', 'no')]);
    const excluded = await preview(tenant, flow.flowId, who('no'));
    expect(excluded.targets[0]?.outcome).toBe('excluded');
    expect(excluded.targets[0]?.reason?.code).toBe('CONSENT');
    await setState(tenant, flow.flowId, 'enable');
  });

  it('every new route is tenant-scoped', async () => {
    const owner = await createTenant(t);
    const other = await createTenant(t);
    const { name } = h.hub('tenants');
    const flow = await goldFlow(owner, name, {
      attributes: ['personalEmail.address'],
    });
    const address = `t-${name}@x.io`;
    await ingest(t, owner, [
      { identityMap: { email: [{ id: address }] }, loyalty: { tier: 'gold' } },
    ]);
    const { runId } = await operate(owner, flow.flowId, { op: 'resync' });
    // The owner sees them...
    await t.http
      .get(`${FS}/runs/${runId}/records`)
      .set(owner.headers)
      .expect(200);
    await preview(owner, flow.flowId, address);
    // ...another tenant does not, even with the profile's identity in its own store.
    await ingest(t, other, [
      { identityMap: { email: [{ id: address }] }, loyalty: { tier: 'gold' } },
    ]);
    const tries = [
      t.http
        .get(`${FS}/flows/${flow.flowId}/preview`)
        .query({ entityId: address, entityIdNS: 'email' })
        .set(other.headers),
      t.http.get(`${FS}/runs/${runId}/records`).set(other.headers),
      t.http
        .post(`${FS}/flows/${flow.flowId}/action`)
        .query({ op: 'replay' })
        .set(other.headers),
      t.http
        .post(`${FS}/flows/${flow.flowId}/action`)
        .query({ op: 'resync' })
        .set(other.headers),
    ];
    for (const res of await Promise.all(tries)) {
      expect(res.status, JSON.stringify(res.body)).toBe(404);
      expect(res.body).toHaveProperty('code');
    }
    // A run of another tenant cannot be named in a replay either.
    const otherFlow = await goldFlow(other, `${name}-o`, {
      attributes: ['personalEmail.address'],
    });
    await operate(other, otherFlow.flowId, { op: 'replay', runId }, 404);
  });

  it('the CLI previews, resyncs with progress, lists records and replays over the API', async () => {
    const tenant = await createTenant(t);
    const { name, collector } = h.hub('cli');
    const flow = await goldFlow(tenant, name, {
      attributes: ['personalEmail.address'],
      targetParams: {
        consentPolicy: { path: 'consents.share.val', allowed: ['y'] },
      },
    });
    const who = (i: number) => `c${i}-${name}@x.io`;
    await ingest(
      t,
      tenant,
      [0, 1, 2].map((i) => ({
        identityMap: { email: [{ id: who(i) }] },
        personalEmail: { address: who(i) },
        loyalty: { tier: 'gold' },
        consents: { share: { val: i === 2 ? 'n' : 'y' } },
      })),
    );
    await collector.waitFor(() => collector.unique().length === 2);
    if (!t.app.getHttpServer().listening) await t.app.listen(0, '127.0.0.1');
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const ctx = new CliContext(
        loadEnv({ DATABASE_URL: inject('databaseUrl'), LOG_LEVEL: 'silent' }),
        { out: (x) => out.push(x), err: (x) => err.push(x) },
      );
      try {
        const code = await runCli(
          [
            'flows',
            ...args,
            '--base-url',
            `http://127.0.0.1:${port}`,
            '--client-id',
            tenant.clientId,
            '--client-secret',
            tenant.clientSecret,
            '--org',
            tenant.orgId,
          ],
          ctx,
        );
        return { code, out: out.join('\n'), err: err.join('\n') };
      } finally {
        await ctx.close();
      }
    };
    const preview = await cli('preview', flow.flowId, who(0), '--ns', 'email');
    expect(preview.code, preview.err).toBe(0);
    expect(preview.out).toContain(`target ${flow.targetConnectionId}`);

    const resync = await cli('resync', flow.flowId, '--interval', '100');
    expect(resync.code, resync.err).toBe(0);
    expect(resync.out).toMatch(/resync started: run [0-9a-f-]{36}/);
    expect(resync.out).toMatch(/resync success: 3 profiles read, 2 sent/);
    const runId = /run ([0-9a-f-]{36})/.exec(resync.out)?.[1] ?? '';
    await collector.waitFor(
      () =>
        collector.unique().filter((e) => e.properties.trigger === 'resync')
          .length === 2,
    );

    // The resync's run kept the profile without consent as a record.
    const records = await cli('records', runId, '--status', 'excluded');
    expect(records.code, records.err).toBe(0);
    expect(records.out.split('\n')[0]).toMatch(/^TIME\s+PROFILE\s+STATUS/);
    expect(records.out).toContain('CONSENT');
    const replay = await cli(
      'replay',
      flow.flowId,
      '--run',
      runId,
      '--no-wait',
    );
    expect(replay.code, replay.err).toBe(0);
    expect(replay.out).toMatch(/replay started: run /);
    const unknown = await cli('records', flow.flowId);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('404');
  });

  it('records past DELIVERY_RECORD_RETENTION_DAYS are deleted in bounded batches', async () => {
    expect(() => loadEnv({ DELIVERY_RECORD_RETENTION_DAYS: '0' })).toThrow(
      /DELIVERY_RECORD_RETENTION_DAYS/,
    );
    const ds = t.app.get(DataSource);
    const flowId = randomUUID();
    const insert = (n: number, daysOld: number) =>
      ds.query(
        `INSERT INTO delivery_records (org_id, sandbox_name, flow_id, run_id, profile_id, identity_map,
                                       trigger, status, reason_code, message, created_at)
         SELECT 'retention', 'prod', $1, $1, gen_random_uuid(), '{}', 'segment', 'failed', 'SIZE_LIMIT', 'x',
                now() - ($3::int * interval '1 day')
           FROM generate_series(1, $2)`,
        [flowId, n, daysOld],
      );
    await insert(25, 40);
    await insert(5, 10);
    const left = async () =>
      (
        (await ds.query(
          `SELECT count(*)::int AS n FROM delivery_records WHERE flow_id = $1`,
          [flowId],
        )) as { n: number }[]
      )[0]?.n;
    // One call deletes at most batch × maxBatches rows, oldest first.
    expect(await purgeRecords(ds, 30, 10, 2)).toBeGreaterThanOrEqual(20);
    expect(await left()).toBeLessThanOrEqual(10);
    await purgeRecords(ds, 30, 10, 2);
    expect(await left()).toBe(5);
  });
});
