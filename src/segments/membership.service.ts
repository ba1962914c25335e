import { Injectable } from '@nestjs/common';
import type {
  MembershipChange,
  Queryable,
  TenantRef,
} from '../profiles/change-log.js';
import type { JsonObject } from '../profiles/profile-merge.js';
import {
  type StoredMembership,
  type StoredMemberships,
  isActive,
} from './membership-status.js';
import { evaluatePql } from './pql/index.js';
import type { CompiledSegment } from './segment-catalog.js';

export interface Transitions {
  /** The profile's memberships after this evaluation (unchanged ones kept). */
  next: StoredMemberships;
  /** Only the entries this evaluation set; null when nothing changed. */
  patch: StoredMemberships | null;
  /** Entering and leaving, for the change log. */
  changes: MembershipChange[];
}

/**
 * Membership rules (CONTRACT A7) for one profile against some segments:
 * entering → `realized`; still a member on a later evaluation → `existing`;
 * leaving → `exited`; re-entering → `realized`. `lastQualificationTime` is
 * the time of the evaluation that set the current status (`nowIso`, the
 * batch's time formatted once); a `realized` entry also keeps `txId`, the
 * evaluating transaction's id (see StoredMembership). Only entering and
 * leaving are changes for the change log (realized → existing is not).
 */
export function membershipTransitions(
  doc: JsonObject,
  segments: CompiledSegment[],
  current: StoredMemberships | undefined,
  now: Date,
  nowIso: string,
  txId: string,
): Transitions {
  let patch: StoredMemberships | null = null;
  const changes: MembershipChange[] = [];
  const set = statesAt(nowIso, txId);
  for (const segment of segments) {
    const member = evaluatePql(segment.node, doc, now);
    const prev = current?.[segment.id];
    const wasMember = isActive(prev);
    if (member && !wasMember) {
      (patch ??= {})[segment.id] = set.realized;
      changes.push({
        segmentId: segment.id,
        from: prev?.[0] ?? null,
        to: 'realized',
      });
    } else if (member && prev?.[0] === 'realized') {
      (patch ??= {})[segment.id] = set.existing;
    } else if (!member && prev && wasMember) {
      (patch ??= {})[segment.id] = set.exited;
      changes.push({ segmentId: segment.id, from: prev[0], to: 'exited' });
    }
  }
  const next = patch ? { ...current, ...patch } : (current ?? {});
  return { next, patch, changes };
}

/**
 * The three entries of one evaluation (time and transaction), frozen and
 * shared by every membership a batch sets (one batch sets ~10 per profile).
 */
let lastStates: {
  iso: string;
  txId: string;
  realized: StoredMembership;
  existing: StoredMembership;
  exited: StoredMembership;
} = {
  iso: '',
  txId: '',
  realized: ['realized', ''],
  existing: ['existing', ''],
  exited: ['exited', ''],
};
function statesAt(iso: string, txId: string): typeof lastStates {
  if (lastStates.iso !== iso || lastStates.txId !== txId) {
    const entry = (...e: StoredMembership): StoredMembership =>
      Object.freeze(e) as unknown as StoredMembership;
    lastStates = {
      iso,
      txId,
      realized: entry('realized', iso, txId),
      existing: entry('existing', iso),
      exited: entry('exited', iso),
    };
  }
  return lastStates;
}

/** Exits of every active membership: for a deleted or absorbed profile. */
export function exitAll(
  current: StoredMemberships | undefined,
): MembershipChange[] {
  const out: MembershipChange[] = [];
  for (const [segmentId, state] of Object.entries(current ?? {})) {
    if (isActive(state)) {
      out.push({
        segmentId,
        from: state[0],
        to: 'exited',
      });
    }
  }
  return out.sort((a, b) => (a.segmentId < b.segmentId ? -1 : 1));
}

