import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, migrate } from '../src/data-source.js';
import {
  type RawRecord,
  parseNdjsonLine,
} from '../src/profiles/ingest-body.js';
import { ProfileIngestService } from '../src/profiles/profile-ingest.service.js';
import { isTimeRelative, parsePql } from '../src/segments/pql/index.js';
import { SegmentCatalog } from '../src/segments/segment-catalog.js';
import { formatPgCost, pgCost, pgSnapshot } from './pg-cost.js';
import { startProfiler, startScratchDatabase } from './support.js';
const PROFILES = Number(process.env.BENCH_INGEST_PROFILES ?? 100_000);
const BATCH = 1000;
const SINGLE_SAMPLES = 1000;
/** Batches in flight, so Postgres and Node work at the same time on 2 cores. */
const CONCURRENCY = 3;
const TENANT = {
  orgId: 'BENCH0000000000000000000@AdobeOrg',
  sandboxName: 'prod',
};

const COUNTRIES = ['US', 'CA', 'GB', 'DE', 'FR', 'JP', 'BR', 'IN'];
const TIERS = ['bronze', 'silver', 'gold', 'platinum'];
const SEGMENTS = [
  'person.age >= 18',
  'person.age < 25',
  'person.age >= 65',
  'homeAddress.countryCode = "US"',
  'homeAddress.countryCode in ["GB", "DE", "FR"]',
  'homeAddress.countryCode = "US" and person.age >= 21',
  'loyalty.tier = "gold"',
  'loyalty.tier in ["gold", "platinum"]',
  'loyalty.points > 5000',
  'loyalty.points > 1000 and loyalty.tier = "silver"',
  'personalEmail.address.endsWith(".com")',
  'personalEmail.address.contains("7")',
  'person.name.lastName.startsWith("S")',
  'person.name.firstName like "A%"',
  'person.gender = "female" and person.age >= 30 and person.age <= 40',
  'mobilePhone.number.isNotNull()',
  'interests.includes("sports")',
  'interests.intersects(["music", "travel"])',
  'not (homeAddress.countryCode = "US") and loyalty.points >= 2500',
  'homeAddress.city = "Springfield" or homeAddress.city = "Shelbyville"',
];
const FIRST = ['Ann', 'Bob', 'Alice', 'Dan', 'Eve', 'Arthur', 'Grace', 'Hal'];
const LAST = ['Smith', 'Jones', 'Stone', 'Brown', 'Silva', 'Lee'];
const INTERESTS = ['sports', 'music', 'travel', 'cooking', 'gaming'];
const CITIES = ['Springfield', 'Shelbyville', 'Ogdenville', 'Capital City'];

function profile(i: number, version = 0): Record<string, unknown> {
  const r = (n: number): number =>
    (i * 2654435761 + n * 40503 + version) % 1000003;
  return {
    identityMap: {
      email: [
        { id: `user${i}@example.${i % 3 ? 'com' : 'org'}`, primary: true },
      ],
      ecid: [{ id: `ecid-${i}` }],
    },
    person: {
      name: {
        firstName: FIRST[r(1) % FIRST.length],
        lastName: LAST[r(2) % LAST.length],
      },
      age: 14 + (r(3) % 70),
      gender: r(4) % 2 ? 'female' : 'male',
    },
    homeAddress: {
      countryCode: COUNTRIES[r(5) % COUNTRIES.length],
      city: CITIES[r(6) % CITIES.length],
    },
    personalEmail: { address: `user${i}@example.${i % 3 ? 'com' : 'org'}` },
    loyalty: { tier: TIERS[r(7) % TIERS.length], points: r(8) % 10000 },
    interests: [INTERESTS[r(9) % 5], INTERESTS[r(10) % 5]],
    ...(r(11) % 3
      ? { mobilePhone: { number: `+1555${String(i).padStart(7, '0')}` } }
      : {}),
  };
}

interface PhaseResult {
  profiles: number;
  accepted: number;
  seconds: number;
  profilesPerSecond: number;
  cpuMsPer1000: { node: number; postgres: number };
  postgresPerProfile: { walBytes: number; statements?: number };
}

