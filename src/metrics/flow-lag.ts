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
 * Each flow's lag: the age of the first change after its cursor in
 * change-log order (an index probe on ix_profile_changes_read per flow; up
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
    `SELECT c.flow_id::text AS flow_id, c.org_id, c.sandbox_name,
            c.last_tx_id, c.last_change_id::text AS last_change_id,
            extract(epoch FROM c.last_success_at) AS last_success,
            extract(epoch FROM now()) AS now
       FROM flow_cursors c
       JOIN flows f ON f.id = c.flow_id
      WHERE ${byIds ? 'c.flow_id = ANY($1::uuid[])' : `f.state = 'enabled'`}`,
    byIds ? [scope.flowIds] : [],
  )) as {
    flow_id: string;
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
      key: c.flow_id,
      orgId: c.org_id,
      sandboxName: c.sandbox_name,
      position: { txId: c.last_tx_id, id: c.last_change_id },
    })),
  );
  return cursors.map((c) => {
    const pending = firstPending.get(c.flow_id);
    return {
      flowId: c.flow_id,
      lastSuccess: c.last_success === null ? null : Number(c.last_success),
      lagSeconds: pending
        ? Math.max(0, Number(c.now) - pending.getTime() / 1000)
        : 0,
    };
  });
}
