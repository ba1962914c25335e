/**
 * `npm run bench -- export`: the dataflow runner end to end on this machine,
 * with the embedded PostgreSQL and the local emulator in its own process.
 *
 *  - throughput: N changed profiles (3 mapped segments, 10 mapped attributes),
 *    change log → hub acknowledgement, and the box's ceiling (same rows read,
 *    prebuilt payloads sent with the SDK); then a new flow's backfill of the
 *    same N profiles; each with the runner's CPU per export by phase;
 *  - scale: the same 10,000 changes on a small and on a large store;
 *  - latency: a steady rate of changes; commit → enqueued time p50/p99.
 *
 * Sizes can be reduced with BENCH_EXPORT_PROFILES, BENCH_SCALE_SMALL,
 * BENCH_SCALE_LARGE, BENCH_LATENCY_SECONDS, BENCH_LATENCY_RATE.
 */
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
} from '@azure/event-hubs';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module.js';
import { configureApp } from '../src/app.setup.js';
import { loadEnv } from '../src/config/env.js';
import { migrate } from '../src/data-source.js';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../src/emulator/defaults.js';
import {
  connectionStringFor,
  type EndpointPolicy,
} from '../src/event-hubs/endpoint.js';
import { partitioner } from '../src/event-hubs/publisher.js';
import { optionalModules } from '../src/optional-modules.js';
import { ProfileIngestService } from '../src/profiles/profile-ingest.service.js';
import type { ChangePosition } from '../src/profile-store/change-log.js';
import { WHOLE } from '../src/profile-store/lanes.js';
import { ExportExecutor } from '../src/runner/export-executor.js';
import { RunnerRepository } from '../src/runner/runner.repository.js';
import { type PhaseTotals, STEP_PHASES } from '../src/runner/step-timers.js';
import { RunnerScheduler } from '../src/runner/runner.scheduler.js';
import { TenancyService } from '../src/tenancy/tenancy.service.js';
import { createLogger } from '../src/logging/logger.js';
import { MetricsService } from '../src/metrics/metrics.service.js';
import { RunnerWorkers } from '../src/runner/workers.js';
import {
  freePort,
  printTopStatements,
  procCpuMs,
  startProfiler,
  startScratchDatabase,
} from './support.js';
const num = (name: string, def: number): number =>
  Number(process.env[name] ?? def);
const THROUGHPUT_N = num('BENCH_EXPORT_PROFILES', 100_000);
/**
 * Change-log rows per step: the service's default unless RUNNER_BATCH_SIZE
 * says otherwise (1,000 and 2,000 measured alike; the ceiling reads as many).
 */
const BATCH = num('RUNNER_BATCH_SIZE', 1000);
/** Changed profiles per round of the workers phase (1 worker, then RUNNER_WORKERS). */
const WORKERS_N = num('BENCH_WORKERS_PROFILES', 50_000);
/** The bench's own emulator, on loopback. */
const BENCH_ENDPOINTS: EndpointPolicy = {
  hostSuffixes: [],
  endpoints: ['127.0.0.1'],
};
const SCALE_CHANGES = 10_000;
const SCALE_ROUNDS = 3;
const SCALE_SMALL = num('BENCH_SCALE_SMALL', 10_000);
const SCALE_LARGE = num('BENCH_SCALE_LARGE', 1_000_000);
const LATENCY_SECONDS = num('BENCH_LATENCY_SECONDS', 60);
const LATENCY_RATE = num('BENCH_LATENCY_RATE', 1000);
/** `BENCH_PHASES=throughput,latency` runs a subset (all three by default). */
const PHASES = new Set(
  (process.env.BENCH_PHASES ?? 'throughput,workers,scale,latency')
    .split(',')
    .map((p) => p.trim()),
);

const ATTRIBUTES = [
  'person.name.firstName',
  'person.name.lastName',
  'person.birthDate',
  'person.gender',
  'personalEmail.address',
  'mobilePhone.number',
  'homeAddress.city',
  'homeAddress.countryCode',
  'loyalty.tier',
  'loyalty.points',
];

const secrets = {
  tokenSigningKey: 'bench-signing-key-0123456789abcdef0123456789',
  encryptionKey: Buffer.alloc(32, 7),
  encryptionKeyId: 'k1',
};

interface Harness {
  app: INestApplication;
  ds: DataSource;
  base: string;
  headers: Record<string, string>;
  tenant: { orgId: string; sandboxName: string };
  emulatorPort: number;
  adminPort: number;
  /** CPU time so far (ms) of this process, the Postgres server and the emulator. */
  cpu(): CpuSample;
  close(): Promise<void>;
}

interface CpuSample {
  node: number;
  /** The kernel's part of `node` (socket I/O to PostgreSQL and the emulator). */
  nodeSystem: number;
  postgres: number;
  emulator: number;
}

function cpuDelta(a: CpuSample, b: CpuSample, per: number): CpuSample {
  const r = (x: number): number => Math.round((x / per) * 1000 * 10) / 10;
  return {
    node: r(b.node - a.node),
    nodeSystem: r(b.nodeSystem - a.nodeSystem),
    postgres: r(b.postgres - a.postgres),
    emulator: r(b.emulator - a.emulator),
  };
}

