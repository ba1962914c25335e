import { type Lane, WHOLE, inLaneSql } from '../profile-store/lanes.js';
import type { Queryable } from '../database/transaction.js';
import {
  type ConsentChange,
  type RecordInput,
  statusOfReason,
} from './record-reasons.js';

/** Where a step's records belong. */
export interface RecordOwner {
  orgId: string;
  sandboxName: string;
  flowId: string;
  runId: string;
}

/**
 * Stores a step's undelivered records in one statement; called inside the
 * transaction that commits the step, so they are kept exactly when the step
 * counts them.
 */
export async function insertRecords(
  q: Queryable,
  owner: RecordOwner,
  records: RecordInput[],
): Promise<void> {
  if (records.length === 0) return;
  await q.query(
    `INSERT INTO delivery_records (org_id, sandbox_name, flow_id, run_id, target_connection_id,
                                   profile_id, identity_map, trigger, status, reason_code, message)
     SELECT $1, $2, $3, $4, r.target_connection_id, r.profile_id, r.identity_map, r.trigger,
            r.status, r.reason_code, r.message
       FROM jsonb_to_recordset($5::jsonb) AS r(target_connection_id uuid, profile_id uuid,
            identity_map jsonb, trigger text, status text, reason_code text, message text)`,
    [
      owner.orgId,
      owner.sandboxName,
      owner.flowId,
      owner.runId,
      JSON.stringify(
        records.map((r) => ({
          target_connection_id: r.targetConnectionId,
          profile_id: r.profileId,
          identity_map: r.identityMap,
          trigger: r.trigger,
          status: statusOfReason(r.reasonCode),
          reason_code: r.reasonCode,
          message: r.message.slice(0, 2000),
        })),
      ),
    ],
  );
}

/** A stored record a replay sends again. */
export interface ReplayableRecord {
  id: string;
  profileId: string;
  targetConnectionId: string | null;
}

/**
 * The next page of a flow's records not replayed yet (of one run, or of
 * all), stored before the replay job `jobId` started: records the replay
 * itself writes are the next replay's. (The job's time is compared in SQL,
 * at the database's microsecond precision.)
 */
export async function replayableRecords(
  q: Queryable,
  flowId: string,
  runId: string | null,
  jobId: string,
  afterId: string | null,
  limit: number,
  lane: Lane = WHOLE,
): Promise<ReplayableRecord[]> {
  const rows = (await q.query(
    `SELECT id::text AS id, profile_id::text AS profile_id, target_connection_id::text AS target_connection_id
       FROM delivery_records
      WHERE flow_id = $1 AND replayed_at IS NULL
        AND created_at <= (SELECT created_at FROM delivery_jobs WHERE id = $3)
        AND ($2::uuid IS NULL OR run_id = $2::uuid)
        AND ($4::uuid IS NULL OR id > $4::uuid)
        AND ${inLaneSql('profile_id', lane.lane, lane.lanes)}
      ORDER BY id
      LIMIT $5`,
    [flowId, runId, jobId, afterId, limit],
  )) as {
    id: string;
    profile_id: string;
    target_connection_id: string | null;
  }[];
  return rows.map((r) => ({
    id: r.id,
    profileId: r.profile_id,
    targetConnectionId: r.target_connection_id,
  }));
}

export async function markReplayed(q: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await q.query(
    `UPDATE delivery_records SET replayed_at = now() WHERE id = ANY($1::uuid[])`,
    [ids],
  );
}

/**
 * Deletes records older than the retention period, `batch` rows per
 * statement and at most `maxBatches` statements per call, so one call's cost
 * is bounded however much is due; the next call goes on.
 */
export async function purgeRecords(
  q: Queryable,
  retentionDays: number,
  batch: number,
  maxBatches: number,
): Promise<number> {
  let total = 0;
  for (let n = 0; n < maxBatches; n++) {
    const rows = (await q.query(
      `WITH due AS (
         SELECT id FROM delivery_records
          WHERE created_at < now() - ($1::int * interval '1 day')
          ORDER BY created_at
          LIMIT $2
       )
       DELETE FROM delivery_records d USING due WHERE d.id = due.id
       RETURNING d.id`,
      [retentionDays, batch],
    )) as unknown[];
    const deleted = Array.isArray(rows[0])
      ? (rows[0] as unknown[]).length
      : rows.length;
    total += deleted;
    if (deleted < batch) break;
  }
  return total;
}

/**
 * What a step keeps besides its position and metrics, in the commit's
 * transaction: its undelivered records and its consent changes.
 */
export async function storeStepRecords(
  q: Queryable,
  owner: RecordOwner,
  records: RecordInput[],
  consent: ConsentChange[],
): Promise<void> {
  await insertRecords(q, owner, records);
  const granted = consent.filter((c) => c.consented);
  const withdrawn = consent.filter((c) => !c.consented);
  if (granted.length)
    await q.query(
      `INSERT INTO consent_states (flow_id, target_connection_id, profile_id)
       SELECT $1, t, p FROM unnest($2::uuid[], $3::uuid[]) AS u(t, p)
       ON CONFLICT DO NOTHING`,
      [
        owner.flowId,
        granted.map((c) => c.targetConnectionId),
        granted.map((c) => c.profileId),
      ],
    );
  if (withdrawn.length)
    await q.query(
      `DELETE FROM consent_states s USING unnest($2::uuid[], $3::uuid[]) AS u(t, p)
        WHERE s.flow_id = $1 AND s.target_connection_id = u.t AND s.profile_id = u.p`,
      [
        owner.flowId,
        withdrawn.map((c) => c.targetConnectionId),
        withdrawn.map((c) => c.profileId),
      ],
    );
}

/** Per target: which of these profiles it holds as consented. */
export async function heldConsents(
  q: Queryable,
  flowId: string,
  targetIds: string[],
  profileIds: string[],
): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>(
    targetIds.map((t) => [t, new Set<string>()]),
  );
  if (targetIds.length === 0 || profileIds.length === 0) return out;
  const rows = (await q.query(
    `SELECT target_connection_id::text AS t, profile_id::text AS p FROM consent_states
      WHERE flow_id = $1 AND target_connection_id = ANY($2::uuid[]) AND profile_id = ANY($3::uuid[])`,
    [flowId, targetIds, profileIds],
  )) as { t: string; p: string }[];
  for (const r of rows) out.get(r.t)?.add(r.p);
  return out;
}
