import { NestFactory } from '@nestjs/core';
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module.js';
import { configureApp } from '../src/app.setup.js';
import { loadEnv } from '../src/config/env.js';
import { migrate } from '../src/data-source.js';
import { TenancyService } from '../src/tenancy/tenancy.service.js';
import type { LoadResult, LoadSpec } from './load-client.js';
import { type PauseReport, tracePauses } from './pauses.js';
import {
  printTopStatements,
  startProfiler,
  startScratchDatabase,
} from './support.js';

const num = (name: string, def: number): number =>
  Number(process.env[name] ?? def);
const FLOWS = num('BENCH_API_FLOWS', 10_000);
const RUNS = num('BENCH_API_RUNS', 100_000);
const SEGMENTS = 100;
/** Requests per phase (pages followed through `_links.next` count one each). */
const SAMPLES = num('BENCH_API_SAMPLES', 200);
const FS = '/data/foundation/flowservice';
const TARGET_P99_MS = 50;
/** Concurrent phases: keep-alive clients, seconds measured (after a warm-up). */
const CLIENTS = num('BENCH_API_CLIENTS', 32);
const LOAD_SECONDS = num('BENCH_API_SECONDS', 10);
const TARGET_GET_RPS = 2500;
const TARGET_GET_P99_MS = 25;
/** Above anything the phases offer, so the limiter's cost is measured, never its refusals. */
const RATE_LIMIT = '100000000';
const EH_SPEC = { id: 'bf9f5905-92b7-48bf-bf20-455bc6b60a4e', version: '1.0' };
const PROFILE_SPEC = {
  id: '8a9c3494-9708-43d7-ae3f-cda01e5030e1',
  version: '1.0',
};
const TARGETS = 20;
/** `BENCH_API_ONLY=<text>`: only the phases (list and concurrent) whose name contains it. */
const ONLY = process.env.BENCH_API_ONLY;
/** `BENCH_API_CLIENT=http`: the load generator uses node:http's client (default: prebuilt requests on sockets, see load-client.ts). */
const CLIENT = process.env.BENCH_API_CLIENT === 'http' ? 'http' : 'raw';
/** `BENCH_API_TRACE=1`: GC pauses, long event-loop turns and run-queue waits of the service, matched against slow requests. */
const TRACE = Boolean(process.env.BENCH_API_TRACE);
/** A request slower than this is "slow" for BENCH_API_TRACE. */
const SLOW_MS = TARGET_GET_P99_MS;
/** `BENCH_API_PHASES=lists,concurrent` (both by default). */
const PHASES = new Set(
  (process.env.BENCH_API_PHASES ?? 'lists,concurrent').split(','),
);

const secrets = {
  tokenSigningKey: 'bench-signing-key-0123456789abcdef0123456789',
  encryptionKey: Buffer.alloc(32, 7),
  encryptionKeyId: 'k1',
};

interface Phase {
  phase: string;
  requests: number;
  items: number;
  p50: number;
  p99: number;
  max: number;
  /** CPU per request, µs: the bench process (service and its client) and PostgreSQL. */
  nodeUs: number;
  postgresUs: number;
}

interface LoadPhase extends Omit<LoadResult, 'slow'> {
  phase: string;
  perSecond: number;
  /** CPU per request, µs: the service's process and PostgreSQL. */
  nodeUs: number;
  postgresUs: number;
  /** Load average (1 min) at the phase's end: how busy the box was. */
  loadAverage: number;
  pauses?: PauseReport;
}