async function startEmulator(
  port: number,
  adminPort: number,
): Promise<ChildProcess> {
  const cli = resolve(import.meta.dirname, '../src/emulator/cli.js');
  const child = spawn(
    process.execPath,
    [
      cli,
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
      '--auto-create-hubs',
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((res, rej) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Admin endpoint')) res();
    });
    child.once('exit', (code) => rej(new Error(`emulator exited ${code}`)));
  });
  return child;
}

async function startHarness(): Promise<Harness> {
  const db = await startScratchDatabase();
  const url = db.url;
  await migrate(url);
  const emulatorPort = await freePort();
  const adminPort = await freePort();
  const emulator = await startEmulator(emulatorPort, adminPort);
  const env = loadEnv({
    DATABASE_URL: url,
    LOG_LEVEL: 'warn',
    RUNNER_ENABLED: 'false',
    EMULATOR_ENABLED: 'false',
    EVENTHUBS_ALLOWED_ENDPOINTS: '127.0.0.1',
    SEGMENT_WORKER_ENABLED: 'false',
    RUNNER_BATCH_SIZE: String(BATCH),
    RUNNER_INTERVAL_MS: '200',
    DB_POOL_SIZE: '20',
    // The service's default unless given, to compare lane counts.
    ...(process.env.RUNNER_LANES
      ? { RUNNER_LANES: process.env.RUNNER_LANES }
      : {}),
  });
  const app = await NestFactory.create(
    AppModule.forRoot({
      env,
      databaseUrl: url,
      secrets,
      imports: optionalModules(env, url),
    }),
    {
      bodyParser: false,
      logger: process.env.BENCH_DEBUG
        ? ['error', 'warn', 'log', 'debug']
        : ['error', 'warn'],
    },
  );
  configureApp(app, env);
  await app.listen(0, '127.0.0.1');
  const base = await app.getUrl();
  const orgId = 'BENCH00000000000000000000@AdobeOrg';
  const client = await app.get(TenancyService).createClient({
    orgId,
    clientId: 'bench-client',
    clientSecret: 'bench-secret-0123456789',
  });
  const tokenRes = await fetch(`${base}/ims/token/v3`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: client.clientSecret,
    }),
  });
  const token = ((await tokenRes.json()) as { access_token: string })
    .access_token;
  const headers = {
    authorization: `Bearer ${token}`,
    'x-api-key': client.clientId,
    'x-gw-ims-org-id': orgId,
    'x-sandbox-name': 'prod',
    'content-type': 'application/json',
  };
  return {
    app,
    ds: app.get(DataSource),
    base,
    headers,
    tenant: { orgId, sandboxName: 'prod' },
    emulatorPort,
    adminPort,
    cpu: () => {
      const own = process.cpuUsage();
      return {
        node: (own.user + own.system) / 1000,
        nodeSystem: own.system / 1000,
        postgres: db.cpuMs(),
        emulator: emulator.pid ? procCpuMs(emulator.pid) : 0,
      };
    },
    close: async () => {
      await app.close();
      emulator.kill('SIGTERM');
      await new Promise((r) => emulator.once('exit', r));
      await db.remove();
    },
  };
}

