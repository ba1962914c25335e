import { randomUUID } from 'node:crypto';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../../src/emulator/defaults.js';
import { EventHubsEmulator } from '../../src/emulator/index.js';
import { SegmentWorker } from '../../src/segments/segment-worker.js';
import { freePort } from '../global-setup.js';
import { createTenant, createTestApp, type TestApp } from '../helpers/app.js';
import { startReplica, stopReplica } from '../helpers/child.js';
import { createEventHubsFlow } from '../helpers/flows.js';
import { HubCollector } from '../helpers/hub.js';
import { ingest } from '../helpers/profiles.js';
import { createSegment } from '../helpers/segments.js';
import { eventually } from '../helpers/wait.js';

/**
 * `npm start` with RUNNER_WORKERS=2: the API answers from the first process
 * while two forked runner processes export one flow's lanes; /metrics
 * reports what the workers exported; SIGTERM stops them all, bounded, with
 * every lease released.
 */
describe('runner workers', () => {
  let emulator: EventHubsEmulator;
  let t: TestApp;
  let service: ChildProcess & { output: string[] };
  const collectors: HubCollector[] = [];

  beforeAll(async () => {
    emulator = new EventHubsEmulator({ autoCreateHubs: true });
    await emulator.start();
    t = await createTestApp();
  });

  afterAll(async () => {
    if (service) await stopReplica(service, 'SIGKILL');
    for (const c of collectors) await c.close();
    await t.close();
    await emulator.stop();
  });

  it('two worker processes export one flow; the API answers meanwhile; metrics and shutdown span them', async () => {
    const ds = t.app.get(DataSource);
    const tenant = await createTenant(t);
    const segmentId = (
      await createSegment(t, tenant, 'Gold', 'loyalty.tier = "gold"')
    ).id;
    await t.app.get(SegmentWorker).runOnce({
      tenant: { orgId: tenant.orgId, sandboxName: tenant.sandbox },
    });
    const hub = `workers-${randomUUID().slice(0, 8)}`;
    emulator.addHub({ name: hub, partitionCount: 4 });
    const collector = new HubCollector(emulator.connectionString(hub), hub);
    collectors.push(collector);
    collector.start();
    const emails = Array.from({ length: 1500 }, (_, i) => `w${i}@x.io`);
    for (let i = 0; i < emails.length; i += 500)
      await ingest(
        t,
        tenant,
        emails.slice(i, i + 500).map((email) => ({
          identityMap: { email: [{ id: email }] },
          personalEmail: { address: email },
          loyalty: { tier: 'gold' },
        })),
      );

    const port = await freePort();
    service = startReplica(t.databaseUrl, {
      PORT: String(port),
      RUNNER_WORKERS: '2',
      RUNNER_LANES: '4',
      // Small steps: the export lasts long enough for both workers to claim
      // their share even when one boots slowly on a loaded machine.
      RUNNER_BATCH_SIZE: '5',
      RATE_LIMIT_PER_MINUTE: '0',
    });
    const base = `http://127.0.0.1:${port}`;
    await eventually(
      async () => (await fetch(`${base}/health`).catch(() => null))?.ok,
      () => `the service to listen: ${service.output.join('').slice(-1000)}`,
      { timeoutMs: 60_000 },
    );
    // Both workers run before the flow has work: a worker alone would
    // rightly take every lane (its share) and might drain the flow alone.
    // Rows of runners from earlier test files (SIGKILLed ones stay until
    // they expire) share this database's runner_processes: the workers are
    // told apart as the service's child processes.
    const workerPids = (): string[] => childPids(service.pid).map(String);
    await eventually(
      async () => {
        const pids = workerPids();
        if (pids.length < 2) return false;
        const [row] = (await ds.query(
          `SELECT count(*)::int AS n FROM runner_processes
            WHERE seen_at > now() - interval '5 seconds'
              AND split_part(owner, ':', 2) = ANY($1::text[])`,
          [pids],
        )) as { n: number }[];
        return (row?.n ?? 0) >= 2;
      },
      () => `both workers to start: ${service.output.join('').slice(-1000)}`,
      { timeoutMs: 60_000 },
    );
    // The members exist already: the new flow's backfill is the work.
    const { flowId } = await createEventHubsFlow(t, tenant, {
      namespace: `127.0.0.1:${emulator.port}`,
      sasKeyName: DEFAULT_KEY_NAME,
      sasKey: DEFAULT_EMULATOR_KEY,
      eventHubName: hub,
      segmentIds: [segmentId],
      attributes: ['personalEmail.address'],
    });

    // While the workers export: the API answers, and the flow's lanes are
    // held by more than one process.
    const owners = new Set<string>();
    let answered = 0;
    const exporting = collector.waitFor(
      () => new Set(collector.events.map((e) => e.messageId)).size === 1500,
      90_000,
    );
    let done = false;
    void exporting.finally(() => (done = true));
    while (!done) {
      const rows = (await ds.query(
        `SELECT DISTINCT lease_owner FROM flow_cursors WHERE flow_id = $1 AND lease_owner IS NOT NULL`,
        [flowId],
      )) as { lease_owner: string }[];
      for (const r of rows) owners.add(r.lease_owner);
      if ((await fetch(`${base}/health`)).ok) answered++;
      await new Promise((r) => setTimeout(r, 50));
    }
    await exporting;
    expect(answered).toBeGreaterThan(0);
    // Owners are `host:pid:id`: two worker pids, neither the service's.
    const pids = new Set([...owners].map((o) => o.split(':')[1]));
    expect(pids.size).toBeGreaterThan(1);
    expect(pids.has(String(service.pid))).toBe(false);

    // The workers' counters reach the primary's /metrics.
    await eventually(async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) =>
          l.startsWith(`fse_flow_exports_total{flow_id="${flowId}"}`),
        );
      return Number(line?.split(' ')[1]) >= 1500;
    }, 'the exports counted in /metrics');

    // SIGTERM reaches the workers: all exit, in bounded time, leases released.
    const started = Date.now();
    expect(await stopReplica(service)).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    for (const pid of pids)
      expect(() => process.kill(Number(pid), 0)).toThrow();
    const [held] = (await ds.query(
      `SELECT count(*)::int AS n FROM flow_cursors WHERE flow_id = $1 AND lease_owner IS NOT NULL`,
      [flowId],
    )) as { n: number }[];
    expect(held?.n).toBe(0);
  }, 150_000);
  it('workers do not outlive a primary that is SIGKILLed', async () => {
    const port = await freePort();
    const primary = startReplica(t.databaseUrl, {
      PORT: String(port),
      RUNNER_WORKERS: '2',
      RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'info',
    });
    const children = (): number[] => childPids(primary.pid);
    let workers: number[] = [];
    await eventually(
      async () => {
        workers = children();
        return (
          workers.length >= 2 &&
          (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.ok
        );
      },
      () =>
        `the primary and its workers: ${primary.output.join('').slice(-1000)}`,
      { timeoutMs: 60_000 },
    );
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    primary.kill('SIGKILL');
    // The IPC channel closes with the primary: each worker stops (bounded
    // by SHUTDOWN_TIMEOUT_MS) instead of exporting on as an orphan.
    await eventually(
      () => workers.every((pid) => !alive(pid)),
      () =>
        `workers ${workers.join(', ')} to exit: ${primary.output.join('').slice(-1500)}`,
      { timeoutMs: 40_000 },
    );
  }, 120_000);
});

/** The pids of a process's children (`ps` exits 1 when there are none). */
function childPids(pid: number | undefined): number[] {
  try {
    return execFileSync('ps', ['--ppid', String(pid), '-o', 'pid='], {
      encoding: 'utf8',
    })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}
