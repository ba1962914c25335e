import type { Queryable, TenantRef } from '../database/transaction.js';
import type { StoredMemberships } from '../memberships/stored-membership.js';
import {
  type IdentityMap,
  type JsonObject,
  identityKeys,
} from './profile-data.js';

/** A profile row's content (lookup, delete, evaluation). */
export interface ProfileRow {
  id: string;
  attributes: JsonObject;
  identity_map: IdentityMap;
  memberships: StoredMemberships;
}

/** The profile id if it exists in the tenant. */
export async function profileExists(
  q: Queryable,
  tenant: TenantRef,
  id: string,
): Promise<string | undefined> {
  const rows = (await q.query(
    `SELECT id FROM profiles WHERE org_id = $1 AND sandbox_name = $2 AND id = $3`,
    [tenant.orgId, tenant.sandboxName, id],
  )) as { id: string }[];
  return rows[0]?.id;
}

/** Locks one profile row (FOR UPDATE) and returns it; undefined if gone. */
export async function lockProfile(
  q: Queryable,
  tenant: TenantRef,
  id: string,
): Promise<ProfileRow | undefined> {
  const rows = (await q.query(
    `SELECT id, attributes, identity_map, memberships FROM profiles
      WHERE org_id = $1 AND sandbox_name = $2 AND id = $3 FOR UPDATE`,
    [tenant.orgId, tenant.sandboxName, id],
  )) as ProfileRow[];
  return rows[0];
}

/**
 * Deletes a (locked) profile and its identities. The caller records the
 * deletion in the change log in the same transaction.
 */
export async function deleteProfile(
  q: Queryable,
  tenant: TenantRef,
  row: ProfileRow,
): Promise<void> {
  const params = [tenant.orgId, tenant.sandboxName, row.id];
  // By primary key: the profile owns exactly its identityMap's identities.
  const keys = identityKeys(row.identity_map);
  await q.query(
    `DELETE FROM profile_identities
      WHERE (org_id, sandbox_name, namespace, identity) IN (
              SELECT $1, $2, k.ns, k.id FROM unnest($4::text[], $5::text[]) AS k(ns, id))
        AND profile_id = $3`,
    [...params, keys.map((k) => k.namespace), keys.map((k) => k.id)],
  );
  await q.query(
    `DELETE FROM profiles WHERE org_id = $1 AND sandbox_name = $2 AND id = $3`,
    params,
  );
}

/** How many profiles the tenant has (a segment job's total). */
export async function countProfiles(
  q: Queryable,
  tenant: TenantRef,
): Promise<number> {
  const rows = (await q.query(
    `SELECT count(*)::int AS n FROM profiles WHERE org_id = $1 AND sandbox_name = $2`,
    [tenant.orgId, tenant.sandboxName],
  )) as { n: number }[];
  return rows[0]?.n ?? 0;
}

/**
 * The next page of the tenant's profiles after `afterId` in id order, locked
 * FOR UPDATE: the order ingestion locks in, so a concurrent ingest of these
 * profiles waits rather than one of them evaluating stale data.
 */
export async function lockProfilePage(
  q: Queryable,
  tenant: TenantRef,
  afterId: string | null,
  limit: number,
): Promise<ProfileRow[]> {
  return (await q.query(
    `SELECT id, attributes, identity_map, memberships FROM profiles
      WHERE org_id = $1 AND sandbox_name = $2
        AND ($3::uuid IS NULL OR id > $3::uuid)
      ORDER BY id LIMIT $4
        FOR UPDATE`,
    [tenant.orgId, tenant.sandboxName, afterId, limit],
  )) as ProfileRow[];
}
