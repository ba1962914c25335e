import {
  chmodSync,
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/data-source.js';
import { EmbeddedDatabase } from '../src/database/embedded-postgres.js';
import { ClientEntity } from '../src/tenancy/client.entity.js';
import { SandboxEntity } from '../src/tenancy/sandbox.entity.js';
import { TenancyService } from '../src/tenancy/tenancy.service.js';

/** A port free on loopback right now (for the embedded Postgres and the emulator). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr
          ? resolve(addr.port)
          : reject(new Error('no port')),
      );
    });
  });
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** utime + stime of a process from /proc, in ms (0 when it is gone). */
export function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/**
 * The postmaster, its live backends, and the backends that already exited
 * (their time is in the postmaster's cutime/cstime once it reaped them).
 */
export function postgresCpuMs(postmaster: number): number {
  let total = 0;
  try {
    const stat = readFileSync(`/proc/${postmaster}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total +=
      (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS;
  } catch {
    return 0;
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === postmaster)
        total += (Number(fields[11]) + Number(fields[12])) * TICK_MS;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

export interface ScratchDatabase {
  url: string;
  /** The server's data directory (holds postmaster.pid). */
  dataDir: string;
  /** CPU time (ms) the server has used so far, its backends included. */
  cpuMs(): number;
  /** Stops the server and deletes its data. */
  remove(): Promise<void>;
}

/**
 * BENCH_PG_STATEMENTS=1: the scratch server loads pg_stat_statements, and
 * benchmarks print where PostgreSQL's time went (`printTopStatements`).
 */
const STATEMENTS = process.env.BENCH_PG_STATEMENTS === '1';

/** A throwaway embedded PostgreSQL for one benchmark run. */
export async function startScratchDatabase(): Promise<ScratchDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fse-bench-'));
  // Postgres runs as its own user when we are root: it must reach the folder.
  chmodSync(dataDir, 0o755);
  const db = new EmbeddedDatabase({
    dataDir,
    port: await freePort(),
    persistent: false,
    postgresFlags: [
      ...(STATEMENTS
        ? ['-c', 'shared_preload_libraries=pg_stat_statements']
        : []),
      ...(process.env.XPGFLAGS ? process.env.XPGFLAGS.split(' ') : []),
    ],
    // BENCH_PG_LOG=<file>: the server's log (e.g. auto_explain's plans,
    // loaded through XPGFLAGS) is appended there.
    ...(process.env.BENCH_PG_LOG && {
      onLog: (line: string) =>
        appendFileSync(process.env.BENCH_PG_LOG as string, `${line}\n`),
    }),
  });
  const url = await db.start();
  return {
    url,
    dataDir,
    cpuMs: () =>
      postgresCpuMs(
        Number(
          readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0],
        ),
      ),
    remove: async () => {
      await db.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** With BENCH_PG_STATEMENTS=1: the statements that took the most time, and the WAL written. */
export async function printTopStatements(
  ds: { query(sql: string): Promise<unknown> },
  heading: string,
): Promise<void> {
  if (!STATEMENTS) return;
  await ds.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const rows = (await ds.query(
    `SELECT calls, round(total_exec_time)::int AS ms, rows, wal_bytes::bigint AS wal,
            left(regexp_replace(query, '\\s+', ' ', 'g'), 80) AS query
       FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 8`,
  )) as Record<string, unknown>[];
  const [wal] = (await ds.query(
    `SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal`,
  )) as Record<string, unknown>[];
  process.stdout.write(`\n${heading}: PostgreSQL time by statement\n`);
  for (const r of rows) {
    process.stdout.write(
      `${String(r.ms).padStart(8)} ms ${String(r.calls).padStart(6)} calls ${String(r.rows).padStart(9)} rows ${String(r.wal).padStart(10)} WAL B  ${String(r.query)}\n`,
    );
  }
  // Cumulative since the server started: a phase's WAL is the difference
  // from the previous print.
  process.stdout.write(`WAL: ${JSON.stringify(wal)}\n`);
  await ds.query('SELECT pg_stat_statements_reset()');
}

/** `BENCH_CPU_PROFILE=<dir>` writes a V8 CPU profile of each measured phase there. */
export async function startProfiler(): Promise<{
  stop(name: string): Promise<void>;
} | null> {
  const dir = process.env.BENCH_CPU_PROFILE;
  if (!dir) return null;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    stop: async (name) => {
      const { profile } = await session.post('Profiler.stop');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** Platform headers of a new client of `orgId`, with a token from the service on `port`. */
export async function platformHeaders(
  databaseUrl: string,
  port: number,
  orgId: string,
): Promise<Record<string, string>> {
  const ds = new DataSource(buildDataSourceOptions(databaseUrl, 1));
  await ds.initialize();
  try {
    const client = await new TenancyService(
      ds.getRepository(ClientEntity),
      ds.getRepository(SandboxEntity),
    ).createClient({ orgId });
    const res = await fetch(`http://127.0.0.1:${port}/ims/token/v3`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: client.clientId,
        client_secret: client.clientSecret,
      }),
    });
    const { access_token: token } = (await res.json()) as {
      access_token: string;
    };
    return {
      authorization: `Bearer ${token}`,
      'x-api-key': client.clientId,
      'x-gw-ims-org-id': orgId,
      'x-sandbox-name': 'prod',
    };
  } finally {
    await ds.destroy();
  }
}
