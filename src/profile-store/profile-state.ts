import type { Queryable, TenantRef } from '../database/transaction.js';
import {
  type MembershipState,
  type SegmentPosition,
  seenByPositionSql,
} from '../memberships/seen.js';
import {
  type StoredMembership,
  type StoredMemberships,
  membershipSql,
  qualificationTimeOf,
  realizedTxOf,
  statusOf,
} from '../memberships/stored-membership.js';
import type { ContentVersions } from './content-versions.js';
import type { IdentityMap, JsonObject } from './profile-data.js';

/** Current state of one profile, as lookups and exports read it. */
export interface ProfileState {
  profileId: string;
  attributes: JsonObject;
  identityMap: IdentityMap;
  /** Per segment (exited ones until purged); `realizedTx` set on `realized`. */
  memberships: Record<string, MembershipState>;
  /**
   * For exports: the profile's content versions (content-versions.ts), so a
   * state re-sent by any path is recognisably the same one.
   */
  contentVersions?: ContentVersions;
}

/** A stored profile with its row times, for the lookup. */
export interface StoredProfileState extends ProfileState {
  createdAt: Date;
  updatedAt: Date;
}

interface StateRow {
  id: string;
  attributes: JsonObject;
  identity_map: IdentityMap;
  memberships: StoredMemberships;
}

function membershipState(m: StoredMembership, time: string): MembershipState {
  const realizedTx = realizedTxOf(m);
  return realizedTx === undefined
    ? { status: statusOf(m), lastQualificationTime: time }
    : { status: statusOf(m), lastQualificationTime: time, realizedTx };
}

/**
 * The lookup's read: profiles by id with every membership as stored
 * (`realized` not yet judged against exports; see realizationsSeen).
 * Profiles that no longer exist are omitted; order follows `profileIds`.
 */
export async function loadStates(
  q: Queryable,
  tenant: TenantRef,
  profileIds: string[],
): Promise<StoredProfileState[]> {
  if (profileIds.length === 0) return [];
  const rows = (await q.query(
    `SELECT id, attributes, identity_map, memberships, created_at, updated_at
       FROM profiles
      WHERE org_id = $1 AND sandbox_name = $2 AND id = ANY($3::uuid[])`,
    [tenant.orgId, tenant.sandboxName, profileIds],
  )) as (StateRow & { created_at: Date; updated_at: Date })[];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const out: StoredProfileState[] = [];
  for (const id of profileIds) {
    const r = byId.get(id);
    if (!r) continue;
    const memberships: Record<string, MembershipState> = {};
    for (const [segmentId, m] of Object.entries(r.memberships))
      memberships[segmentId] = membershipState(m, qualificationTimeOf(m));
    out.push({
      profileId: r.id,
      attributes: r.attributes,
      identityMap: r.identity_map,
      memberships,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    });
  }
  return out;
}

/** How an export's read runs. */
export interface ExportStateOptions {
  /** Runs the synchronous decoding of the rows (a timer's hook). */
  decode?: <T>(fn: () => T) => T;
}

/** jsonb_build_array takes at most 100 arguments (FUNC_MAX_ARGS). */
const MAX_ARGS = 100;

interface ExportRow {
  id: string;
  attributes: string;
  identity_map: string;
  /** Text of an array of the segments' stored entries (null: none), in `segmentIds` order. */
  memberships: string;
  /** Text of the content versions: see ProfileState.contentVersions. */
  content_versions: string;
}

/**
 * An export's read: the given profiles (deleted ones are absent) with the
 * memberships of `segmentIds` only, `lastQualificationTime` in the message's
 * second precision ("2026-11-26T02:27:54Z"). PostgreSQL projects the mapped
 * segments' entries, so a profile's other memberships are neither sent nor
 * decoded. Attributes come whole: projecting each mapped path (`#>`) cost
 * PostgreSQL more than it saved Node on profiles the size of the export
 * benchmark's.
 */
