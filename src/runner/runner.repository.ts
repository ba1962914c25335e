import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { newVersion } from '../common/etag.js';
import { RunEntity } from '../runs/run.entity.js';
import { readChanges } from '../profiles/change-log.reader.js';
import type { StoredMemberships } from '../segments/membership-status.js';
import { realizationsSeen } from '../segments/membership.service.js';
import type { ProfileChange, ProfileState, SegmentInfo } from './mapping.js';
import {
  accumulate,
  type RunMetricsJson,
  type StepOutcome,
} from './run-metrics.js';
import { FlowCursorEntity } from './flow-cursor.entity.js';

export interface Position {
  txId: string;
  id: string;
}

const EMPTY_MAPPING = {
  segmentIds: [],
  attributePaths: [],
  mandatoryFields: [],
};

/** Every query the runner makes: claims, the change log, profile state, runs. */
@Injectable()
export class RunnerRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /**
   * Gives every flow a cursor. A new cursor starts at the change log's current
   * snapshot horizon; members that qualified before are exported by the backfill.
   */
  async ensureCursors(): Promise<void> {
    await this.ds.query(
      // updated_at starts at the epoch so the flow counts as edited: the first
      // step records its mapping and starts the backfill.
      `INSERT INTO flow_cursors (flow_id, org_id, sandbox_name, last_tx_id, last_change_id, mapping, next_attempt_at, updated_at)
       SELECT f.id, f.org_id, f.sandbox_name, pg_snapshot_xmin(pg_current_snapshot())::text, 0, $1::jsonb, now(), to_timestamp(0)
       FROM flows f LEFT JOIN flow_cursors c ON c.flow_id = f.id
       WHERE c.flow_id IS NULL
       ON CONFLICT (flow_id) DO NOTHING`,
      [JSON.stringify(EMPTY_MAPPING)],
    );
    // A deleted flow's cursor stays, marked: its position still tells the
    // profile lookup which qualifications that flow exported. Claims join
    // flows, so it is never picked up; the purge ignores it.
    await this.ds.query(
      `UPDATE flow_cursors c SET deleted_at = now(), lease_owner = NULL, lease_until = NULL
        WHERE c.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM flows f WHERE f.id = c.flow_id)`,
    );
  }

  /**
   * Claims enabled flows that have work (new committed changes in their
   * tenant, a pending backfill, an edited flow, or a retry that is due) and
   * that nobody else holds. SKIP LOCKED keeps replicas apart; ordering by
   * next_attempt_at, which a release moves to now, rotates between flows.
   */
  async claim(
    owner: string,
    limit: number,
    leaseMs: number,
    /** Claim flows whose last attempt failed (true) or healthy ones (false). */
    failing: boolean,
    /** Flows this replica is already working on, whatever their lease says. */
    busy: string[] = [],
  ): Promise<FlowCursorEntity[]> {
    const res = (await this.ds.query(
      `WITH due AS (
         SELECT c.flow_id FROM flow_cursors c JOIN flows f ON f.id = c.flow_id
         WHERE f.state = 'enabled' AND c.next_attempt_at <= now() AND (c.failures > 0) = $4
           AND c.flow_id <> ALL($5::uuid[])
           AND (c.lease_until IS NULL OR c.lease_until < now())
           AND (c.backfill IS NOT NULL OR c.failures > 0 OR f.updated_at > c.updated_at
                OR EXISTS (SELECT 1 FROM profile_changes p
                           WHERE p.org_id = c.org_id AND p.sandbox_name = c.sandbox_name
                             AND (p.tx_id, p.id) > (c.last_tx_id::xid8, c.last_change_id)))
         ORDER BY c.next_attempt_at
         LIMIT $2
         FOR UPDATE OF c SKIP LOCKED
       )
       UPDATE flow_cursors c SET lease_owner = $1, lease_until = now() + ($3::int * interval '1 millisecond')
       FROM due WHERE c.flow_id = due.flow_id
       RETURNING c.flow_id`,
      [owner, limit, leaseMs, failing, busy],
    )) as unknown[];
    const list = rowsOf(res) as { flow_id: string }[];
    if (list.length === 0) return [];
    return this.ds
      .getRepository(FlowCursorEntity)
      .findBy(list.map((r) => ({ flowId: r.flow_id })));
  }

  reload(flowId: string): Promise<FlowCursorEntity | null> {
    return this.ds.getRepository(FlowCursorEntity).findOneBy({ flowId });
  }

  /** Extends a lease we still hold; false means another replica took the flow over. */
  async renew(
    owner: string,
    flowId: string,
    leaseMs: number,
  ): Promise<boolean> {
    const res = (await this.ds.query(
      `UPDATE flow_cursors SET lease_until = now() + ($3::int * interval '1 millisecond')
       WHERE flow_id = $1 AND lease_owner = $2 RETURNING flow_id`,
      [flowId, owner, leaseMs],
    )) as unknown[];
    return rowsOf(res).length > 0;
  }

  async release(owner: string, flowId?: string): Promise<void> {
    await this.ds.query(
      `UPDATE flow_cursors SET lease_owner = NULL, lease_until = NULL, next_attempt_at = GREATEST(next_attempt_at, now())
       WHERE lease_owner = $1 AND ($2::uuid IS NULL OR flow_id = $2::uuid)`,
      [owner, flowId ?? null],
    );
  }

  /** Committed changes after `after`, never past a transaction still in flight (the profile store's reader). */
  readChanges(
    orgId: string,
    sandboxName: string,
    after: Position,
    limit: number,
  ): Promise<ProfileChange[]> {
    return readChanges(this.ds, { orgId, sandboxName }, after, limit);
  }

  /**
   * What an export needs of the given profiles (deleted ones are absent):
   * attributes, identityMap and the memberships of the mapped segments only,
   * with `lastQualificationTime` in the message's second precision, and the
   * transaction that set a `realized` one (see StoredMembership).
   */
  async loadProfiles(
    orgId: string,
    sandboxName: string,
    profileIds: string[],
    segmentIds: string[],
  ): Promise<Map<string, ProfileState>> {
    const out = new Map<string, ProfileState>();
    if (profileIds.length === 0) return out;
    const rows = (await this.ds.query(
      `SELECT id::text AS id, attributes, identity_map, memberships
         FROM profiles
        WHERE org_id = $1 AND sandbox_name = $2 AND id = ANY($3::uuid[])`,
      [orgId, sandboxName, profileIds],
    )) as {
      id: string;
      attributes: Record<string, unknown>;
      identity_map: Record<string, unknown>;
      memberships: StoredMemberships;
    }[];
    for (const r of rows) {
      const memberships: ProfileState['memberships'] = {};
      for (const segmentId of segmentIds) {
        const m = r.memberships[segmentId];
        // The message carries seconds: "2026-11-26T02:27:54Z".
        if (m)
          memberships[segmentId] = {
            status: m[0],
            lastQualificationTime: `${m[1].slice(0, 19)}Z`,
            // Entries from before the id was stored count as seen.
            ...(m[0] === 'realized' ? { realizedTx: m[2] ?? '0' } : {}),
          };
      }
      out.set(r.id, {
        profileId: r.id,
        attributes: r.attributes,
        identityMap: r.identity_map,
        memberships,
      });
    }
    return out;
  }

  /**
   * Deletes change-log rows no flow needs any more: at or below the position
   * of every flow of their tenant (a new flow starts at the horizon, so it
   * never needs older rows) and older than `retentionHours`. In batches, one
   * replica at a time; returns how many rows went.
   */
  async purgeConsumedChanges(
    retentionHours: number,
    batch = 10_000,
  ): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.ds.transaction(async (em) => {
        const [lock] = (await em.query(
          `SELECT pg_try_advisory_xact_lock(hashtext('fse_change_log_purge')) AS ok`,
        )) as { ok: boolean }[];
        if (!lock?.ok) return 0;
        const rows = (await em.query(
          `WITH gone AS (
             DELETE FROM profile_changes
              WHERE ctid = ANY(ARRAY(
                SELECT c.ctid FROM profile_changes c
                 WHERE c.changed_at < now() - make_interval(hours => $1)
                   AND c.tx_id < pg_snapshot_xmin(pg_current_snapshot())
                   AND NOT EXISTS (
                     SELECT 1 FROM flow_cursors k
                      WHERE k.org_id = c.org_id AND k.sandbox_name = c.sandbox_name
                        AND k.deleted_at IS NULL
                        AND (k.last_tx_id::xid8, k.last_change_id) < (c.tx_id, c.id))
                 LIMIT $2))
             RETURNING 1)
           SELECT count(*)::int AS n FROM gone`,
          [retentionHours, batch],
        )) as { n: number }[];
        return rows[0]?.n ?? 0;
      });
      total += n;
      if (n < batch) return total;
    }
  }

  /** The change log's horizon now: every change below it has committed. */
  async horizon(): Promise<Position> {
    const rows = (await this.ds.query(
      `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS tx`,
    )) as { tx: string }[];
    return { txId: rows[0]?.tx ?? '0', id: '0' };
  }

  /** `realized` memberships of these profiles that another flow has exported (see realizationsSeen). */
  seenByOtherFlows(
    orgId: string,
    sandboxName: string,
    profileIds: string[],
    flowId: string,
  ): Promise<Map<string, Set<string>>> {
    return realizationsSeen(
      this.ds,
      { orgId, sandboxName },
      profileIds,
      flowId,
    );
  }

  /** Next page of current members of the given segments, for a backfill. */
  async membersAfter(
    orgId: string,
    sandboxName: string,
    segmentIds: string[],
    afterProfileId: string | null,
    limit: number,
  ): Promise<string[]> {
    const rows = (await this.ds.query(
      // The tenant's profiles in id order from the cursor (an index range
      // scan), keeping current members: a page stops at \`limit\` members, and
      // a whole backfill reads the tenant's profiles once.
      `SELECT p.id AS profile_id
         FROM profiles p
        WHERE p.org_id = $1 AND p.sandbox_name = $2 AND p.id > $4::uuid
          AND p.memberships ?| $3::text[]
          AND EXISTS (SELECT 1 FROM unnest($3::text[]) AS s(id)
                       WHERE p.memberships->s.id->>0 IN ('realized', 'existing'))
        ORDER BY p.id LIMIT $5`,
      [
        orgId,
        sandboxName,
        segmentIds,
        // The nil UUID sorts first and is never a profile id.
        afterProfileId ?? '00000000-0000-0000-0000-000000000000',
        limit,
      ],
    )) as { profile_id: string }[];
    return rows.map((r) => r.profile_id);
  }

  async segmentInfo(
    orgId: string,
    sandboxName: string,
    segmentIds: string[],
  ): Promise<Map<string, SegmentInfo>> {
    if (segmentIds.length === 0) return new Map();
    const rows = (await this.ds.query(
      `SELECT id::text AS id, name, created_at, updated_at FROM segment_definitions
       WHERE org_id = $1 AND sandbox_name = $2 AND id::text = ANY($3::text[])`,
      [orgId, sandboxName, segmentIds],
    )) as { id: string; name: string; created_at: Date; updated_at: Date }[];
    return new Map(
      rows.map((r) => [
        r.id,
        {
          name: r.name,
          createdAt: r.created_at.getTime(),
          updatedAt: r.updated_at.getTime(),
        },
      ]),
    );
  }

  /**
   * After the hub acknowledged a step: advance the position (only if we still
   * hold the lease) and add the step to the hour's run, in one transaction.
   * Profile rows are not written: the position is what turns the `realized`
   * memberships the step showed into `existing` (see realizationsSeen).
   */
  async commitStep(input: {
    owner: string;
    flowId: string;
    orgId: string;
    sandboxName: string;
    sandboxId: string;
    flowSpecId: string;
    position: Position;
    mapping: Record<string, unknown>;
    backfill: Record<string, unknown> | null;
    outcome: StepOutcome | null;
  }): Promise<boolean> {
    try {
      return await this.ds.transaction(async (em) => {
        const res = (await em.query(
          `UPDATE flow_cursors SET last_tx_id = $3, last_change_id = $4, mapping = $5::jsonb, backfill = $6::jsonb,
                  failures = 0, last_error = NULL, last_success_at = now(), updated_at = now()
           WHERE flow_id = $1 AND lease_owner = $2 RETURNING flow_id`,
          [
            input.flowId,
            input.owner,
            input.position.txId,
            input.position.id,
            JSON.stringify(input.mapping),
            input.backfill ? JSON.stringify(input.backfill) : null,
          ],
        )) as unknown[];
        if (rowsOf(res).length === 0) throw new LeaseLost();
        if (input.outcome) await this.recordRun(em, input, input.outcome);
        return true;
      });
    } catch (err) {
      // Another replica owns the flow now: nothing of this step is kept.
      if (err instanceof LeaseLost) return false;
      throw err;
    }
  }

  /** An unexpected error: keep the position, retry after `delayMs`. */
  async defer(
    owner: string,
    flowId: string,
    delayMs: number,
    error: string,
  ): Promise<void> {
    await this.ds.query(
      `UPDATE flow_cursors SET failures = failures + 1, last_error = $3,
              next_attempt_at = now() + ($4::int * interval '1 millisecond'), updated_at = now()
       WHERE flow_id = $1 AND lease_owner = $2`,
      [flowId, owner, error.slice(0, 2000), delayMs],
    );
  }

  /** A failed step: the position stays, the flow is retried after `delayMs`, the run shows the error. */
  async recordFailure(input: {
    owner: string;
    flowId: string;
    orgId: string;
    sandboxName: string;
    sandboxId: string;
    flowSpecId: string;
    delayMs: number;
    error: string;
    outcome: StepOutcome;
  }): Promise<void> {
    await this.ds.transaction(async (em) => {
      await em.query(
        `UPDATE flow_cursors SET failures = failures + 1, last_error = $3,
                next_attempt_at = now() + ($4::int * interval '1 millisecond'), lease_owner = NULL, lease_until = NULL, updated_at = now()
         WHERE flow_id = $1 AND lease_owner = $2`,
        [input.flowId, input.owner, input.error, input.delayMs],
      );
      await this.recordRun(em, input, input.outcome);
    });
  }

  private async recordRun(
    em: EntityManager,
    input: {
      flowId: string;
      orgId: string;
      sandboxName: string;
      sandboxId: string;
      flowSpecId: string;
    },
    outcome: StepOutcome,
  ): Promise<void> {
    const hourStart = new Date(Math.floor(outcome.at / 3_600_000) * 3_600_000);
    await em.query(
      `INSERT INTO runs (org_id, sandbox_name, sandbox_id, flow_id, flow_spec_id, hour_start, version, metrics)
       VALUES ($1, $2, $3, $4, $5, $6, $7, '{}'::jsonb)
       ON CONFLICT (flow_id, hour_start) DO NOTHING`,
      [
        input.orgId,
        input.sandboxName,
        input.sandboxId,
        input.flowId,
        input.flowSpecId,
        hourStart,
        newVersion(),
      ],
    );
    const run = await em.findOne(RunEntity, {
      where: { flowId: input.flowId, hourStart },
      lock: { mode: 'pessimistic_write' },
    });
    if (!run) return;
    const metrics = accumulate(run.metrics as Partial<RunMetricsJson>, outcome);
    await em.update(
      RunEntity,
      { id: run.id },
      { metrics: metrics as never, version: newVersion() },
    );
  }
}

/** Rolls back a step's commit when the flow's lease has moved on. */
class LeaseLost extends Error {}

/** `ds.query` returns `[rows, count]` for UPDATE … RETURNING and plain rows otherwise. */
function rowsOf(res: unknown[]): unknown[] {
  return Array.isArray(res[0]) ? (res[0] as unknown[]) : res;
}
