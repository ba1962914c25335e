import type { DataSource } from 'typeorm';
import { firstChangeTimesAfter } from '../profile-store/change-log.js';

/** How far behind one flow's exports are. */
export interface FlowLag {
  flowId: string;
  /** Age of the oldest committed change the flow has not exported yet; 0 when caught up. */
  lagSeconds: number;
  /** Unix time (seconds) of the flow's last successful export step, or null. */
  lastSuccess: number | null;
}

/**
 * Each flow's lag: the age of the first change after its slowest lane's
 * cursor in change-log order (an index probe on ix_profile_changes_read per lane; up
 * to concurrent transactions, the oldest unexported change). The Prometheus
 * gauges (every enabled flow) and the flow metrics endpoint (one tenant's
 * flows) both read it here, so they always agree. A flow the runner has not
 * started yet has no cursor and is absent from the result.
 */
export async function flowLags(
  dataSource: DataSource,
  scope: { enabledOnly: true } | { flowIds: string[] },
): Promise<FlowLag[]> {
  const byIds = 'flowIds' in scope;
  if (byIds && scope.flowIds.length === 0) return [];
  const cursors = (await dataSource.query(
    `SELECT c.flow_id::text AS flow_id, c.lane, c.lanes, c.org_id, c.sandbox_name,
            c.last_tx_id, c.last_change_id::text AS last_change_id,
            extract(epoch FROM c.last_success_at) AS last_success,
            extract(epoch FROM now()) AS now
       FROM flow_cursors c
       JOIN flows f ON f.id = c.flow_id
      WHERE c.deleted_at IS NULL AND ${byIds ? 'c.flow_id = ANY($1::uuid[])' : `f.state = 'enabled'`}`,
    byIds ? [scope.flowIds] : [],
  )) as {
    flow_id: string;
    lane: number;
    lanes: number;
    org_id: string;
    sandbox_name: string;
    last_tx_id: string;
    last_change_id: string;
    last_success: number | string | null;
    now: number | string;
  }[];
  const firstPending = await firstChangeTimesAfter(
    dataSource,
    cursors.map((c) => ({
      key: `${c.flow_id}/${c.lane}`,
      orgId: c.org_id,
      sandboxName: c.sandbox_name,
      position: { txId: c.last_tx_id, id: c.last_change_id },
      lane: { lane: c.lane, lanes: c.lanes },
    })),
  );
  // A flow is as far behind as its slowest lane; its last success is its lanes' latest.
  const byFlow = new Map<string, FlowLag>();
  for (const c of cursors) {
    const pending = firstPending.get(`${c.flow_id}/${c.lane}`);
    const lag = pending
      ? Math.max(0, Number(c.now) - pending.getTime() / 1000)
      : 0;
    const success = c.last_success === null ? null : Number(c.last_success);
    const row = byFlow.get(c.flow_id);
    if (!row) {
      byFlow.set(c.flow_id, {
        flowId: c.flow_id,
        lagSeconds: lag,
        lastSuccess: success,
      });
      continue;
    }
    row.lagSeconds = Math.max(row.lagSeconds, lag);
    if (
      success !== null &&
      (row.lastSuccess === null || success > row.lastSuccess)
    )
      row.lastSuccess = success;
  }
  return [...byFlow.values()];
}