function percentile(sorted: number[], p: number): number {
  return (
    sorted[
      Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))
    ] ?? 0
  );
}

/**
 * Ingestion benchmark: 100,000 generated profiles (NDJSON lines, parsed like
 * the bulk endpoint) against 20 segments through the ingestion service in
 * batches of 1,000, then the same profiles again with their attributes
 * changed (updates), then single-record latency. BENCH_INGEST_PROFILES and
 * BENCH_INGEST_UPDATES size the two phases. Starts its own embedded
 * PostgreSQL. Prints a table and writes bench/results/ingest.json.
 */
export async function runIngestBench(
  opts: { profiles?: number; concurrency?: number } = {},
): Promise<void> {
  const total = opts.profiles ?? PROFILES;
  const updates = Math.min(
    total,
    Number(process.env.BENCH_INGEST_UPDATES ?? total),
  );
  const concurrency = opts.concurrency ?? CONCURRENCY;
  const db = await startScratchDatabase();
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  const ds = new DataSource(buildDataSourceOptions(db.url, 4));
  try {
    await migrate(db.url);
    await ds.initialize();
    for (const [n, text] of SEGMENTS.entries()) {
      await ds.query(
        `INSERT INTO segment_definitions (org_id, sandbox_name, sandbox_id, name, expression, schema_name,
           profile_instance_id, time_relative, created_by, updated_by)
         VALUES ($1, $2, gen_random_uuid(), $3, $4::jsonb, '_xdm.context.profile', 'ups', $5, 'bench', 'bench')`,
        [
          TENANT.orgId,
          TENANT.sandboxName,
          `segment ${n}`,
          JSON.stringify({ type: 'PQL', format: 'pql/text', value: text }),
          isTimeRelative(parsePql(text)),
        ],
      );
    }
    const ingest = new ProfileIngestService(ds, new SegmentCatalog());

    /**
     * One measured phase: `count` profiles (from 0) as NDJSON lines of
     * version `version`, `concurrency` batches in flight. The body exists
     * before the clock starts (producing it is the client's work; reading
     * and parsing its lines is the service's), as one Buffer, not 100,000
     * strings the garbage collector would keep marking.
     */
    const phase = async (
      name: string,
      count: number,
      version: number,
    ): Promise<PhaseResult> => {
      process.stdout.write(
        `${name}: ${count} profiles against ${SEGMENTS.length} segments, ${concurrency} batches in flight...\n`,
      );
      const ends = new Int32Array(count + 1);
      const parts: Buffer[] = [];
      for (let i = 0; i < count; i++) {
        const line = Buffer.from(JSON.stringify(profile(i, version)));
        parts.push(line);
        ends[i + 1] = (ends[i] as number) + line.length;
      }
      const body = Buffer.concat(parts);
      parts.length = 0;
      const [{ changesBefore }] = (await ds.query(
        'SELECT count(*)::int AS "changesBefore" FROM profile_changes',
      )) as [{ changesBefore: number }];
      const pgBefore = await pgSnapshot(ds);
      const profiler = await startProfiler();
      const started = process.hrtime.bigint();
      const nodeCpuBefore = process.cpuUsage();
      const pgCpuBefore = db.cpuMs();
      let accepted = 0;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < count) {
          const from = next;
          next += BATCH;
          const records: RawRecord[] = [];
          for (let i = from; i < Math.min(count, from + BATCH); i++) {
            const line = body.toString('utf8', ends[i], ends[i + 1]);
            records.push(parseNdjsonLine(line, i - from, i + 1));
          }
          const res = await ingest.ingestRecords(TENANT, records, {
            batchSize: BATCH,
          });
          accepted += res.accepted;
          if ((from / BATCH) % 10 === 9)
            process.stdout.write(`  ${from + BATCH} profiles\r`);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const nodeCpu = process.cpuUsage(nodeCpuBefore);
      const pgCpuMs = db.cpuMs() - pgCpuBefore;
      await profiler?.stop(`ingest-${name}`);
      const [{ changesAfter }] = (await ds.query(
        'SELECT count(*)::int AS "changesAfter" FROM profile_changes',
      )) as [{ changesAfter: number }];
      const cost = await pgCost(ds, pgBefore, changesAfter - changesBefore);
      process.stdout.write(formatPgCost(cost, count, name));
      return {
        profiles: count,
        accepted,
        seconds: Number(seconds.toFixed(2)),
        profilesPerSecond: Math.round(accepted / seconds),
        // CPU per 1,000 profiles: steadier than profiles/s on a shared VM.
        cpuMsPer1000: {
          node: Math.round((nodeCpu.user + nodeCpu.system) / count),
          postgres: Math.round((pgCpuMs / count) * 1000),
        },
        postgresPerProfile: {
          walBytes: Math.round(cost.walBytes / count),
          ...(cost.statements
            ? {
                statements: Number(
                  (
                    cost.statements.reduce((s, x) => s + x.calls, 0) / count
                  ).toFixed(3),
                ),
              }
            : {}),
        },
      };
    };

    const created = await phase('create', total, 0);
    // Updates of existing profiles: every attribute value may change (the
    // merge, the diff, membership transitions), the identities stay.
    const updated = await phase('update', updates, 1);

    const latencies: number[] = [];
    for (let n = 0; n < SINGLE_SAMPLES; n++) {
      // Alternate between a new profile and an update of an existing one.
      const i = n % 2 ? total + n : (n * 37) % total;
      const t0 = process.hrtime.bigint();
      await ingest.ingestRecords(TENANT, [{ index: 0, value: profile(i, 2) }]);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    latencies.sort((a, b) => a - b);
    const [{ changes, memberships }] = (await ds.query(
      `SELECT (SELECT count(*)::int FROM profile_changes) AS changes,
              (SELECT sum((SELECT count(*) FROM jsonb_object_keys(memberships)))::int FROM profiles) AS memberships`,
    )) as [{ changes: number; memberships: number }];

    const result = {
      benchmark: 'ingest',
      date: new Date().toISOString(),
      node: process.version,
      concurrency,
      segments: SEGMENTS.length,
      batchSize: BATCH,
      create: created,
      update: updated,
      singleRecordLatencyMs: {
        samples: SINGLE_SAMPLES,
        p50: Number(percentile(latencies, 50).toFixed(2)),
        p99: Number(percentile(latencies, 99).toFixed(2)),
      },
      peakRssMb: Math.round(peakRss / 1024 / 1024),
      changeRows: changes,
      membershipRows: memberships,
    };
    const side = (f: (p: PhaseResult) => string): string =>
      `${f(created).padEnd(24)}${f(updated)}`;
    const rows: [string, string][] = [
      ['', side((p) => (p === created ? 'new profiles' : 'updates'))],
      ['profiles', side((p) => String(p.accepted))],
      ['throughput', side((p) => `${p.profilesPerSecond}/s (${p.seconds} s)`)],
      ['CPU per 1,000: Node', side((p) => `${p.cpuMsPer1000.node} ms`)],
      [
        'CPU per 1,000: PostgreSQL',
        side((p) => `${p.cpuMsPer1000.postgres} ms`),
      ],
      [
        'WAL per profile',
        side((p) => `${p.postgresPerProfile.walBytes} bytes`),
      ],
      ['segments', String(SEGMENTS.length)],
      ['single record p50', `${result.singleRecordLatencyMs.p50} ms`],
      ['single record p99', `${result.singleRecordLatencyMs.p99} ms`],
      ['peak RSS (node)', `${result.peakRssMb} MB`],
      ['change rows / memberships', `${changes} / ${memberships}`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(
      `\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`,
    );
    const out = join(process.cwd(), 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, 'ingest.json'),
      `${JSON.stringify(result, null, 2)}\n`,
    );
  } finally {
    clearInterval(sampler);
    if (ds.isInitialized) await ds.destroy();
    await db.remove();
  }
}
