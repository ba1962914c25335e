import { Injectable, type OnModuleInit } from '@nestjs/common';
import {
  ConnectionEdits,
  type EditedConnectionKind,
} from '../connections/connection-edits.js';
import type { Queryable } from '../database/transaction.js';
import { EDITED_SQL } from './runner.repository.js';

/**
 * After a connection a flow publishes through is edited (typically a fixed
 * SAS key), its flows are retried at once and as healthy, instead of waiting
 * out their backoff behind flows that are still failing. The cursor counts
 * as edited, so the flow is claimed even when its only pending work is a
 * first backfill that never succeeded.
 */
export async function retryFlowsUsingConnection(
  q: Queryable,
  connectionId: string,
  kind: EditedConnectionKind,
): Promise<void> {
  if (kind === 'target') {
    await q.query(
      `UPDATE flow_cursors c SET failures = 0, next_attempt_at = now(), updated_at = ${EDITED_SQL}
       FROM flows f WHERE c.flow_id = f.id AND $1::uuid = ANY(f.target_connection_ids)`,
      [connectionId],
    );
    return;
  }
  await q.query(
    `UPDATE flow_cursors c SET failures = 0, next_attempt_at = now(), updated_at = ${EDITED_SQL}
     FROM flows f, target_connections t
     WHERE c.flow_id = f.id AND t.id = ANY(f.target_connection_ids) AND t.base_connection_id = $1::uuid`,
    [connectionId],
  );
}

/** Subscribes the runner to connection edits (see retryFlowsUsingConnection). */
@Injectable()
export class RetryOnConnectionEdit implements OnModuleInit {
  constructor(private readonly edits: ConnectionEdits) {}

  onModuleInit(): void {
    this.edits.listen(retryFlowsUsingConnection);
  }
}
