/**
 * What a benchmark phase cost PostgreSQL, read from its own statistics:
 * WAL bytes (pg_current_wal_lsn, always), and with BENCH_PG_STATEMENTS=1
 * statements, rows returned or written and WAL records per statement
 * (pg_stat_statements, counted when each statement ends) and tuples written
 * per table (pg_stat_user_tables, which backends publish with a delay).
 */

interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

const STATEMENTS = process.env.BENCH_PG_STATEMENTS === '1';

export interface PgSnapshot {
  lsn: string;
  /** pg_stat_wal's cumulative full-page images. */
  fpi: number;
  tables: Map<string, TableCounts>;
}

interface TableCounts {
  ins: number;
  upd: number;
  hot: number;
  del: number;
}

export interface StatementCost {
  calls: number;
  rows: number;
  walBytes: number;
  fpi: number;
  ms: number;
  query: string;
}

export interface PgCost {
  walBytes: number;
  /**
   * Full-page images written (pg_stat_wal): the first change of a page after
   * a checkpoint logs the whole page, so a phase that spans a checkpoint
   * writes more WAL per item than one that does not.
   */
  fpi: number;
  statements?: StatementCost[];
  /** Tuples inserted / updated (hot of them in place) / deleted, per table. */
  tables?: Record<string, TableCounts>;
}

async function tableCounts(ds: Queryable): Promise<Map<string, TableCounts>> {
  const rows = (await ds.query(
    `SELECT relname, n_tup_ins::float8 AS ins, n_tup_upd::float8 AS upd,
            n_tup_hot_upd::float8 AS hot, n_tup_del::float8 AS del
       FROM pg_stat_user_tables`,
  )) as ({ relname: string } & TableCounts)[];
  return new Map(rows.map((r) => [r.relname, r]));
}

/** Call before the phase. Resets pg_stat_statements when it is loaded. */
export async function pgSnapshot(ds: Queryable): Promise<PgSnapshot> {
  if (STATEMENTS) {
    await ds.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await ds.query('SELECT pg_stat_statements_reset()');
  }
  const [{ lsn, fpi }] = (await ds.query(
    'SELECT pg_current_wal_lsn()::text AS lsn, (SELECT wal_fpi::float8 FROM pg_stat_wal) AS fpi',
  )) as [{ lsn: string; fpi: number }];
  return { lsn, fpi, tables: STATEMENTS ? await tableCounts(ds) : new Map() };
}

/**
 * Call after the phase. `expectChanges`: the change rows the phase appended,
 * to wait for the other backends' table statistics to arrive.
 */
export async function pgCost(
  ds: Queryable,
  before: PgSnapshot,
  expectChanges?: number,
): Promise<PgCost> {
  const [{ bytes, fpi }] = (await ds.query(
    `SELECT (pg_current_wal_lsn() - $1::pg_lsn)::float8 AS bytes,
            (SELECT wal_fpi::float8 FROM pg_stat_wal) - $2 AS fpi`,
    [before.lsn, before.fpi],
  )) as [{ bytes: number; fpi: number }];
  if (!STATEMENTS) return { walBytes: bytes, fpi };
  const statements = (
    (await ds.query(
      `SELECT calls::float8 AS calls, rows::float8 AS rows, wal_bytes::float8 AS "walBytes",
              wal_fpi::float8 AS fpi, total_exec_time AS ms,
              left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query
         FROM pg_stat_statements
        WHERE query NOT LIKE '%pg_stat%' AND query NOT LIKE '%pg_current_wal_lsn%'
        ORDER BY total_exec_time DESC`,
    )) as StatementCost[]
  ).filter((s) => s.calls > 0);
  // Backends publish table statistics when idle, at most every ~10 s.
  let after = await tableCounts(ds);
  for (let waited = 0; waited < 15_000; waited += 500) {
    const changes = after.get('profile_changes');
    const base = before.tables.get('profile_changes');
    if (
      expectChanges === undefined ||
      (changes?.ins ?? 0) - (base?.ins ?? 0) >= expectChanges
    )
      break;
    await new Promise((r) => setTimeout(r, 500));
    after = await tableCounts(ds);
  }
  const tables: Record<string, TableCounts> = {};
  for (const [name, a] of after) {
    const b = before.tables.get(name) ?? { ins: 0, upd: 0, hot: 0, del: 0 };
    const d = {
      ins: a.ins - b.ins,
      upd: a.upd - b.upd,
      hot: a.hot - b.hot,
      del: a.del - b.del,
    };
    if (d.ins || d.upd || d.del) tables[name] = d;
  }
  return { walBytes: bytes, fpi, statements, tables };
}

/** The cost per item, as lines for a benchmark's output. */
export function formatPgCost(
  cost: PgCost,
  items: number,
  label: string,
): string {
  const per = (n: number): string => (n / items).toFixed(2);
  const lines = [
    `${label}: PostgreSQL cost per item (${items} items): WAL ${Math.round(cost.walBytes / items)} bytes (${per(cost.fpi)} full-page images)`,
  ];
  if (cost.statements) {
    const calls = cost.statements.reduce((s, x) => s + x.calls, 0);
    lines.push(
      `  ${((calls / items) * 1000).toFixed(1)} statements per 1,000 items; by time (per 1,000 items: calls, rows; per item: WAL bytes, full-page images)`,
    );
    for (const s of cost.statements.slice(0, 8))
      lines.push(
        `  ${String(Math.round(s.ms)).padStart(7)} ms ${((s.calls / items) * 1000).toFixed(1).padStart(6)} calls ${((s.rows / items) * 1000).toFixed(0).padStart(6)} rows ${String(Math.round(s.walBytes / items)).padStart(6)} B ${per(s.fpi).padStart(5)} FPI  ${s.query}`,
      );
  }
  if (cost.tables)
    for (const [t, d] of Object.entries(cost.tables))
      lines.push(
        `  ${t}: ${per(d.ins)} inserted, ${per(d.upd)} updated (${per(d.hot)} HOT), ${per(d.del)} deleted`,
      );
  return `${lines.join('\n')}\n`;
}
