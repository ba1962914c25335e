import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../../src/emulator/defaults.js';
import { EventHubsEmulator } from '../../src/emulator/index.js';
import {
  hashInLaneSql,
  inLaneSql,
  laneHash,
  laneOf,
} from '../../src/profile-store/lanes.js';
import { SegmentWorker } from '../../src/segments/segment-worker.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { startReplica, stopReplica } from '../helpers/child.js';
import { createEventHubsFlow, flowProgress } from '../helpers/flows.js';
import { HubCollector, type ReceivedExport } from '../helpers/hub.js';
import { ingest } from '../helpers/profiles.js';
import { createSegment } from '../helpers/segments.js';
import { eventually } from '../helpers/wait.js';

const LANES = 4;

/**
 * One hot flow drained by three runner processes on one database, lane by
 * lane, while profiles stream in, flows are created mid-stream and the
 * runners are SIGKILLed and restarted: no gap, per-profile order, and a
 * repeat only under the same messageId with the same body.
 */
describe('runner lanes', () => {
  let emulator: EventHubsEmulator;
  let t: TestApp;
  let ds: DataSource;
  const children: ChildProcess[] = [];
  const collectors: HubCollector[] = [];

  beforeAll(async () => {
    emulator = new EventHubsEmulator({ autoCreateHubs: true });
    await emulator.start();
    // This app only serves the API; the runner processes below export.
    t = await createTestApp();
    ds = t.app.get(DataSource);
  });

  afterAll(async () => {
    for (const c of children) await stopReplica(c, 'SIGKILL');
    for (const c of collectors) await c.close();
    await t.close();
    await emulator.stop();
  });

  it('computes the same lane in SQL as in the runner', async () => {
    const ids = Array.from({ length: 300 }, () => randomUUID());
    for (const lanes of [1, 3, 4]) {
      const rows = (await ds.query(
        `SELECT id::text AS id, l.n AS lane
           FROM unnest($1::uuid[]) AS p(id), generate_series(0, $2::int - 1) AS l(n)
          WHERE ${inLaneSql('p.id', 'l.n', String(lanes))}`,
        [ids, lanes],
      )) as { id: string; lane: number }[];
      expect(rows).toHaveLength(ids.length);
      for (const r of rows) expect(r.lane).toBe(laneOf(r.id, lanes));
      // The stored hash (fse_lane_hash: change rows' lane_hash, the
      // profiles' lane index) puts every id in the same lane.
      const stored = (await ds.query(
        `SELECT id::text AS id, l.n AS lane, fse_lane_hash(p.id) AS hash
           FROM unnest($1::uuid[]) AS p(id), generate_series(0, $2::int - 1) AS l(n)
          WHERE ${hashInLaneSql('fse_lane_hash(p.id)', 'l.n', String(lanes))}`,
        [ids, lanes],
      )) as { id: string; lane: number; hash: number }[];
      expect(stored).toHaveLength(ids.length);
      for (const r of stored) {
        expect(r.hash).toBe(laneHash(r.id));
        expect(r.lane).toBe(laneOf(r.id, lanes));
      }
    }
  });

  async function flowTo(
    tenant: TestTenant,
    segmentId: string,
  ): Promise<{ flowId: string; collector: HubCollector }> {
    const hub = `lanes-${randomUUID().slice(0, 8)}`;
    emulator.addHub({ name: hub, partitionCount: 4 });
    const collector = new HubCollector(emulator.connectionString(hub), hub);
    collectors.push(collector);
    collector.start();
    const { flowId } = await createEventHubsFlow(t, tenant, {
      namespace: `127.0.0.1:${emulator.port}`,
      sasKeyName: DEFAULT_KEY_NAME,
      sasKey: DEFAULT_EMULATOR_KEY,
      eventHubName: hub,
      segmentIds: [segmentId],
      attributes: ['personalEmail.address', 'person.name.firstName'],
    });
    return { flowId, collector };
  }

  const emailOf = (e: ReceivedExport): string =>
    String((e.body.personalEmail as { address: string }).address);
  const versionOf = (e: ReceivedExport): number =>
    Number(
      String(
        (e.body.person as { name: { firstName: string } }).name.firstName,
      ).slice(1),
    );

  it('three runner processes drain one flow by lanes through kills and restarts: no gap, per-profile order, repeats only under one messageId', async () => {
    const started = Date.now();
    const phase = (what: string): void =>
      void process.stdout.write(
        `lanes test: ${what} after ${Date.now() - started} ms\n`,
      );
    const tenant = await createTenant(t);
    const segmentId = (
      await createSegment(t, tenant, 'Gold', 'loyalty.tier = "gold"')
    ).id;
    // The segment's background evaluation (of no profiles yet) is done
    // before the stream, so none rewrites memberships in a runner later.
    await t.app.get(SegmentWorker).runOnce({
      tenant: { orgId: tenant.orgId, sandboxName: tenant.sandbox },
    });
    const flows = [await flowTo(tenant, segmentId)];
    const runnerEnv = {
      RUNNER_LANES: String(LANES),
      RUNNER_WORKERS: '0',
      RUNNER_BATCH_SIZE: '25',
      RUNNER_LEASE_MS: '1500',
      RUNNER_MAX_BACKOFF_MS: '500',
      RATE_LIMIT_PER_MINUTE: '0',
    };
    const runners = [0, 1, 2].map(() => startReplica(t.databaseUrl, runnerEnv));
    children.push(...runners);
    let kills = 0;
    const killOne = async (): Promise<void> => {
      const i = kills++ % runners.length;
      await stopReplica(runners[i] as ChildProcess, 'SIGKILL');
      runners[i] = startReplica(t.databaseUrl, runnerEnv);
      children.push(runners[i] as ChildProcess);
    };
    // The runners are up: they created the flow's lanes and stepped each.
    await eventually(
      async () => (await flowProgress(ds, flows[0]?.flowId ?? ''))?.stepped,
      () =>
        `the runners to start: ${runners.map((r) => r.output.join('').slice(-500)).join(' | ')}`,
      { timeoutMs: 60_000 },
    );

    // Which runners hold the first flow's lanes, sampled: more than one at
    // once shows the flow drained in parallel.
    let mostOwners = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [row] = (await ds
          .query(
            `SELECT count(DISTINCT lease_owner)::int AS n FROM flow_cursors
              WHERE flow_id = $1 AND lease_until > now()`,
            [flows[0]?.flowId],
          )
          .catch(() => [])) as { n: number }[];
        mostOwners = Math.max(mostOwners, row?.n ?? 0);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // Each profile is written twice (v1 then v2) and once more in an
    // attribute no flow maps; flows are added mid-stream
    // and backfill while it goes on; a runner is SIGKILLed and restarted
    // every third batch, and twice more while the last flow drains.
    const BATCHES = 8;
    const PER_BATCH = 100;
    const emails: string[] = [];
    const body = (email: string, v: number) => ({
      identityMap: { email: [{ id: email }] },
      personalEmail: { address: email },
      person: { name: { firstName: `v${v}` } },
      loyalty: { tier: 'gold' },
    });
    for (let b = 0; b < BATCHES; b++) {
      const batch = Array.from(
        { length: PER_BATCH },
        (_, i) => `p${b}-${i}-${tenant.orgId.slice(0, 6)}@x.io`,
      );
      emails.push(...batch);
      await ingest(
        t,
        tenant,
        batch.map((e) => body(e, 1)),
      );
      // The previous batch's profiles change while theirs are exported.
      const previous = emails.slice(-2 * PER_BATCH, -PER_BATCH);
      if (previous.length)
        await ingest(
          t,
          tenant,
          previous.map((e) => body(e, 2)),
        );
      // A write the flows do not map, to the profiles just exported: it
      // moves their rows but must not give a state re-read around it (a
      // batch retried after a kill, a backfill page) a second messageId.
      if (previous.length)
        await ingest(
          t,
          tenant,
          previous.map((e) => ({
            identityMap: { email: [{ id: e }] },
            preferences: { color: `c${b}` },
          })),
        );
      if (b === 2 || b === 5) flows.push(await flowTo(tenant, segmentId));
      if (b % 3 === 1) await killOne();
      await new Promise((r) => setTimeout(r, 200));
    }
    await ingest(
      t,
      tenant,
      emails.slice(-PER_BATCH).map((e) => body(e, 2)),
    );
    phase('stream done');
    const lastFlow = flows[flows.length - 1] as (typeof flows)[number];
    for (const share of [0.2, 0.6]) {
      await eventually(
        () => lastFlow.collector.events.length >= emails.length * share,
        () =>
          `the last flow to reach ${share * 100} %: ${lastFlow.collector.events.length} of ${emails.length}`,
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      await killOne();
    }

    // Every flow delivers every profile's last state.
    for (const f of flows) {
      const missing = (): string[] => {
        const last = new Map<string, number>();
        for (const e of f.collector.events)
          last.set(
            emailOf(e),
            Math.max(last.get(emailOf(e)) ?? 0, versionOf(e)),
          );
        return emails.filter((e) => last.get(e) !== 2);
      };
      let progress: unknown;
      await eventually(
        async () => {
          progress = await flowProgress(ds, f.flowId);
          return missing().length === 0;
        },
        () =>
          `flow ${f.flowId} to deliver every last state: ${missing().length} missing (${missing().slice(0, 3).join(', ')}), lanes ${JSON.stringify(progress)}`,
        { timeoutMs: 60_000, intervalMs: 200 },
      );
    }
    phase('every last state delivered');
    sampling = false;
    await sampler;
    for (const f of flows) {
      await eventually(async () => {
        const p = await flowProgress(ds, f.flowId);
        return p?.noBackfill === true && p.pending === 0;
      }, `flow ${f.flowId} to catch up`);
    }
    await new Promise((r) => setTimeout(r, 300));

    const stats: string[] = [];
    for (const f of flows) {
      const events = f.collector.events;
      stats.push(
        `${events.length} messages, ${new Set(events.map((e) => e.messageId)).size} ids`,
      );
    }
    console.log(`lanes test: ${kills} kills; per flow ${stats.join('; ')}`);
    for (const f of flows) {
      const byId = new Map<string, string>();
      const idsOfState = new Map<string, Set<string>>();
      const versions = new Map<string, number[]>();
      for (const e of f.collector.events) {
        const text = JSON.stringify(e.body);
        // One messageId, one body.
        expect(byId.get(e.messageId) ?? text).toBe(text);
        byId.set(e.messageId, text);
        // One body of a profile, one messageId.
        const key = `${emailOf(e)} ${text}`;
        const ids = idsOfState.get(key) ?? new Set<string>();
        ids.add(e.messageId);
        idsOfState.set(key, ids);
        const list = versions.get(emailOf(e)) ?? [];
        list.push(versionOf(e));
        versions.set(emailOf(e), list);
      }
      expect(
        [...idsOfState].filter(([, ids]) => ids.size > 1).map(([k]) => k),
      ).toEqual([]);
      // Per-profile order: a profile's states arrive oldest first (its
      // messages share a partition; a repeat never brings an older state back).
      const outOfOrder = [...versions].filter(([, list]) =>
        list.some((v, i) => i > 0 && v < (list[i - 1] as number)),
      );
      expect(
        outOfOrder.map(([email, list]) => `${email}: ${list.join(',')}`),
      ).toEqual([]);
      expect([...versions.keys()].sort()).toEqual([...emails].sort());
    }
    // Lanes of one flow were held by several runners at once.
    expect(mostOwners).toBeGreaterThan(1);
    const [lanes] = (await ds.query(
      `SELECT count(*)::int AS n, min(lanes)::int AS lanes FROM flow_cursors WHERE flow_id = $1`,
      [flows[0]?.flowId],
    )) as { n: number; lanes: number }[];
    expect(lanes).toEqual({ n: LANES, lanes: LANES });
    // A runner restarted last may still be booting (no SIGTERM handler yet):
    // replicas.e2e-spec checks a clean stop.
    for (const r of runners) await stopReplica(r);
  }, 300_000);
});
