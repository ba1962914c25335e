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

/**
 * One profile of an export's read, as PostgreSQL aggregates it:
 * [id, attributes, identityMap, the mapped segments' stored entries (null:
 * none) in `segmentIds` order, content versions].
 */
type ExportRow = [
  string,
  JsonObject,
  IdentityMap,
  (StoredMembership | null)[],
  ContentVersions,
];

/**
 * An export's read: the given profiles (deleted ones are absent) with the
 * memberships of `segmentIds` only, `lastQualificationTime` in the message's
 * second precision ("2026-11-26T02:27:54Z"). PostgreSQL projects the mapped
 * segments' entries, so a profile's other memberships are neither sent nor
 * decoded. Attributes come whole: projecting each mapped path (`#>`) cost
 * PostgreSQL more than it saved Node on profiles the size of the export
 * benchmark's.
 *
 * The batch comes back as one JSON text (one row, one column): the driver
 * then parses one value instead of five per profile, and Node decodes it
 * with one JSON.parse, where a timer can see it.
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
  // Text concatenation of each column's own output: no JSON is built or
  // re-parsed in PostgreSQL.
  const rows = (await q.query(
    `SELECT '[' || COALESCE(string_agg(
              '["' || id::text || '",' || attributes::text || ',' ||
              identity_map::text || ',' || ${memberships} || ',' ||
              content_versions::text || ']', ','), '') || ']' AS states
       FROM profiles
      WHERE org_id = $1 AND sandbox_name = $2 AND id = ANY($3::uuid[])`,
    params,
  )) as { states: string }[];
  const text = rows[0]?.states ?? '[]';
  const decode = (): Map<string, ProfileState> =>
    decodeExportRows(JSON.parse(text) as ExportRow[], segmentIds);
  return options.decode ? options.decode(decode) : decode();
}

function decodeExportRows(
  rows: ExportRow[],
  segmentIds: string[],
): Map<string, ProfileState> {
  const out = new Map<string, ProfileState>();
  for (const [id, attributes, identityMap, stored, contentVersions] of rows) {
    const memberships: Record<string, MembershipState> = {};
    for (let i = 0; i < segmentIds.length; i++) {
      const m = stored[i];
      if (m)
        memberships[segmentIds[i] as string] = membershipState(
          m,
          `${qualificationTimeOf(m).slice(0, 19)}Z`,
        );
    }
    out.set(id, {
      profileId: id,
      attributes,
      identityMap,
      memberships,
      contentVersions,
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
