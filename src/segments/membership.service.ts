import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type {
  MembershipChange,
  Queryable,
  TenantRef,
} from '../profiles/change-log.js';
import type { JsonObject } from '../profiles/profile-merge.js';
import { evaluatePql } from './pql/index.js';
import type { CompiledSegment } from './segment-catalog.js';
import type { MembershipStatus } from './segment-membership.entity.js';

export interface MembershipState {
  status: MembershipStatus;
  lastQualificationTime: Date;
}

/** profileId → segmentId → state. */
export type MembershipMap = Map<string, Map<string, MembershipState>>;

export interface MembershipWrite {
  profileId: string;
  segmentId: string;
  status: MembershipStatus;
  lastQualificationTime: Date;
}

export interface Transitions {
  writes: MembershipWrite[];
  changes: MembershipChange[];
}

/**
 * Membership rules (CONTRACT A7) for one profile against some segments:
 * entering → `realized`; still a member on a later evaluation → `existing`;
 * leaving → `exited`; re-entering → `realized`. `lastQualificationTime` is
 * the time of the evaluation that set the current status. Only entering and
 * leaving are changes for the change log (realized → existing is not).
 */
export function membershipTransitions(
  profileId: string,
  doc: JsonObject,
  segments: CompiledSegment[],
  current: Map<string, MembershipState> | undefined,
  now: Date,
): Transitions {
  const writes: MembershipWrite[] = [];
  const changes: MembershipChange[] = [];
  for (const segment of segments) {
    const member = evaluatePql(segment.node, doc, now);
    const prev = current?.get(segment.id);
    const wasMember =
      prev !== undefined &&
      (prev.status === 'realized' || prev.status === 'existing');
    if (member && !wasMember) {
      writes.push({
        profileId,
        segmentId: segment.id,
        status: 'realized',
        lastQualificationTime: now,
      });
      changes.push({
        segmentId: segment.id,
        from: prev?.status ?? null,
        to: 'realized',
      });
    } else if (member && prev?.status === 'realized') {
      writes.push({
        profileId,
        segmentId: segment.id,
        status: 'existing',
        lastQualificationTime: now,
      });
    } else if (!member && wasMember) {
      writes.push({
        profileId,
        segmentId: segment.id,
        status: 'exited',
        lastQualificationTime: now,
      });
      changes.push({ segmentId: segment.id, from: prev.status, to: 'exited' });
    }
  }
  return { writes, changes };
}

/** Exits of every active membership: for a deleted or absorbed profile. */
export function exitAll(
  current: Map<string, MembershipState> | undefined,
): MembershipChange[] {
  const out: MembershipChange[] = [];
  for (const [segmentId, state] of current ?? []) {
    if (state.status === 'realized' || state.status === 'existing') {
      out.push({ segmentId, from: state.status, to: 'exited' });
    }
  }
  return out.sort((a, b) => (a.segmentId < b.segmentId ? -1 : 1));
}

/** The unnest columns of `writes`: profile ids, segment ids, statuses, times. */
function membershipColumns(writes: MembershipWrite[]): string[][] {
  // A batch's writes share one Date: format it once, not once per row (the
  // per-row toISOString was a visible share of ingestion CPU).
  let last: Date | undefined;
  let iso = '';
  const times = writes.map((w) => {
    if (w.lastQualificationTime !== last) {
      last = w.lastQualificationTime;
      iso = last.toISOString();
    }
    return iso;
  });
  return [
    writes.map((w) => w.profileId),
    writes.map((w) => w.segmentId),
    writes.map((w) => w.status),
    times,
  ];
}

/** Loading, writing and the runner's `markExisting` for segment memberships. */
@Injectable()
export class MembershipService {
  constructor(private readonly dataSource: DataSource) {}