/** Runs the load generator in its own process against `base`; measures the service's and PostgreSQL's CPU meanwhile. */
async function load(
  phase: string,
  spec: Omit<LoadSpec, 'concurrency' | 'warmupMs' | 'durationMs'>,
  postgresCpuMs: () => number,
): Promise<LoadPhase | undefined> {
  if (ONLY && !phase.includes(ONLY)) return undefined;
  const child = fork(new URL('./load-client.js', import.meta.url), {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const profiler = await startProfiler();
  const cpu0 = process.cpuUsage();
  const pg0 = postgresCpuMs();
  // Started with the load's warm-up; slow requests are only the measured ones.
  const trace = TRACE ? tracePauses() : undefined;
  const result = await new Promise<LoadResult>((resolve, reject) => {
    child.once('message', (m) => resolve(m as LoadResult));
    child.once('exit', (code) =>
      reject(new Error(`load client exited with ${code}`)),
    );
    child.send({
      ...spec,
      concurrency: CLIENTS,
      warmupMs: 2000,
      durationMs: LOAD_SECONDS * 1000,
      client: CLIENT,
      ...(TRACE ? { slowMs: SLOW_MS } : {}),
    } satisfies LoadSpec);
  });
  const pauses = trace?.stop(result.slow);
  const cpu = process.cpuUsage(cpu0);
  const pgMs = postgresCpuMs() - pg0;
  await profiler?.stop(
    `api-${phase.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}`,
  );
  const perRequest = (us: number): number =>
    Math.round(us / Math.max(1, result.total));
  const { slow: _slow, ...figures } = result;
  const out: LoadPhase = {
    phase,
    ...figures,
    loadAverage: Number(loadavg()[0]?.toFixed(1)),
    ...(pauses ? { pauses } : {}),
    perSecond: Math.round(result.requests / result.seconds),
    nodeUs: perRequest(cpu.user + cpu.system),
    postgresUs: perRequest(pgMs * 1000),
  };
  process.stdout.write(
    `  ${phase}: ${out.perSecond} req/s, p50 ${out.p50} ms, p99 ${out.p99} ms, CPU per request Node ${out.nodeUs} µs, PostgreSQL ${out.postgresUs} µs, load generator ${out.clientUs} µs (${out.clientCore} of a core), load average ${out.loadAverage}${
      result.errors || Object.keys(result.statuses).length
        ? ` (errors ${result.errors}, statuses ${JSON.stringify(result.statuses)})`
        : ''
    }\n${
      pauses
        ? `    GC ${pauses.gc.count} pauses (${pauses.gc.minor} minor, ${pauses.gc.major} major), ${pauses.gc.ms} ms in all, longest ${pauses.gc.maxMs} ms; event-loop delay p50 ${pauses.loopDelay.p50} / p99 ${pauses.loopDelay.p99} / max ${pauses.loopDelay.max} ms; turns ≥ 10 ms: ${pauses.stalls.count} (${pauses.stalls.ms} ms, longest ${pauses.stalls.maxMs})\n` +
          `    service thread ran ${pauses.runMsPerS} ms/s and waited for a core ${pauses.runQueueMsPerS} ms/s; load generator waited ${result.clientRunQueueMsPerS} ms/s\n` +
          `    requests > ${SLOW_MS} ms: ${pauses.slow.count}, mean ${pauses.slow.meanMs} ms, of which in GC ${pauses.slow.gcMs} ms and in turns ≥ 10 ms ${pauses.slow.stallMs} ms\n`
        : ''
    }`,
  );
  return out;
}

/**
 * API benchmark: one tenant with FLOWS flows (each mapping 2 of 100
 * segments, linked to real connections) and RUNS runs, inserted with SQL;
 * then filtered lists through HTTP, one request at a time, following
 * `_links.next` as a client does; then `GET /connections/{id}` and a
 * filtered list under CLIENTS concurrent keep-alive clients (a separate
 * process), rate limiting on with a limit above the load. Prints tables and
 * writes bench/results/api.json.
 */
export async function runApiBench(): Promise<void> {
  const db = await startScratchDatabase();
  await migrate(db.url);
  const env = loadEnv({
    DATABASE_URL: db.url,
    LOG_LEVEL: 'warn',
    RUNNER_ENABLED: 'false',
    EMULATOR_ENABLED: 'false',
    SEGMENT_WORKER_ENABLED: 'false',
    RATE_LIMIT_PER_MINUTE: RATE_LIMIT,
    EVENTHUBS_ALLOWED_ENDPOINTS: '127.0.0.1',
    // `BENCH_API_ENV=AUTH_CACHE_TTL_MS=0,RATE_LIMIT_LOCAL_PERCENT=0`: the service's settings, for A/B runs.
    ...Object.fromEntries(
      (process.env.BENCH_API_ENV ?? '')
        .split(',')
        .filter(Boolean)
        .map((kv) => kv.split('=') as [string, string]),
    ),
  });
  const app = await NestFactory.create(
    AppModule.forRoot({ env, databaseUrl: db.url, secrets }),
    { bodyParser: false, logger: ['error', 'warn'] },
  );
  try {
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
    };
    const ds = app.get(DataSource);
    const post = async (path: string, body: unknown): Promise<string> => {
      const res = await fetch(`${base}${FS}/${path}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status !== 201)
        throw new Error(`POST ${path} → ${res.status} ${text}`);
      return (JSON.parse(text) as { id: string }).id;
    };
    // Real connections, so a flow page loads what a real one does.
    const source = await post('sourceConnections', {
      name: 'Profile store',
      baseConnectionId: await post('connections', {
        name: 'Experience Platform',
        connectionSpec: PROFILE_SPEC,
      }),
      connectionSpec: PROFILE_SPEC,
    });
    const connectionIds: string[] = [];
    const targets: string[] = [];
    for (let i = 0; i < TARGETS; i++) {
      const baseId = await post('connections', {
        name: `Event Hubs namespace ${i}`,
        auth: {
          specName: 'Azure EventHub authentication credentials',
          params: {
            sasKeyName: 'RootManageSharedAccessKey',
            sasKey: 'c2VjcmV0LWtleS1mb3ItYmVuY2g=',
            namespace: `127.0.0.1:${10_000 + i}`,
          },
        },
        connectionSpec: EH_SPEC,
      });
      connectionIds.push(baseId);
      targets.push(
        await post('targetConnections', {
          name: `Event Hubs target ${i}`,
          baseConnectionId: baseId,
          connectionSpec: EH_SPEC,
          data: { format: 'json' },
          params: { eventHubName: `hub-${i}` },
        }),
      );
    }

    process.stdout.write(
      `inserting ${FLOWS} flows and ${RUNS} runs of one tenant...\n`,
    );
    const segments = (
      (await ds.query(
        `SELECT gen_random_uuid()::text AS id FROM generate_series(1, $1)`,
        [SEGMENTS],
      )) as { id: string }[]
    ).map((r) => r.id);
    await ds.query(
      `INSERT INTO flows (org_id, sandbox_name, sandbox_id, name, description, state, version,
         created_by, updated_by, created_client, updated_client, flow_spec_id, flow_spec_version,
         source_connection_ids, target_connection_ids, transformations, last_operation, created_at)
       SELECT $1, 'prod', gen_random_uuid(), 'flow ' || g, NULL,
              CASE WHEN g % 10 = 0 THEN 'disabled' ELSE 'enabled' END, gen_random_uuid(),
              'bench', 'bench', 'bench', 'bench', '71471eba-b620-49e4-90fd-23f1fa0174d8', '1.0',
              ARRAY[$5::uuid], ARRAY[($6::uuid[])[1 + g % $7]],
              jsonb_build_array(jsonb_build_object('name', 'GeneralTransform', 'params', jsonb_build_object(
                'profileSelectors', '{"selectors": []}'::jsonb,
                'segmentSelectors', jsonb_build_object('selectors', jsonb_build_array(
                  jsonb_build_object('type', 'PLATFORM_SEGMENT', 'value', jsonb_build_object('id', ($2::text[])[1 + g % $3])),
                  jsonb_build_object('type', 'PLATFORM_SEGMENT', 'value', jsonb_build_object('id', ($2::text[])[1 + (g * 7 + 3) % $3]))))))),
              '{"operation": "create"}'::jsonb,
              now() - (g || ' seconds')::interval
       FROM generate_series(1, $4) g`,
      [orgId, segments, SEGMENTS, FLOWS, source, targets, TARGETS],
    );
    // Runs: hourly per flow, round-robin over the flows; 1 % failed.
    await ds.query(
      `INSERT INTO runs (org_id, sandbox_name, sandbox_id, flow_id, flow_spec_id, hour_start, version, metrics, created_at)
       SELECT $1, 'prod', gen_random_uuid(), f.id, f.flow_spec_id,
              date_trunc('hour', now()) - ((g / $2) || ' hours')::interval, gen_random_uuid(),
              jsonb_build_object('statusSummary', jsonb_build_object('status', CASE WHEN g % 100 = 0 THEN 'failed' ELSE 'success' END),
                                 'recordSummary', jsonb_build_object('outputRecordCount', g % 1000)),
              now() - ((g / $2) || ' hours')::interval - (g % $2 || ' milliseconds')::interval
       FROM generate_series(0, $3 - 1) g
       JOIN (SELECT id, flow_spec_id, row_number() OVER (ORDER BY id) - 1 AS n FROM flows WHERE org_id = $1) f
         ON f.n = g % $2`,
      [orgId, FLOWS, RUNS],
    );
    await ds.query('VACUUM ANALYZE flows');
    await ds.query('VACUUM ANALYZE runs');
    const flowIds = (
      (await ds.query(`SELECT id FROM flows WHERE org_id = $1`, [orgId])) as {
        id: string;
      }[]
    ).map((r) => r.id);
    await printTopStatements(ds, 'setup');

    /** One request; `ms` ends when the body is received (the client's JSON.parse is not the service's time). */
    const get = async (
      path: string,
    ): Promise<{ body: Record<string, unknown>; ms: number }> => {
      const t0 = process.hrtime.bigint();
      const res = await fetch(`${base}${path}`, { headers });
      const text = await res.text();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (res.status !== 200)
        throw new Error(`GET ${path} → ${res.status} ${text}`);
      return { body: JSON.parse(text) as Record<string, unknown>, ms };
    };
    const pick = <T>(xs: T[], i: number): T => xs[(i * 7919) % xs.length] as T;

    /** `BENCH_API_EXPLAIN=1`: the plan of the last statement a request sent. */
    const explain = async (path: string): Promise<void> => {
      let last: { query: string; parameters?: unknown[] } | undefined;
      const logger = ds.logger;
      const original = logger.logQuery.bind(logger);
      logger.logQuery = (query, parameters, runner) => {
        if (/^\s*SELECT/i.test(query))
          last = { query, parameters: parameters as unknown[] | undefined };
        original(query, parameters, runner);
      };
      await get(path);
      logger.logQuery = original;
      if (!last) return;
      const plan = (await ds.query(
        `EXPLAIN (ANALYZE, BUFFERS) ${last.query}`,
        last.parameters,
      )) as { 'QUERY PLAN': string }[];
      process.stdout.write(
        `${path}\n${plan.map((r) => `    ${r['QUERY PLAN']}`).join('\n')}\n`,
      );
    };

    /** Runs `first(i)` and follows its next links until SAMPLES pages were read. */
    const phase = async (
      name: string,
      first: (i: number) => string,
    ): Promise<Phase | undefined> => {
      const ms: number[] = [];
      let items = 0;
      if (ONLY && !name.includes(ONLY)) return undefined;
      // Warm-up: plans and connections, not measured.
      await get(first(0));
      if (process.env.BENCH_API_EXPLAIN) await explain(first(0));
      const profiler = await startProfiler();
      const cpu0 = process.cpuUsage();
      const pg0 = db.cpuMs();
      for (let i = 1; ms.length < SAMPLES; i++) {
        let path: string | undefined = first(i);
        while (path && ms.length < SAMPLES) {
          const { body, ms: took } = await get(path);
          ms.push(took);
          items += Array.isArray(body.items) ? body.items.length : 1;
          path = (body._links as { next?: { href: string } } | undefined)?.next
            ?.href;
        }
      }
      const cpu = process.cpuUsage(cpu0);
      await profiler?.stop(
        `api-${name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}`,
      );
      const perPage = (us: number): number => Math.round(us / ms.length);
      const nodeUs = perPage(cpu.user + cpu.system);
      const postgresUs = perPage((db.cpuMs() - pg0) * 1000);
      ms.sort((a, b) => a - b);
      const q = (p: number): number =>
        Number(
          (ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? 0).toFixed(
            1,
          ),
        );
      process.stdout.write(
        `  ${name}: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, CPU per request: bench process (service and client) ${nodeUs} µs, PostgreSQL ${postgresUs} µs\n`,
      );
      return {
        phase: name,
        requests: ms.length,
        items,
        p50: q(0.5),
        p99: q(0.99),
        max: q(1),
        nodeUs,
        postgresUs,
      };
    };

    const segmentPath =
      'transformations[].params.segmentSelectors.selectors[].value.id';
    const listed: (Phase | undefined)[] = !PHASES.has('lists')
      ? []
      : [
          // What a request costs without the database, on this machine right now.
          await phase(
            'baseline: connectionSpecs (no database)',
            () => `${FS}/connectionSpecs`,
          ),
          await phase(
            'runs of one flow (property=flowId==…)',
            (i) => `${FS}/runs?property=flowId==${pick(flowIds, i)}`,
          ),
          await phase('all runs, pages of 100', () => `${FS}/runs?limit=100`),
          await phase(
            'failed runs (property=metrics.statusSummary.status==failed), pages of 100',
            () =>
              `${FS}/runs?property=metrics.statusSummary.status==failed&limit=100`,
          ),
          await phase(
            'runs by state and time (state==failed, createdAt>…), pages of 50',
            () =>
              `${FS}/runs?property=state==failed&property=createdAt>${Date.now() - 5 * 3_600_000}&limit=50`,
          ),
          await phase(
            'flows of a segment (transformations[]…value.id==…), pages of 100',
            (i) =>
              `${FS}/flows?property=${segmentPath}==${pick(segments, i)}&limit=100`,
          ),
          await phase(
            'enabled flows by name, pages of 100',
            () => `${FS}/flows?property=state==enabled&orderby=name&limit=100`,
          ),
          await phase(
            "count of one flow's runs",
            (i) => `${FS}/runs?count=true&property=flowId==${pick(flowIds, i)}`,
          ),
          await phase('count of all runs', () => `${FS}/runs?count=true`),
        ];
    const phases = listed.filter((p): p is Phase => p !== undefined);
    await printTopStatements(ds, 'lists');

    process.stdout.write(
      `${CLIENTS} concurrent keep-alive clients (${CLIENT === 'raw' ? 'prebuilt requests on sockets' : "node:http's client"}), ${LOAD_SECONDS} s each (after 2 s of warm-up), rate limit ${RATE_LIMIT}/min:\n`,
    );
    const loads = (
      !PHASES.has('concurrent')
        ? []
        : [
            await load(
              'GET /connections/{id}',
              {
                base,
                headers,
                paths: connectionIds.map((id) => `${FS}/connections/${id}`),
              },
              () => db.cpuMs(),
            ),
            await load(
              'runs of one flow (property=flowId==…)',
              {
                base,
                headers,
                paths: Array.from(
                  { length: 100 },
                  (_, i) => `${FS}/runs?property=flowId==${pick(flowIds, i)}`,
                ),
              },
              () => db.cpuMs(),
            ),
          ]
    ).filter((p): p is LoadPhase => p !== undefined);
    await printTopStatements(ds, 'concurrent');

    const width = Math.max(0, ...phases.map((p) => p.phase.length));
    process.stdout.write(
      `\n${'phase'.padEnd(width)}  requests    p50 ms    p99 ms    max ms  bench µs/req  PG µs/req\n${phases
        .map(
          (p) =>
            `${p.phase.padEnd(width)}  ${String(p.requests).padStart(8)}  ${String(p.p50).padStart(8)}  ${String(p.p99).padStart(8)}  ${String(p.max).padStart(8)}  ${String(p.nodeUs).padStart(12)}  ${String(p.postgresUs).padStart(9)}`,
        )
        .join('\n')}\ntarget: p99 ≤ ${TARGET_P99_MS} ms per page\n`,
    );
    const lw = Math.max(0, ...loads.map((p) => p.phase.length));
    process.stdout.write(
      `\n${'concurrent phase'.padEnd(lw)}     req/s    p50 ms    p99 ms  Node µs/req  PG µs/req\n${loads
        .map(
          (p) =>
            `${p.phase.padEnd(lw)}  ${String(p.perSecond).padStart(8)}  ${String(p.p50).padStart(8)}  ${String(p.p99).padStart(8)}  ${String(p.nodeUs).padStart(11)}  ${String(p.postgresUs).padStart(9)}`,
        )
        .join(
          '\n',
        )}\ntarget: GET by id ≥ ${TARGET_GET_RPS} req/s and p99 ≤ ${TARGET_GET_P99_MS} ms\n`,
    );
    const out = join(process.cwd(), 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, 'api.json'),
      `${JSON.stringify(
        {
          benchmark: 'api',
          date: new Date().toISOString(),
          node: process.version,
          flows: FLOWS,
          runs: RUNS,
          segments: SEGMENTS,
          targetP99Ms: TARGET_P99_MS,
          phases,
          clients: CLIENTS,
          client: CLIENT,
          rateLimitPerMinute: Number(RATE_LIMIT),
          targetGetPerSecond: TARGET_GET_RPS,
          targetGetP99Ms: TARGET_GET_P99_MS,
          concurrent: loads,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await app.close();
    await db.remove();
  }
}