/**
 * Which `realized` memberships of these profiles an export has already seen
 * (CONTRACT A7: `existing` from then on), without the export writing the
 * profile row: a flow mapping the segment whose change-log position is past
 * the change that announced the qualification (the entry's transaction id,
 * see StoredMembership) has exported it. Position equal to that transaction
 * means "past it" only if no change row of the profile in it is still ahead.
 * A flow still backfilling the segment has not necessarily reached the
 * profile, so it does not count; `excludeFlowId` leaves one flow out (a
 * backfill asks about the other flows). Returns profile id → segment ids.
 */
export async function realizationsSeen(
  q: Queryable,
  tenant: TenantRef,
  profileIds: string[],
  excludeFlowId: string | null = null,
): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (profileIds.length === 0) return out;
  const rows = (await q.query(
    `SELECT p.id::text AS profile_id, array_agg(s.key) AS segment_ids
       FROM profiles p
      CROSS JOIN LATERAL jsonb_each(p.memberships) s
      CROSS JOIN LATERAL (SELECT COALESCE(s.value->>2, '0')::xid8 AS tx) r
      WHERE p.org_id = $1 AND p.sandbox_name = $2 AND p.id = ANY($3::uuid[])
        AND s.value->>0 = 'realized'
        AND EXISTS (
          SELECT 1 FROM flow_cursors c
           WHERE c.org_id = $1 AND c.sandbox_name = $2
             AND ($4::uuid IS NULL OR c.flow_id <> $4::uuid)
             AND c.mapping->'segmentIds' ? s.key
             AND NOT COALESCE(c.backfill->'segmentIds' ? s.key, false)
             AND (c.last_tx_id::xid8 > r.tx
                  OR (c.last_tx_id::xid8 = r.tx AND NOT EXISTS (
                        SELECT 1 FROM profile_changes pc
                         WHERE pc.org_id = $1 AND pc.sandbox_name = $2
                           AND pc.tx_id = r.tx AND pc.id > c.last_change_id
                           AND pc.profile_id = p.id))))
      GROUP BY p.id`,
    [tenant.orgId, tenant.sandboxName, profileIds, excludeFlowId],
  )) as { profile_id: string; segment_ids: string[] }[];
  for (const r of rows) out.set(r.profile_id, new Set(r.segment_ids));
  return out;
}

/** Loading and writing segment memberships. */
@Injectable()
export class MembershipService {
  /**
   * Merges each profile's patch into its stored memberships (entries of
   * other segments are kept). The caller holds the profiles' row locks.
   */
  async patch(
    q: Queryable,
    tenant: TenantRef,
    patches: Map<string, StoredMemberships>,
  ): Promise<void> {
    if (patches.size === 0) return;
    // `id = ANY` probes the primary key whatever the table's statistics;
    // each row then picks its own patch out of one jsonb object.
    await q.query(
      `UPDATE profiles SET memberships = memberships || ($4::jsonb -> id::text)
        WHERE org_id = $1 AND sandbox_name = $2 AND id = ANY($3::uuid[])`,
      [
        tenant.orgId,
        tenant.sandboxName,
        [...patches.keys()],
        JSON.stringify(Object.fromEntries(patches)),
      ],
    );
  }

  /**
   * Evaluates `segments` for the given (locked) profiles, writes the new
   * statuses and returns each profile's entering/leaving changes.
   */
  async evaluate(
    q: Queryable,
    tenant: TenantRef,
    docs: {
      profileId: string;
      doc: JsonObject;
      memberships: StoredMemberships;
    }[],
    segments: CompiledSegment[],
    now: Date,
    txId: string,
  ): Promise<Map<string, MembershipChange[]>> {
    const out = new Map<string, MembershipChange[]>();
    if (docs.length === 0 || segments.length === 0) return out;
    const nowIso = now.toISOString();
    const patches = new Map<string, StoredMemberships>();
    for (const { profileId, doc, memberships } of docs) {
      const t = membershipTransitions(
        doc,
        segments,
        memberships,
        now,
        nowIso,
        txId,
      );
      if (t.patch) patches.set(profileId, t.patch);
      if (t.changes.length) out.set(profileId, t.changes);
    }
    await this.patch(q, tenant, patches);
    return out;
  }
}
