import { etagOf } from '../common/etag.js';
import type { RunEntity } from './run.entity.js';

interface RunMetrics {
  durationSummary?: { startedAtUTC?: number; completedAtUTC?: number };
  statusSummary?: { status?: string };
}

/**
 * A run is `processing` during its hour and `success` after it (Adobe's
 * streaming runs); a replay's or resync's run until its job ends. It is
 * `failed` as soon as its latest step failed, so a broken flow shows up
 * without waiting for the hour to end.
 */
function runStatusOf(run: RunEntity, now = Date.now()): string {
  const m = run.metrics as RunMetrics;
  if (m.statusSummary?.status === 'failed') return 'failed';
  const current = run.op
    ? run.endedAt === null
    : now < run.hourStart.getTime() + 3_600_000;
  return current ? 'processing' : 'success';
}

/** Whether the run is still going, in SQL (see runStatusOf). */
function currentSql(alias: string): string {
  return `(CASE WHEN ${alias}.op IS NULL THEN now() < ${alias}.hour_start + interval '1 hour' ELSE ${alias}.ended_at IS NULL END)`;
}

/** runStatusOf in SQL, for the run table aliased `alias` (list filters and sorting). */
export function runStatusSql(alias: string): string {
  return `CASE WHEN ${alias}.metrics #>> '{statusSummary,status}' = 'failed' THEN 'failed' WHEN ${currentSql(alias)} THEN 'processing' ELSE 'success' END`;
}

/**
 * `state == <value>` for each status, simpler than comparing runStatusSql:
 * `failed` matches the partial index `ix_runs_failed`.
 */
export function runStatusEqualsSql(alias: string): Record<string, string> {
  const failed = `(${alias}.metrics #>> '{statusSummary,status}') = 'failed'`;
  const current = currentSql(alias);
  return {
    failed,
    processing: `(NOT coalesce(${failed}, false) AND ${current})`,
    success: `(NOT coalesce(${failed}, false) AND NOT ${current})`,
  };
}

/** The epoch milliseconds of a run's hour as jsonb (a flow's lastRunDetails' default start). */
export function runHourStartMsSql(alias: string): string {
  return `to_jsonb(floor(extract(epoch from ${alias}.hour_start) * 1000)::bigint)`;
}

/** A flow's `lastRunDetails` (its latest run), in SQL over the run alias. */
export function runSummarySql(alias: string): string {
  return `jsonb_build_object('id', ${alias}.id, 'state', ${runStatusSql(alias)},
    'startedAtUTC', coalesce(${alias}.metrics #> '{durationSummary,startedAtUTC}', ${runHourStartMsSql(alias)}),
    'completedAtUTC', coalesce(${alias}.metrics #> '{durationSummary,completedAtUTC}', '0'::jsonb))`;
}

export function toRunDto(run: RunEntity): Record<string, unknown> {
  const m = run.metrics as RunMetrics & Record<string, unknown>;
  const status = runStatusOf(run);
  return {
    id: run.id,
    createdAt: run.createdAt.getTime(),
    updatedAt: run.updatedAt.getTime(),
    createdBy: 'flowservice-eventhubs',
    updatedBy: 'flowservice-eventhubs',
    createdClient: 'flowservice-eventhubs',
    updatedClient: 'flowservice-eventhubs',
    sandboxId: run.sandboxId,
    sandboxName: run.sandboxName,
    imsOrgId: run.orgId,
    flowId: run.flowId,
    flowSpec: { id: run.flowSpecId, version: '1.0' },
    providerRefId: run.flowId,
    state: status,
    etag: etagOf(run.version),
    metrics: {
      ...m,
      durationSummary: {
        startedAtUTC:
          m.durationSummary?.startedAtUTC ?? run.hourStart.getTime(),
        completedAtUTC: m.durationSummary?.completedAtUTC ?? 0,
      },
      statusSummary: { ...m.statusSummary, status },
    },
    activities: [],
    ...(run.op ? { op: run.op } : {}),
    _links: {
      records: { href: `/data/foundation/flowservice/runs/${run.id}/records` },
    },
  };
}
