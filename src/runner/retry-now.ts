import type { Queryable } from '../profiles/change-log.js';

/**
 * After a connection a flow publishes through is edited (typically a fixed
 * SAS key), its flows are retried at once and as healthy, instead of waiting
 * out their backoff behind flows that are still failing. `updated_at` goes
 * back to the epoch so the flow counts as edited and is claimed even when its
 * only pending work is a first backfill that never succeeded.
 */
export async function retryFlowsUsingConnection(
  q: Queryable,
  connectionId: string,
  kind: 'base' | 'target',
): Promise<void> {
  if (kind === 'target') {
    await q.query(
      `UPDATE flow_cursors c SET failures = 0, next_attempt_at = now(), updated_at = to_timestamp(0)
       FROM flows f WHERE c.flow_id = f.id AND $1::uuid = ANY(f.target_connection_ids)`,
      [connectionId],
    );
    return;
  }
  await q.query(
    `UPDATE flow_cursors c SET failures = 0, next_attempt_at = now(), updated_at = to_timestamp(0)
     FROM flows f, target_connections t
     WHERE c.flow_id = f.id AND t.id = ANY(f.target_connection_ids) AND t.base_connection_id = $1::uuid`,
    [connectionId],
  );
}