  async load(
    q: Queryable,
    tenant: TenantRef,
    profileIds: string[],
    segmentIds?: string[],
  ): Promise<MembershipMap> {
    const out: MembershipMap = new Map();
    if (profileIds.length === 0) return out;
    // Per-profile primary-key range scans (OFFSET 0 keeps the LATERAL from
    // being flattened into a join): with cold statistics on a freshly loaded
    // table the planner otherwise picks a sequential scan of every membership.
    const rows = (await q.query(
      `SELECT m.profile_id, m.segment_id, m.status, m.last_qualification_time
         FROM unnest($3::uuid[]) AS p(id)
         JOIN LATERAL (
                SELECT profile_id, segment_id, status, last_qualification_time
                  FROM segment_memberships
                 WHERE profile_id = p.id AND org_id = $1 AND sandbox_name = $2
                   AND ($4::uuid[] IS NULL OR segment_id = ANY($4::uuid[]))
                OFFSET 0) m ON true`,
      [tenant.orgId, tenant.sandboxName, profileIds, segmentIds ?? null],
    )) as {
      profile_id: string;
      segment_id: string;
      status: MembershipStatus;
      last_qualification_time: Date;
    }[];
    for (const r of rows) {
      let m = out.get(r.profile_id);
      if (!m) out.set(r.profile_id, (m = new Map()));
      m.set(r.segment_id, {
        status: r.status,
        lastQualificationTime: r.last_qualification_time,
      });
    }
    return out;
  }

  write(
    q: Queryable,
    tenant: TenantRef,
    writes: MembershipWrite[],
  ): Promise<void> {
    return insertMemberships(q, tenant, writes, true);
  }

  /**
   * `write` for profiles created in the caller's transaction: they have no
   * memberships yet, so a plain INSERT skips ON CONFLICT's speculative
   * insertion (an extra primary-key probe for each of ~10 rows per profile).
   */
  insertNew(
    q: Queryable,
    tenant: TenantRef,
    writes: MembershipWrite[],
  ): Promise<void> {
    return insertMemberships(q, tenant, writes, false);
  }

  /**
   * Evaluates `segments` for the given profile documents, writes the new
   * statuses and returns each profile's entering/leaving changes.
   */
  async evaluate(
    q: Queryable,
    tenant: TenantRef,
    docs: { profileId: string; doc: JsonObject }[],
    segments: CompiledSegment[],
    now: Date,
  ): Promise<Map<string, MembershipChange[]>> {
    const out = new Map<string, MembershipChange[]>();
    if (docs.length === 0 || segments.length === 0) return out;
    const current = await this.load(
      q,
      tenant,
      docs.map((d) => d.profileId),
      segments.map((s) => s.id),
    );
    const writes: MembershipWrite[] = [];
    for (const { profileId, doc } of docs) {
      const t = membershipTransitions(
        profileId,
        doc,
        segments,
        current.get(profileId),
        now,
      );
      writes.push(...t.writes);
      if (t.changes.length) out.set(profileId, t.changes);
    }
    await this.write(q, tenant, writes);
    return out;
  }

  /**
   * Called by the runner once an export has shown `realized` memberships:
   * they become `existing`. Not a change (no change-log row), and
   * lastQualificationTime stays the time the profile qualified.
   * Returns the number of memberships updated.
   */
  async markExisting(
    tenant: TenantRef,
    profileId: string,
    segmentIds: string[],
    q: Queryable = this.dataSource,
  ): Promise<number> {
    if (segmentIds.length === 0) return 0;
    const rows = (await q.query(
      `WITH updated AS (
         UPDATE segment_memberships SET status = 'existing'
          WHERE org_id = $1 AND sandbox_name = $2 AND profile_id = $3
            AND segment_id = ANY($4::uuid[]) AND status = 'realized'
         RETURNING 1)
       SELECT count(*)::int AS n FROM updated`,
      [tenant.orgId, tenant.sandboxName, profileId, segmentIds],
    )) as { n: number }[];
    return rows[0]?.n ?? 0;
  }
}

async function insertMemberships(
  q: Queryable,
  tenant: TenantRef,
  writes: MembershipWrite[],
  upsert: boolean,
): Promise<void> {
  if (writes.length === 0) return;
  // Parallel arrays + unnest: measurably cheaper for Postgres than a
  // jsonb_to_recordset of the same rows (no JSON parsing per row).
  await q.query(
    `INSERT INTO segment_memberships
       (profile_id, segment_id, org_id, sandbox_name, status, last_qualification_time)
     SELECT r.p, r.s, $1, $2, r.st, r.t
       FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[]) AS r(p, s, st, t)${
         upsert
           ? `
     ON CONFLICT (profile_id, segment_id) DO UPDATE
       SET status = EXCLUDED.status,
           last_qualification_time = EXCLUDED.last_qualification_time`
           : ''
       }`,
    [tenant.orgId, tenant.sandboxName, ...membershipColumns(writes)],
  );
}
