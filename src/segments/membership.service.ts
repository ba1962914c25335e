import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type {
  MembershipChange,
  Queryable,
  TenantRef,
} from '../profiles/change-log.js';
import type { JsonObject } from '../profiles/profile-merge.js';
import {
  type MembershipStatus,
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
 * batch's time formatted once). Only entering and leaving are changes for
 * the change log (realized → existing is not).
 */
export function membershipTransitions(
  doc: JsonObject,
  segments: CompiledSegment[],
  current: StoredMemberships | undefined,
  now: Date,
  nowIso: string,
): Transitions {
  let patch: StoredMemberships | null = null;
  const changes: MembershipChange[] = [];
  const set = statesAt(nowIso);
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
 * The three `[status, nowIso]` entries of one evaluation time, frozen and
 * shared by every membership a batch sets (one batch sets ~10 per profile).
 */
let lastStates: {
  iso: string;
  realized: StoredMembership;
  existing: StoredMembership;
  exited: StoredMembership;
} = {
  iso: '',
  realized: ['realized', ''],
  existing: ['existing', ''],
  exited: ['exited', ''],
};
function statesAt(iso: string): typeof lastStates {
  if (lastStates.iso !== iso) {
    const entry = (status: MembershipStatus): StoredMembership =>
      Object.freeze([status, iso]) as unknown as StoredMembership;
    lastStates = {
      iso,
      realized: entry('realized'),
      existing: entry('existing'),
      exited: entry('exited'),
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
 * Marks `realized` memberships of the given segments `existing` (the runner,
 * once the hub acknowledged an export that showed them). With `versions`
 * (each profile row's `xmin` when the export read it, aligned with
 * `profileIds`), a row written since is left alone: whatever wrote it
 * evaluated the profile again — it already turned a still-held `realized`
 * into `existing`, or the profile exited, or it qualified again and that new
 * `realized` has not been exported yet. The rows are locked in id order
 * first — the order ingestion locks profiles in — so the two cannot deadlock.
 * lastQualificationTime stays the time the profile qualified. Returns the
 * number of memberships changed.
 */
export async function markMembershipsExisting(
  q: Queryable,
  profileIds: string[],
  segmentIds: string[],
  options: { versions?: string[]; tenant?: TenantRef } = {},
): Promise<number> {
  if (profileIds.length === 0 || segmentIds.length === 0) return 0;
  const { versions, tenant } = options;
  const rows = (await q.query(
    `WITH locked AS (
       SELECT p.id, (SELECT count(*)::int FROM unnest($2::text[]) s
                      WHERE p.memberships->s->>0 = 'realized') AS n
         FROM profiles p
        WHERE p.id = ANY($1::uuid[]) AND p.memberships ?| $2::text[]
          -- A key lookup per row, not a join: its plan cannot go wrong. The
          -- sub-select parses the object once, whatever the plan.
          AND ((SELECT $5::jsonb) IS NULL OR (SELECT $5::jsonb)->>(p.id::text) = p.xmin::text)
          AND ($3::text IS NULL OR (p.org_id = $3 AND p.sandbox_name = $4))
          -- Rows with nothing to change (already existing) are not locked.
          AND EXISTS (SELECT 1 FROM unnest($2::text[]) s
                       WHERE p.memberships->s->>0 = 'realized')
        ORDER BY p.id
          FOR UPDATE OF p),
     updated AS (
       UPDATE profiles p
          SET memberships = p.memberships || (
                SELECT jsonb_object_agg(s, jsonb_build_array('existing', p.memberships->s->1))
                  FROM unnest($2::text[]) s WHERE p.memberships->s->>0 = 'realized')
         FROM locked l
        WHERE p.id = l.id AND l.n > 0
       RETURNING l.n)
     SELECT COALESCE(sum(n), 0)::int AS n FROM updated`,
    [
      profileIds,
      segmentIds,
      tenant?.orgId ?? null,
      tenant?.sandboxName ?? null,
      versions ? versionsJson(profileIds, versions) : null,
    ],
  )) as { n: number }[];
  return rows[0]?.n ?? 0;
}

/**
 * `{"<profile id>": "<xmin>", …}`. Concatenated: uuids and transaction ids
 * need no escaping, and a batch's object is built for every export step.
 */
function versionsJson(profileIds: string[], versions: string[]): string {
  let out = '{';
  for (let i = 0; i < profileIds.length; i++) {
    if (i) out += ',';
    out += `"${profileIds[i]}":"${versions[i]}"`;
  }
  return `${out}}`;
}

/** Loading, writing and the runner's `markExisting` for segment memberships. */
@Injectable()
export class MembershipService {
  constructor(private readonly dataSource: DataSource) {}

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
  ): Promise<Map<string, MembershipChange[]>> {
    const out = new Map<string, MembershipChange[]>();
    if (docs.length === 0 || segments.length === 0) return out;
    const nowIso = now.toISOString();
    const patches = new Map<string, StoredMemberships>();
    for (const { profileId, doc, memberships } of docs) {
      const t = membershipTransitions(doc, segments, memberships, now, nowIso);
      if (t.patch) patches.set(profileId, t.patch);
      if (t.changes.length) out.set(profileId, t.changes);
    }
    await this.patch(q, tenant, patches);
    return out;
  }

  /**
   * Called once an export has shown `realized` memberships: they become
   * `existing`. Not a change (no change-log row). Returns the number of
   * memberships updated.
   */
  markExisting(
    tenant: TenantRef,
    profileId: string,
    segmentIds: string[],
    q: Queryable = this.dataSource,
  ): Promise<number> {
    return markMembershipsExisting(q, [profileId], segmentIds, { tenant });
  }
}