async function api(
  h: Harness,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${h.base}${path}`, {
    method,
    headers: h.headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300)
    throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

async function createSegments(h: Harness, prefix: string): Promise<string[]> {
  const exprs = [
    'loyalty.tier = "gold"',
    'loyalty.points >= 500',
    'homeAddress.countryCode = "CH"',
  ];
  const ids: string[] = [];
  for (const [i, value] of exprs.entries()) {
    const seg = await api(h, 'POST', '/data/core/ups/segment/definitions', {
      name: `${prefix} segment ${i}`,
      expression: { type: 'PQL', format: 'pql/text', value },
      schema: { name: '_xdm.context.profile' },
    });
    ids.push(String(seg.id));
  }
  return ids;
}

async function createFlow(
  h: Harness,
  hub: string,
  segmentIds: string[],
): Promise<string> {
  const FS = '/data/foundation/flowservice';
  const eh = { id: 'bf9f5905-92b7-48bf-bf20-455bc6b60a4e', version: '1.0' };
  const ups = { id: '8a9c3494-9708-43d7-ae3f-cda01e5030e1', version: '1.0' };
  const baseConn = await api(h, 'POST', `${FS}/connections`, {
    name: 'bench',
    auth: {
      specName: 'Azure EventHub authentication credentials',
      params: {
        sasKeyName: DEFAULT_KEY_NAME,
        sasKey: DEFAULT_EMULATOR_KEY,
        namespace: `127.0.0.1:${h.emulatorPort}`,
      },
    },
    connectionSpec: eh,
  });
  const target = await api(h, 'POST', `${FS}/targetConnections`, {
    name: hub,
    baseConnectionId: baseConn.id,
    connectionSpec: eh,
    data: { format: 'json' },
    params: { eventHubName: hub },
  });
  const srcBase = await api(h, 'POST', `${FS}/connections`, {
    name: 'ups',
    connectionSpec: ups,
  });
  const source = await api(h, 'POST', `${FS}/sourceConnections`, {
    name: 'ups',
    baseConnectionId: srcBase.id,
    connectionSpec: ups,
    data: { format: 'json' },
  });
  const flow = await api(h, 'POST', `${FS}/flows`, {
    name: hub,
    flowSpec: { id: '71471eba-b620-49e4-90fd-23f1fa0174d8', version: '1.0' },
    sourceConnectionIds: [source.id],
    targetConnectionIds: [target.id],
    transformations: [
      {
        name: 'GeneralTransform',
        params: {
          profileSelectors: {
            selectors: ATTRIBUTES.map((path) => ({
              type: 'JSON_PATH',
              value: { path, operator: 'EXISTS' },
            })),
          },
          segmentSelectors: {
            selectors: segmentIds.map((id) => ({
              type: 'PLATFORM_SEGMENT',
              value: { id },
            })),
          },
        },
      },
    ],
  });
  return String(flow.id);
}

function profileDoc(
  key: string,
  i: number,
  tier = 'gold',
): Record<string, unknown> {
  return {
    identityMap: {
      email: [{ id: `${key}@bench.example` }],
      ecid: [{ id: String(10_000_000_000 + i) }],
    },
    person: {
      name: { firstName: `First${i}`, lastName: `Last${i % 977}` },
      birthDate: '1990-01-01',
      gender: i % 2 ? 'female' : 'male',
    },
    personalEmail: { address: `${key}@bench.example` },
    mobilePhone: { number: `+41 79 ${String(i).padStart(7, '0')}` },
    homeAddress: {
      city: 'Basel',
      countryCode: i % 3 === 0 ? 'CH' : 'DE',
      street1: `Street ${i}`,
    },
    loyalty: { tier, points: i % 1000 },
  };
}

async function ingest(
  h: Harness,
  docs: Record<string, unknown>[],
): Promise<void> {
  const svc = h.app.get(ProfileIngestService);
  for (let i = 0; i < docs.length; i += 5000) {
    const records = docs
      .slice(i, i + 5000)
      .map((value, index) => ({ index, value }));
    const res = await svc.ingestRecords(h.tenant, records, { batchSize: 1000 });
    if (res.rejected)
      throw new Error(
        `ingest rejected ${res.rejected}: ${JSON.stringify(res.results.find((r) => r.status === 'error'))}`,
      );
  }
}

async function publishedOn(h: Harness, hub: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${h.adminPort}/hubs`);
  const hubs = (await res.json()) as {
    name: string;
    partitions?: {
      lastEnqueuedSequenceNumber: number;
      beginningSequenceNumber: number;
      isEmpty: boolean;
    }[];
  }[];
  const found = hubs.find((x) => x.name === hub);
  return (found?.partitions ?? []).reduce(
    (n, p) => n + (p.isEmpty ? 0 : p.lastEnqueuedSequenceNumber + 1),
    0,
  );
}