export async function loadExportStates(
  q: Queryable,
  tenant: TenantRef,
  profileIds: string[],
  segmentIds: string[],
  options: ExportStateOptions = {},
): Promise<Map<string, ProfileState>> {
  if (profileIds.length === 0) return new Map();
  const params: unknown[] = [tenant.orgId, tenant.sandboxName, profileIds];
  // Chunks of at most 100 segments, concatenated in order.
  const chunks: string[] = [];
  for (let i = 0; i < segmentIds.length; i += MAX_ARGS)
    chunks.push(
      `jsonb_build_array(${segmentIds
        .slice(i, i + MAX_ARGS)
        .map((id) => {
          params.push(id);
          return `memberships -> $${params.length}::text`;
        })
        .join(', ')})`,
    );
  const memberships = chunks.length ? `(${chunks.join(' || ')})::text` : `'[]'`;
  // Text columns: the rows are decoded below, where a timer can see it.
  const rows = (await q.query(
    `SELECT id::text AS id, attributes::text AS attributes,
            identity_map::text AS identity_map, ${memberships} AS memberships,
            content_versions::text AS content_versions
       FROM profiles
      WHERE org_id = $1 AND sandbox_name = $2 AND id = ANY($3::uuid[])`,
    params,
  )) as ExportRow[];
  const decode = (): Map<string, ProfileState> =>
    decodeExportRows(rows, segmentIds);
  return options.decode ? options.decode(decode) : decode();
}

function decodeExportRows(
  rows: ExportRow[],
  segmentIds: string[],
): Map<string, ProfileState> {
  const out = new Map<string, ProfileState>();
  for (const r of rows) {
    const stored = JSON.parse(r.memberships) as (StoredMembership | null)[];
    const memberships: Record<string, MembershipState> = {};
    for (let i = 0; i < segmentIds.length; i++) {
      const m = stored[i];
      if (m)
        memberships[segmentIds[i] as string] = membershipState(
          m,
          `${qualificationTimeOf(m).slice(0, 19)}Z`,
        );
    }
    out.set(r.id, {
      profileId: r.id,
      attributes: JSON.parse(r.attributes) as JsonObject,
      identityMap: JSON.parse(r.identity_map) as IdentityMap,
      memberships,
      contentVersions: JSON.parse(r.content_versions) as ContentVersions,
    });
  }
  return out;
}

/**
 * Which `realized` memberships of these profiles the given positions have
 * seen (the rule: memberships/seen.ts). `positions` are the flows' positions
 * per segment they export. Returns profile id → segment ids.
 */
export async function realizationsSeen(
  q: Queryable,
  tenant: TenantRef,
  profileIds: string[],
  positions: SegmentPosition[],
): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (profileIds.length === 0 || positions.length === 0) return out;
  const entry = 's.value';
  const seen = seenByPositionSql({
    realizedTx: 'r.tx',
    posTx: 'k.tx',
    posChangeId: 'k.cid',
    changeAhead: (tx, after) =>
      `EXISTS (SELECT 1 FROM profile_changes pc
                WHERE pc.org_id = $1 AND pc.sandbox_name = $2
                  AND pc.tx_id = ${tx} AND pc.id > ${after}
                  AND pc.profile_id = p.id)`,
  });
  const rows = (await q.query(
    `SELECT p.id::text AS profile_id, array_agg(s.key) AS segment_ids
       FROM profiles p
      CROSS JOIN LATERAL jsonb_each(p.memberships) s
      CROSS JOIN LATERAL (SELECT ${membershipSql.realizedTx(entry)} AS tx) r
      WHERE p.org_id = $1 AND p.sandbox_name = $2 AND p.id = ANY($3::uuid[])
        AND ${membershipSql.isRealized(entry)}
        AND EXISTS (
          SELECT 1 FROM unnest($4::text[], $5::xid8[], $6::bigint[]) AS k(seg, tx, cid)
           WHERE k.seg = s.key AND ${seen})
      GROUP BY p.id`,
    [
      tenant.orgId,
      tenant.sandboxName,
      profileIds,
      positions.map((k) => k.segmentId),
      positions.map((k) => k.txId),
      positions.map((k) => k.changeId),
    ],
  )) as { profile_id: string; segment_ids: string[] }[];
  for (const r of rows) out.set(r.profile_id, new Set(r.segment_ids));
  return out;
}
