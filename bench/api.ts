import { NestFactory } from '@nestjs/core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module.js';
import { configureApp } from '../src/app.setup.js';
import { loadEnv } from '../src/config/env.js';
import { migrate } from '../src/data-source.js';
import { TenancyService } from '../src/tenancy/tenancy.service.js';
import { printTopStatements, startScratchDatabase } from './support.js';

const num = (name: string, def: number): number =>
  Number(process.env[name] ?? def);
const FLOWS = num('BENCH_API_FLOWS', 10_000);
const RUNS = num('BENCH_API_RUNS', 100_000);
const SEGMENTS = 100;
/** Requests per phase (pages followed through `_links.next` count one each). */
const SAMPLES = num('BENCH_API_SAMPLES', 200);
const FS = '/data/foundation/flowservice';
const TARGET_P99_MS = 50;

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
}

/**
 * List benchmark: one tenant with FLOWS flows (each mapping 2 of 100
 * segments) and RUNS runs, inserted with SQL, then filtered lists through
 * HTTP, following `_links.next` as a client does. Prints a table and writes
 * bench/results/api.json.
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
    RATE_LIMIT_PER_MINUTE: '0',
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
              ARRAY[gen_random_uuid()], ARRAY[gen_random_uuid()],
              jsonb_build_array(jsonb_build_object('name', 'GeneralTransform', 'params', jsonb_build_object(
                'profileSelectors', '{"selectors": []}'::jsonb,
                'segmentSelectors', jsonb_build_object('selectors', jsonb_build_array(
                  jsonb_build_object('type', 'PLATFORM_SEGMENT', 'value', jsonb_build_object('id', ($2::text[])[1 + g % $3])),
                  jsonb_build_object('type', 'PLATFORM_SEGMENT', 'value', jsonb_build_object('id', ($2::text[])[1 + (g * 7 + 3) % $3]))))))),
              '{"operation": "create"}'::jsonb,
              now() - (g || ' seconds')::interval
       FROM generate_series(1, $4) g`,
      [orgId, segments, SEGMENTS, FLOWS],
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

    const get = async (path: string): Promise<Record<string, unknown>> => {
      const res = await fetch(`${base}${path}`, { headers });
      const text = await res.text();
      if (res.status !== 200)
        throw new Error(`GET ${path} → ${res.status} ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const pick = <T>(xs: T[], i: number): T => xs[(i * 7919) % xs.length] as T;

    /** Runs `first(i)` and follows its next links until SAMPLES pages were read. */
    const phase = async (
      name: string,
      first: (i: number) => string,
    ): Promise<Phase> => {
      const ms: number[] = [];
      let items = 0;
      // Warm-up: plans and connections, not measured.
      await get(first(0));
      for (let i = 1; ms.length < SAMPLES; i++) {
        let path: string | undefined = first(i);
        while (path && ms.length < SAMPLES) {
          const t0 = process.hrtime.bigint();
          const body = await get(path);
          ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
          items += Array.isArray(body.items) ? body.items.length : 1;
          path = (body._links as { next?: { href: string } } | undefined)?.next
            ?.href;
        }
      }
      ms.sort((a, b) => a - b);
      const q = (p: number): number =>
        Number(
          (ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? 0).toFixed(
            1,
          ),
        );
      process.stdout.write(`  ${name}: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms\n`);
      return {
        phase: name,
        requests: ms.length,
        items,
        p50: q(0.5),
        p99: q(0.99),
        max: q(1),
      };
    };

    const segmentPath =
      'transformations[].params.segmentSelectors.selectors[].value.id';
    const phases = [
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
    await printTopStatements(ds, 'lists');

    const width = Math.max(...phases.map((p) => p.phase.length));
    process.stdout.write(
      `\n${'phase'.padEnd(width)}  requests    p50 ms    p99 ms    max ms\n${phases
        .map(
          (p) =>
            `${p.phase.padEnd(width)}  ${String(p.requests).padStart(8)}  ${String(p.p50).padStart(8)}  ${String(p.p99).padStart(8)}  ${String(p.max).padStart(8)}`,
        )
        .join('\n')}\ntarget: p99 ≤ ${TARGET_P99_MS} ms per page\n`,
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