async function waitForPublished(
  h: Harness,
  hub: string,
  n: number,
  timeoutMs = 30 * 60_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while ((await publishedOn(h, hub)) < n) {
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${n} events on ${hub}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function setFlowState(
  h: Harness,
  flowId: string,
  op: 'enable' | 'disable',
): Promise<void> {
  await api(
    h,
    'POST',
    `/data/foundation/flowservice/flows/${flowId}/action?op=${op}`,
  );
}

/** Waits until the runner has stored the flow's mapping (its cursor exists and any backfill is done). */
async function waitForCursor(h: Harness, flowId: string): Promise<void> {
  for (;;) {
    const rows = (await h.ds.query(
      `SELECT bool_and(backfill IS NULL AND jsonb_array_length(mapping->'segmentIds') > 0) AS ready FROM flow_cursors WHERE flow_id = $1`,
      [flowId],
    )) as { ready: boolean }[];
    if (rows[0]?.ready) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A new flow's first measurement (see measureRound). */
async function measureExport(
  h: Harness,
  hub: string,
  docs: Record<string, unknown>[],
  segmentIds: string[],
  scheduler: RunnerScheduler,
): Promise<Measured> {
  const flowId = await prepareFlow(h, hub, segmentIds);
  return measureRound(h, flowId, hub, docs, scheduler, hub);
}

interface Measured {
  seconds: number;
  events: number;
  cpuMsPer1000: CpuSample;
  bytesPerEvent: number;
  phases: PhaseBreakdown;
  /** CPU ms per 1,000 exports of runner worker processes (the workers phase), and the cores everything kept busy. */
  workers?: { cpuMsPer1000: number; coresBusy: Record<string, number> };
}

/**
 * The runner's own account of a measurement (StepTimers): CPU µs per export
 * of each synchronous phase, the rest of the process's CPU (driver protocol
 * parsing, socket I/O, the SDK's asynchronous work, GC), and wall ms per
 * step of each phase as a step waits for it.
 */
interface PhaseBreakdown {
  steps: number;
  cpuMicrosPerExport: Record<string, number>;
  wallMsPerStep: Record<string, number>;
}

function phaseBreakdown(
  a: PhaseTotals,
  b: PhaseTotals,
  exports: number,
  nodeCpuMs: number,
): PhaseBreakdown {
  const steps = b.steps - a.steps;
  const r = (x: number): number => Math.round(x * 10) / 10;
  const cpu: Record<string, number> = {};
  const wall: Record<string, number> = {};
  let attributed = 0;
  for (const p of STEP_PHASES) {
    const micros = b.cpuMicros[p] - a.cpuMicros[p];
    attributed += micros;
    cpu[p] = r(micros / exports);
    wall[p] = r((b.wallMs[p] - a.wallMs[p]) / Math.max(1, steps));
  }
  cpu.rest = r((nodeCpuMs * 1000 - attributed) / exports);
  return { steps, cpuMicrosPerExport: cpu, wallMsPerStep: wall };
}

/** A new flow to `hub`, its backfill done, disabled until a measurement enables it. */
async function prepareFlow(
  h: Harness,
  hub: string,
  segmentIds: string[],
): Promise<string> {
  const flowId = await createFlow(h, hub, segmentIds);
  await waitForCursor(h, flowId);
  await setFlowState(h, flowId, 'disable');
  return flowId;
}

/** Changes queued while the flow is disabled, then exported as fast as the runner can. */
async function measureRound(
  h: Harness,
  flowId: string,
  hub: string,
  docs: Record<string, unknown>[],
  scheduler: RunnerScheduler,
  label: string,
  workersCpuMs?: () => number,
): Promise<Measured> {
  // The fill and earlier rounds' ingestion left dead rows and stale
  // statistics: vacuum now, as after a bulk load, or autovacuum's catch-up
  // runs during the measurement.
  await h.ds.query('VACUUM ANALYZE profiles');
  // And start quiescent: the fill's gigabytes of WAL are not flushed by a
  // checkpoint in the middle of a one-second measurement.
  await h.ds.query('CHECKPOINT');
  // The flow's backfill and earlier rounds already exported to this hub.
  const before = await publishedOn(h, hub);
  const runsBefore = await outputOf(h, flowId);
  await ingest(h, docs);
  await printTopStatements(h.ds, 'ingest before the export');
  const profiler = await startProfiler();
  const executor = h.app.get(ExportExecutor);
  const started = performance.now();
  const cpuBefore = h.cpu();
  const workersBefore = workersCpuMs?.() ?? 0;
  const phasesBefore = executor.phaseTotals();
  await setFlowState(h, flowId, 'enable');
  scheduler.wake();
  await waitForPublished(h, hub, before + docs.length);
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = h.cpu();
  const workersMs = (workersCpuMs?.() ?? 0) - workersBefore;
  const phases = phaseBreakdown(
    phasesBefore,
    executor.phaseTotals(),
    docs.length,
    cpuAfter.node - cpuBefore.node,
  );
  await profiler?.stop(label);
  const cpuMsPer1000 = cpuDelta(cpuBefore, cpuAfter, docs.length);
  await printTopStatements(h.ds, `export to ${label}`);
  // Later measurements must not pay for this flow exporting their changes too.
  await setFlowState(h, flowId, 'disable');
  const after = await outputOf(h, flowId);
  const bytesPerEvent = Math.round(
    (after.bytes - runsBefore.bytes) /
      Math.max(1, after.records - runsBefore.records),
  );
  return {
    seconds,
    events: docs.length,
    cpuMsPer1000,
    bytesPerEvent,
    phases,
    ...(workersCpuMs && {
      workers: {
        cpuMsPer1000: round2((workersMs / docs.length) * 1000),
        coresBusy: {
          workers: round2(workersMs / 1000 / seconds),
          bench: round2((cpuAfter.node - cpuBefore.node) / 1000 / seconds),
          postgres: round2(
            (cpuAfter.postgres - cpuBefore.postgres) / 1000 / seconds,
          ),
          emulator: round2(
            (cpuAfter.emulator - cpuBefore.emulator) / 1000 / seconds,
          ),
        },
      },
    }),
  };
}

/** What the flow's runs have recorded as sent so far. */
async function outputOf(
  h: Harness,
  flowId: string,
): Promise<{ bytes: number; records: number }> {
  const [row] = (await h.ds.query(
    `SELECT COALESCE(sum((metrics->'sizeSummary'->>'outputBytes')::bigint), 0)::float8 AS bytes,
            COALESCE(sum((metrics->'recordSummary'->>'outputRecordCount')::bigint), 0)::float8 AS records
       FROM runs WHERE flow_id = $1`,
    [flowId],
  )) as { bytes: number; records: number }[];
  return { bytes: row?.bytes ?? 0, records: row?.records ?? 0 };
}

/** The box's ceiling: read the same change rows and profiles as the runner, send prebuilt payloads with the SDK. */
async function measureCeiling(
  h: Harness,
  hub: string,
  n: number,
  segmentIds: string[],
  bytesPerEvent: number,
): Promise<{ perSecond: number; cpuMsPer1000: CpuSample }> {
  const producer = new EventHubProducerClient(
    connectionStringFor(
      {
        namespace: `127.0.0.1:${h.emulatorPort}`,
        sasKeyName: DEFAULT_KEY_NAME,
        sasKey: DEFAULT_EMULATOR_KEY,
      },
      hub,
      BENCH_ENDPOINTS,
    ),
  );
  const partitionOf = partitioner(await producer.getPartitionIds());
  const repo = h.app.get(RunnerRepository);
  const { orgId, sandboxName } = h.tenant;
  // The same envelope as an export (a JSON body of the exports' average
  // size, content type, messageId, four properties), built once.
  // The runner hands the SDK each body as bytes; so does the ceiling.
  const prebuilt = Buffer.from(
    JSON.stringify({ payload: 'x'.repeat(Math.max(0, bytesPerEvent - 160)) }),
  );
  const properties = {
    flowId: randomUUID(),
    profileId: randomUUID(),
    targetConnectionId: randomUUID(),
    trigger: 'segment',
  };
  const read = async (after: ChangePosition) => {
    const { changes } = await repo.readChangesToHorizon(
      { orgId, sandboxName },
      after,
      BATCH,
      WHOLE,
    );
    await repo.exportStates(
      { orgId, sandboxName },
      changes.map((c) => c.profileId),
      segmentIds,
    );
    return changes;
  };
  await printTopStatements(h.ds, 'before the ceiling');
  const profiler = await startProfiler();
  const started = performance.now();
  const cpuBefore = h.cpu();
  let sent = 0;
  // Pipelined like the runner: the next batch is read while this one is sent.
  let next = read({ txId: '0', id: '0' });
  while (sent < n) {
    const changes = await next;
    if (changes.length === 0) break;
    const last = changes[changes.length - 1] as { txId: string; id: string };
    next = read({ txId: last.txId, id: last.id });
    const byPartition = new Map<string, string[]>();
    for (const c of changes) {
      const p = partitionOf(c.profileId);
      const list = byPartition.get(p);
      if (list) list.push(c.profileId);
      else byPartition.set(p, [c.profileId]);
    }
    await Promise.all(
      [...byPartition].map(async ([partitionId, ids]) => {
        let batch = await producer.createBatch({ partitionId });
        for (const id of ids) {
          const e = {
            body: prebuilt,
            contentType: 'application/json',
            messageId: id,
            properties,
          };
          if (!batch.tryAdd(e)) {
            await producer.sendBatch(batch);
            batch = await producer.createBatch({ partitionId });
            batch.tryAdd(e);
          }
        }
        if (batch.count) await producer.sendBatch(batch);
      }),
    );
    sent += changes.length;
  }
  await next.catch(() => undefined);
  await profiler?.stop(hub);
  await printTopStatements(h.ds, 'ceiling');
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  return {
    perSecond: sent / seconds,
    cpuMsPer1000: cpuDelta(cpuBefore, h.cpu(), sent),
  };
}

/** A new flow over the throughput round's profiles: its first backfill, exported as fast as the runner can. */
async function measureBackfill(
  h: Harness,
  hub: string,
  n: number,
  segmentIds: string[],
  scheduler: RunnerScheduler,
): Promise<Measured> {
  await h.ds.query('VACUUM ANALYZE profiles');
  await h.ds.query('CHECKPOINT');
  const executor = h.app.get(ExportExecutor);
  const profiler = await startProfiler();
  const started = performance.now();
  const cpuBefore = h.cpu();
  const phasesBefore = executor.phaseTotals();
  const flowId = await createFlow(h, hub, segmentIds);
  scheduler.wake();
  await waitForPublished(h, hub, n);
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = h.cpu();
  const phases = phaseBreakdown(
    phasesBefore,
    executor.phaseTotals(),
    n,
    cpuAfter.node - cpuBefore.node,
  );
  await profiler?.stop(hub);
  await printTopStatements(h.ds, `backfill to ${hub}`);
  await setFlowState(h, flowId, 'disable');
  const out = await outputOf(h, flowId);
  return {
    seconds,
    events: n,
    cpuMsPer1000: cpuDelta(cpuBefore, cpuAfter, n),
    bytesPerEvent: Math.round(out.bytes / Math.max(1, out.records)),
    phases,
  };
}

async function measureLatency(
  h: Harness,
  segmentIds: string[],
  scheduler: RunnerScheduler,
): Promise<{
  p50: number;
  p99: number;
  max: number;
  samples: number;
  coresBusy: { node: number; postgres: number; emulator: number };
}> {
  const hub = 'bench-latency';
  const flowId = await createFlow(h, hub, segmentIds);
  await waitForCursor(h, flowId);
  const committed = new Map<string, number>();
  const latencies: number[] = [];
  const consumer = new EventHubConsumerClient(
    '$default',
    connectionStringFor(
      {
        namespace: `127.0.0.1:${h.emulatorPort}`,
        sasKeyName: DEFAULT_KEY_NAME,
        sasKey: DEFAULT_EMULATOR_KEY,
      },
      hub,
      BENCH_ENDPOINTS,
    ),
  );
  const pending = new Map<string, number>();
  const sub = consumer.subscribe(
    {
      processEvents: (events) => {
        for (const e of events) {
          const email = ((e.body as { personalEmail?: { address?: string } })
            .personalEmail?.address ?? '') as string;
          const at = committed.get(email);
          if (at === undefined) pending.set(email, e.enqueuedTimeUtc.getTime());
          else latencies.push(e.enqueuedTimeUtc.getTime() - at);
        }
        return Promise.resolve();
      },
      processError: () => Promise.resolve(),
    },
    {
      startPosition: earliestEventPosition,
      maxBatchSize: 500,
      maxWaitTimeInSeconds: 0.05,
    },
  );
  await printTopStatements(h.ds, 'before the latency phase');
  const cpuBefore = h.cpu();
  const wallBefore = Date.now();
  const svc = h.app.get(ProfileIngestService);
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((LATENCY_RATE * tickMs) / 1000));
  const total = LATENCY_RATE * LATENCY_SECONDS;
  let i = 0;
  const started = Date.now();
  while (i < total) {
    const due = started + (i / LATENCY_RATE) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const docs = Array.from({ length: perTick }, (_, k) =>
      profileDoc(`lat-${i + k}`, i + k),
    );
    await svc.ingestRecords(
      h.tenant,
      docs.map((value, index) => ({ index, value })),
    );
    const now = Date.now();
    for (const d of docs) {
      const email = (d.personalEmail as { address: string }).address;
      committed.set(email, now);
      const early = pending.get(email);
      if (early !== undefined) latencies.push(early - now);
    }
    i += perTick;
  }
  scheduler.wake();
  const end = Date.now() + 30_000;
  while (latencies.length < total && Date.now() < end)
    await new Promise((r) => setTimeout(r, 100));
  await sub.close();
  await consumer.close();
  const cpuAfter = h.cpu();
  const wall = Date.now() - wallBefore;
  await printTopStatements(h.ds, 'latency');
  latencies.sort((a, b) => a - b);
  const q = (p: number): number =>
    latencies[
      Math.min(latencies.length - 1, Math.floor(p * latencies.length))
    ] ?? NaN;
  return {
    p50: q(0.5),
    p99: q(0.99),
    max: latencies[latencies.length - 1] ?? NaN,
    samples: latencies.length,
    // Cores busy while the changes came in and went out: at a fixed rate,
    // what the export path (and ingestion) costs beside the latency.
    coresBusy: {
      node: round2((cpuAfter.node - cpuBefore.node) / wall),
      postgres: round2((cpuAfter.postgres - cpuBefore.postgres) / wall),
      emulator: round2((cpuAfter.emulator - cpuBefore.emulator) / wall),
    },
  };
}

export async function runExportBench(): Promise<void> {
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
  };
  let peakRss = 0;
  const sampler = setInterval(
    () => (peakRss = Math.max(peakRss, process.memoryUsage().rss)),
    200,
  );
  const h = await startHarness();
  // An interrupted run still stops its embedded Postgres and emulator.
  const interrupt = (): void => {
    void h.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
  try {
    const scheduler = h.app.get(RunnerScheduler);
    await scheduler.start();
    const segmentIds = await createSegments(h, 'bench');

    if (PHASES.has('throughput')) {
      process.stdout.write(`throughput: ${THROUGHPUT_N} changed profiles…\n`);
      const docs = Array.from({ length: THROUGHPUT_N }, (_, i) =>
        profileDoc(`t-${i}`, i),
      );
      const tp = await measureExport(
        h,
        'bench-throughput',
        docs,
        segmentIds,
        scheduler,
      );
      const exportsPerSecond = tp.events / tp.seconds;
      await scheduler.stop();
      const ceiling = await measureCeiling(
        h,
        'bench-ceiling',
        THROUGHPUT_N,
        segmentIds,
        tp.bytesPerEvent,
      );
      await scheduler.start();
      // Every throughput profile is a member of the first segment.
      const bf = await measureBackfill(
        h,
        'bench-backfill',
        THROUGHPUT_N,
        segmentIds,
        scheduler,
      );
      results.backfill = {
        profiles: THROUGHPUT_N,
        seconds: bf.seconds,
        exportsPerSecond: bf.events / bf.seconds,
        ratioToCeiling: bf.events / bf.seconds / ceiling.perSecond,
        cpuMsPer1000Exports: bf.cpuMsPer1000,
        phases: bf.phases,
      };
      results.throughput = {
        profiles: THROUGHPUT_N,
        seconds: tp.seconds,
        exportsPerSecond,
        ceilingPerSecond: ceiling.perSecond,
        ratioToCeiling: exportsPerSecond / ceiling.perSecond,
        cpuMsPer1000Exports: tp.cpuMsPer1000,
        bytesPerEvent: tp.bytesPerEvent,
        ceilingCpuMsPer1000: ceiling.cpuMsPer1000,
        phases: tp.phases,
      };
    }

    if (PHASES.has('scale')) {
      process.stdout.write(
        `scale: ${SCALE_CHANGES} changes on stores of ${SCALE_SMALL} and ${SCALE_LARGE}…\n`,
      );
      const scale: Record<string, number> = {};
      const scaleRounds: Record<string, number[]> = {};
      let stored = PHASES.has('throughput') ? THROUGHPUT_N : 0;
      for (const size of [SCALE_SMALL, SCALE_LARGE].sort((a, b) => a - b)) {
        if (stored < size) {
          // In chunks: a million documents at once would cost GBs of heap.
          for (let from = stored; from < size; from += 50_000) {
            const filler = Array.from(
              { length: Math.min(50_000, size - from) },
              (_, k) => profileDoc(`fill-${from + k}`, from + k, 'bronze'),
            );
            await ingest(h, filler);
          }
          stored = size;
          // What an operator does after a bulk load; otherwise autovacuum's
          // catch-up would be measured as if it were the export's cost.
          await h.ds.query('VACUUM ANALYZE');
        }
        // Three rounds of the same 10,000 profiles changing (a second on
        // this box each; the median is steadier than one round): round 0
        // merges a new identity into each, later rounds change a mapped
        // attribute.
        const hub = `bench-scale-${size}`;
        const flowId = await prepareFlow(h, hub, segmentIds);
        const rounds: number[] = [];
        for (let round = 0; round < SCALE_ROUNDS; round++) {
          const changes = Array.from({ length: SCALE_CHANGES }, (_, k) => {
            const doc = profileDoc(`s${size}-${k}`, k);
            if (round > 0)
              doc.loyalty = { tier: 'gold', points: (k + round * 7) % 1000 };
            return doc;
          });
          const r = await measureRound(
            h,
            flowId,
            hub,
            changes,
            scheduler,
            `${hub}-${round}`,
          );
          rounds.push(r.events / r.seconds);
        }
        scaleRounds[String(size)] = rounds.map(Math.round);
        scale[String(size)] =
          [...rounds].sort((a, b) => a - b)[Math.floor(rounds.length / 2)] ??
          NaN;
      }
      const small = scale[String(SCALE_SMALL)] ?? NaN;
      const large = scale[String(SCALE_LARGE)] ?? NaN;
      results.scale = {
        changes: SCALE_CHANGES,
        exportsPerSecondByStoreSize: scale,
        roundsByStoreSize: scaleRounds,
        largeSlowdown: small / large,
      };
    }

    if (PHASES.has('workers')) {
      process.stdout.write(
        `workers: ${WORKERS_N} changed profiles by 1 runner worker, then by RUNNER_WORKERS…\n`,
      );
      results.workers = await measureWorkers(h, segmentIds, scheduler);
    }

    if (PHASES.has('latency')) {
      process.stdout.write(
        `latency: ${LATENCY_RATE} changes/s for ${LATENCY_SECONDS} s…\n`,
      );
      results.latency = {
        ratePerSecond: LATENCY_RATE,
        seconds: LATENCY_SECONDS,
        ...(await measureLatency(h, segmentIds, scheduler)),
      };
    }
  } finally {
    clearInterval(sampler);
    await h.close();
  }
  results.peakRssMiB = Math.round(peakRss / 1024 / 1024);
  const t = results.throughput as
    | {
        exportsPerSecond: number;
        ceilingPerSecond: number;
        ratioToCeiling: number;
        seconds: number;
        cpuMsPer1000Exports: CpuSample;
        ceilingCpuMsPer1000: CpuSample;
        bytesPerEvent: number;
        phases: PhaseBreakdown;
      }
    | undefined;
  const b = results.backfill as
    | {
        exportsPerSecond: number;
        ratioToCeiling: number;
        cpuMsPer1000Exports: CpuSample;
        phases: PhaseBreakdown;
      }
    | undefined;
  const s = results.scale as
    | {
        exportsPerSecondByStoreSize: Record<string, number>;
        roundsByStoreSize: Record<string, number[]>;
        largeSlowdown: number;
      }
    | undefined;
  const w = results.workers as WorkersResult | undefined;
  const l = results.latency as
    Awaited<ReturnType<typeof measureLatency>> | undefined;
  const rows = [
    ...(t
      ? [
          [
            'throughput (exports/s, change log → hub ack)',
            t.exportsPerSecond.toFixed(0),
            '≥ 20,000',
          ],
          [
            'ceiling (read rows + SDK send of prebuilt payloads)',
            t.ceilingPerSecond.toFixed(0),
            '',
          ],
          ['ratio to ceiling', t.ratioToCeiling.toFixed(2), ''],
          ['bytes per exported message (AMQP)', String(t.bytesPerEvent), ''],
          [
            'CPU ms per 1,000 exports: node (system) / postgres / emulator',
            `${t.cpuMsPer1000Exports.node} (${t.cpuMsPer1000Exports.nodeSystem}) / ${t.cpuMsPer1000Exports.postgres} / ${t.cpuMsPer1000Exports.emulator}`,
            '',
          ],
          [
            '  the same for the ceiling',
            `${t.ceilingCpuMsPer1000.node} (${t.ceilingCpuMsPer1000.nodeSystem}) / ${t.ceilingCpuMsPer1000.postgres} / ${t.ceilingCpuMsPer1000.emulator}`,
            '',
          ],
          [
            `node CPU µs per export: ${[...STEP_PHASES, 'rest'].join(' / ')}`,
            [...STEP_PHASES, 'rest']
              .map((p) => t.phases.cpuMicrosPerExport[p] ?? 0)
              .join(' / '),
            '',
          ],
          [
            `wall ms per step (${t.phases.steps} steps): ${STEP_PHASES.join(' / ')}`,
            STEP_PHASES.map((p) => t.phases.wallMsPerStep[p] ?? 0).join(' / '),
            '',
          ],
        ]
      : []),
    ...(b
      ? [
          [
            'backfill (exports/s, a new flow over those profiles)',
            b.exportsPerSecond.toFixed(0),
            '≥ 20,000',
          ],
          ['backfill ratio to ceiling', b.ratioToCeiling.toFixed(2), ''],
          [
            'backfill CPU ms per 1,000: node (system) / postgres / emulator',
            `${b.cpuMsPer1000Exports.node} (${b.cpuMsPer1000Exports.nodeSystem}) / ${b.cpuMsPer1000Exports.postgres} / ${b.cpuMsPer1000Exports.emulator}`,
            '',
          ],
          [
            `backfill node CPU µs per export: ${[...STEP_PHASES, 'rest'].join(' / ')}`,
            [...STEP_PHASES, 'rest']
              .map((p) => b.phases.cpuMicrosPerExport[p] ?? 0)
              .join(' / '),
            '',
          ],
        ]
      : []),
    ...(s
      ? [
          ...Object.entries(s.exportsPerSecondByStoreSize).map(([size, v]) => [
            `scale: 10,000 changes, store of ${size}`,
            `${v.toFixed(0)}/s (median of ${(s.roundsByStoreSize[size] ?? []).join(', ')})`,
            '',
          ]),
          [
            'scale: large store slowdown',
            `${s.largeSlowdown.toFixed(2)}×`,
            '≤ 1.2×',
          ],
        ]
      : []),
    ...(w ? workerRows(w) : []),
    ...(l
      ? [
          ['latency p50 (commit → enqueued)', `${l.p50} ms`, ''],
          ['latency p99', `${l.p99} ms`, '≤ 100 ms'],
          ['latency samples', String(l.samples), ''],
          [
            'latency phase: cores busy (bench process / PostgreSQL / emulator)',
            `${l.coresBusy.node} / ${l.coresBusy.postgres} / ${l.coresBusy.emulator}`,
            '',
          ],
        ]
      : []),
    ['peak RSS (bench process)', `${String(results.peakRssMiB)} MiB`, ''],
  ];
  process.stdout.write(
    `\n${rows.map((r) => `${(r[0] ?? '').padEnd(52)} ${(r[1] ?? '').padStart(12)}  ${r[2] ?? ''}`).join('\n')}\n`,
  );
  const out = resolve(import.meta.dirname, '../../bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'export.json'),
    `${JSON.stringify(results, null, 2)}\n`,
  );
}

/**
 * Runner worker processes on the bench database, as `npm start` forks them
 * (RUNNER_WORKERS), started and ready; resolves to their stop function.
 */
async function startRunnerWorkers(
  h: Harness,
  count: number,
): Promise<{ stop: () => Promise<void>; cpuMs: () => number }> {
  const url = (h.ds.options as { url?: string }).url ?? '';
  const raw = {
    PATH: process.env.PATH ?? '',
    DATABASE_URL: url,
    LOG_LEVEL: 'warn',
    RUNNER_BATCH_SIZE: String(BATCH),
    RUNNER_INTERVAL_MS: '200',
    DB_POOL_SIZE: '20',
    EVENTHUBS_ALLOWED_ENDPOINTS: '127.0.0.1',
  };
  const workers = new RunnerWorkers(
    resolve(import.meta.dirname, '../src/runner-worker.js'),
    count,
    { env: loadEnv(raw), raw, secrets },
    url,
    h.app.get(MetricsService),
    createLogger('warn'),
  );
  workers.start();
  await workers.ready();
  return {
    stop: () => workers.stop(15_000),
    cpuMs: () => workers.pids().reduce((sum, pid) => sum + procCpuMs(pid), 0),
  };
}

/**
 * The same export (a backlog of changed profiles on a fresh flow, see
 * measureRound) by one runner worker process and by RUNNER_WORKERS of them:
 * what the lanes let several processes do with one hot flow.
 */
async function measureWorkers(
  h: Harness,
  segmentIds: string[],
  scheduler: RunnerScheduler,
): Promise<WorkersResult> {
  const many = Math.max(
    2,
    num('RUNNER_WORKERS', availableParallelism()) || availableParallelism(),
  );
  const perSecond: Record<string, number> = {};
  const cpu: WorkersResult['cpu'] = {};
  for (const count of [1, many]) {
    const hub = `bench-workers-${count}`;
    const flowId = await prepareFlow(h, hub, segmentIds);
    await scheduler.stop();
    const { stop, cpuMs } = await startRunnerWorkers(h, count);
    try {
      const docs = Array.from({ length: WORKERS_N }, (_, i) =>
        profileDoc(`w${count}-${i}`, i),
      );
      const r = await measureRound(h, flowId, hub, docs, scheduler, hub, cpuMs);
      perSecond[String(count)] = r.events / r.seconds;
      if (r.workers)
        cpu[String(count)] = {
          workersMsPer1000: r.workers.cpuMsPer1000,
          postgresMsPer1000: r.cpuMsPer1000.postgres,
          emulatorMsPer1000: r.cpuMsPer1000.emulator,
          coresBusy: r.workers.coresBusy,
        };
    } finally {
      await stop();
      await scheduler.start();
    }
  }
  return { workers: many, perSecond, cpu };
}

interface WorkersResult {
  workers: number;
  perSecond: Record<string, number>;
  /** Per worker count: CPU ms per 1,000 exports and the cores each process kept busy. */
  cpu?: Record<
    string,
    {
      workersMsPer1000: number;
      postgresMsPer1000: number;
      emulatorMsPer1000: number;
      coresBusy: Record<string, number>;
    }
  >;
}

/** The workers phase's rows of the summary table. */
function workerRows(w: WorkersResult): string[][] {
  const one = w.perSecond['1'] ?? NaN;
  const many = w.perSecond[String(w.workers)] ?? NaN;
  return [
    ['workers: 1 runner process (exports/s)', one.toFixed(0), ''],
    [`workers: ${w.workers} runner processes (exports/s)`, many.toFixed(0), ''],
    [`workers: ${w.workers} vs 1`, `${(many / one).toFixed(2)}×`, '≥ 1.5×'],
    ...Object.entries(w.cpu ?? {}).flatMap(([count, c]) => [
      [
        `  ${count} process(es): CPU ms per 1,000 workers / PostgreSQL / emulator`,
        `${c.workersMsPer1000} / ${c.postgresMsPer1000} / ${c.emulatorMsPer1000}`,
        '',
      ],
      [
        `  ${count} process(es): cores busy workers / bench / PostgreSQL / emulator`,
        `${c.coresBusy.workers} / ${c.coresBusy.bench} / ${c.coresBusy.postgres} / ${c.coresBusy.emulator}`,
        '',
      ],
    ]),
  ];
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
