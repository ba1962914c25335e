import type { Queryable, TenantRef } from '../database/transaction.js';
import { RetryableConflict, sqlState } from '../database/transaction.js';
import type { StoredMemberships } from '../memberships/stored-membership.js';
import { type ChangeRowInput, changeInsert } from './change-log.js';
import type { ContentVersions } from './content-versions.js';
import { jsonLines } from './json-lines.js';
import {
  type IdentityKey,
  type IdentityMap,
  type JsonObject,
  identityKeyString,
  identityKeys,
} from './profile-data.js';

/**
 * Ingestion's statements: find and lock the profiles owning a batch's
 * identities, then write the batch's outcome in one round trip.
 */

/**
 * A stored profile as ingestion reads it (locked). The times are epoch
 * milliseconds (truncated, like a Date of them): ingestion only orders by
 * them.
 */
export interface StoredProfileRow {
  id: string;
  attributes: JsonObject;
  identity_map: IdentityMap;
  memberships: StoredMemberships;
  content_versions: ContentVersions;
  created_ms: number;
  updated_ms: number;
}

/** A profile's new content, as a batch writes it. */
export interface ProfileContent {
  id: string;
  attributes: JsonObject;
  identityMap: IdentityMap;
  memberships: StoredMemberships;
  contentVersions: ContentVersions;
}

/**
 * A stored profile to rewrite: only what the write changes is set, the rest
 * of the row stays as stored.
 */
export interface StoredUpdate {
  id: string;
  /** Set when attributes or identities changed; `updated_at` moves with it. */
  attributes?: JsonObject;
  /** Set when the identities changed. */
  identityMap?: IdentityMap;
  /** The membership entries the write sets, over the stored ones. */
  memberships?: StoredMemberships;
  /** Set when they moved (not on a `realized` → `existing` step alone). */
  contentVersions?: ContentVersions;
}

/** One row of profile_identities. */
export interface IdentityRow {
  ns: string;
  id: string;
  p: string;
}

/** Everything one ingestion batch writes. */
export interface BatchWrite {
  created: ProfileContent[];
  updated: StoredUpdate[];
  /** Profiles absorbed by a merge: their rows go. */
  absorbed: string[];
  /**
   * Identities nobody owned, identities moving to another profile, and
   * identities dropped from a full profile (the 50-identity guardrail).
   */
  identities: {
    inserts: IdentityRow[];
    moves: IdentityRow[];
    drops: IdentityKey[];
  };
  changes: ChangeRowInput[];
  nowIso: string;
}

/**
 * The current transaction's id (xid8 as text): it stamps the `realized`
 * memberships a batch sets, so an export whose position passes this
 * transaction has seen them (StoredMembership).
 */
export async function currentTxId(q: Queryable): Promise<string> {
  const [{ tx } = { tx: '0' }] = (await q.query(
    'SELECT pg_current_xact_id()::text AS tx',
  )) as { tx: string }[];
  return tx;
}

/**
 * Finds and locks the stored profiles owning `keys`, in one statement: the
 * identity lookup, then the owners FOR UPDATE in id order. A locked row is
 * its latest version, and a profile's identityMap names exactly the
 * identities it owns (profile_identities changes with it, under its lock),
 * so the owners are read from the locked rows. A concurrent merge may have
 * moved an identity away from a profile between the lookup and the lock:
 * then fewer of the keys the lookup found are held by locked profiles, and
 * the statement runs again. An identity claimed by a profile not locked
 * here still fails this batch's identity INSERT, which retries the batch.
 */
export async function lockProfiles(
  m: Queryable,
  tenant: TenantRef,
  keys: IdentityKey[],
): Promise<{ owners: Map<string, string>; loaded: StoredProfileRow[] }> {
  if (keys.length === 0) return { owners: new Map(), loaded: [] };
  const wanted = new Set(keys.map(identityKeyString));
  for (let round = 0; round < 20; round++) {
    const rows = (await m.query(
      `WITH o AS MATERIALIZED (${OWNER_LOOKUP})
       SELECT p.id, p.attributes, p.identity_map, p.memberships, p.content_versions,
              floor(extract(epoch FROM p.created_at) * 1000)::float8 AS created_ms,
              floor(extract(epoch FROM p.updated_at) * 1000)::float8 AS updated_ms,
              (SELECT count(*) FROM o)::int AS found
         FROM profiles p
        WHERE ${BY_ID_IN_TENANT('ARRAY(SELECT o.profile_id FROM o)')}
        ORDER BY p.id
          FOR UPDATE OF p`,
      [
        tenant.orgId,
        tenant.sandboxName,
        keys.map((k) => k.namespace),
        keys.map((k) => k.id),
      ],
    )) as (StoredProfileRow & { found: number })[];
    const owners = new Map<string, string>();
    const loaded: StoredProfileRow[] = [];
    for (const { found: _, ...row } of rows) {
      let owns = false;
      for (const k of identityKeys(row.identity_map)) {
        const s = identityKeyString(k);
        if (!wanted.has(s)) continue;
        owners.set(s, row.id);
        owns = true;
      }
      if (owns) loaded.push(row);
    }
    if (owners.size === (rows[0]?.found ?? 0)) return { owners, loaded };
  }
  throw new RetryableConflict('identity graph kept changing while locking');
}

/**
 * Profiles `p` of tenant `$1`/`$2` whose id is in `ids` (a uuid[]
 * expression), found by primary key. The tenant test is wrapped in
 * `IS TRUE` so that no index can use it: with the tenant's columns as index
 * conditions, a table without fresh statistics (a tenant's first load, until
 * autoanalyze) was planned as one range scan of `ix_profiles_lane` over all
 * the tenant's profiles, filtering the ids — every batch read the whole
 * tenant's index (1,000 pages per 100,000 profiles). ProfilesLaneKey1765490000000
 * took the tenant's columns out of that index's lead, which removes that
 * plan; the wrapping keeps these statements on the primary key whatever
 * index is added next. Ids are unique across tenants, so the test only
 * guards.
 */
const BY_ID_IN_TENANT = (ids: string): string =>
  `p.id = ANY(${ids}) AND (p.org_id = $1 AND p.sandbox_name = $2) IS TRUE`;

/**
 * The owner of each key (`$3` namespaces, `$4` ids) of tenant `$1`/`$2`
 * that has one. One primary-key probe per key (LATERAL … LIMIT 1 is not
 * flattened into a join): with the cold statistics of a freshly loaded
 * table the planner otherwise hashes every identity of the tenant, a cost
 * that grows with the store instead of the batch.
 */
const OWNER_LOOKUP = `SELECT k.ns AS namespace, k.id AS identity, pi.profile_id
       FROM unnest($3::text[], $4::text[]) AS k(ns, id)
       JOIN LATERAL (
              SELECT profile_id FROM profile_identities
               WHERE org_id = $1 AND sandbox_name = $2
                 AND namespace = k.ns AND identity = k.id
               LIMIT 1) pi ON true`;

/**
 * All of a batch's writes as one statement of data-modifying CTEs: one
 * round trip, so PostgreSQL does not wait for Node between them (with a
 * statement per table it sat idle while Node worked on another batch).
 * PostgreSQL runs each part exactly once; no two parts touch the same row
 * (new and stored profiles, absorbed ones; unowned and moved identities).
 */
export async function writeBatch(
  m: Queryable,
  tenant: TenantRef,
  batch: BatchWrite,
): Promise<void> {
  const { created, updated, absorbed, identities, changes, nowIso } = batch;
  const parts: string[] = [];
  const params: unknown[] = [tenant.orgId, tenant.sandboxName];
  const add = (part: { sql: string; params: unknown[] }): void => {
    parts.push(part.sql);
    params.push(...part.params);
  };
  const next = (): number => params.length + 1;
  if (created.length) add(newProfilesInsert(created, nowIso, next()));
  if (updated.length) add(storedProfilesUpdate(updated, nowIso, next()));
  if (absorbed.length) add(absorbedProfilesDelete(absorbed, next()));
  if (identities.inserts.length)
    add(identityInsert(identities.inserts, next()));
  if (identities.moves.length) add(identityMove(identities.moves, next()));
  if (identities.drops.length) add(identityDrop(identities.drops, next()));
  const logged = changeInsert(changes, next());
  if (logged) add(logged);
  const last = parts.pop();
  if (last === undefined) return;
  const sql = parts.length
    ? `WITH ${parts.map((p, i) => `w${i} AS (${p})`).join(', ')} ${last}`
    : last;
  try {
    await m.query(sql, params);
  } catch (err) {
    // Only the plain identity INSERT can violate a unique key: another
    // batch claimed one of these identities since the lookup.
    if (sqlState(err) === '23505') {
      throw new RetryableConflict('a new identity was claimed concurrently');
    }
    throw err;
  }
}

/** New profile rows as SQL: `$1`/`$2` the tenant, its parameters from `$first`. */
function newProfilesInsert(
  created: ProfileContent[],
  nowIso: string,
  first: number,
): { sql: string; params: string[] } {
  const $ = (k: number): string => `$${first + k}`;
  return {
    sql: `INSERT INTO profiles (id, org_id, sandbox_name, attributes, identity_map, memberships, content_versions, created_at, updated_at)
         SELECT r.id, $1, $2, r.a::jsonb, r.i::jsonb, r.m::jsonb, r.v::jsonb, ${$(5)}::timestamptz, ${$(5)}::timestamptz
           FROM unnest(string_to_array(${$(0)}, ',')::uuid[], string_to_array(${$(1)}, E'\\n'),
                       string_to_array(${$(2)}, E'\\n'), string_to_array(${$(3)}, E'\\n'),
                       string_to_array(${$(4)}, E'\\n')) AS r(id, a, i, m, v)`,
    params: [
      created.map((p) => p.id).join(','),
      jsonLines(created.map((p) => p.attributes)),
      jsonLines(created.map((p) => p.identityMap)),
      jsonLines(created.map((p) => p.memberships)),
      jsonLines(created.map((p) => p.contentVersions)),
      nowIso,
    ],
  };
}

/**
 * Stored (locked) profiles rewritten by primary key: `id = ANY` probes it
 * whatever the statistics say (an UPDATE … FROM a record set was planned as
 * a scan of every profile on a freshly loaded table); each row picks its
 * values by id. Only what changed is sent (the JSON is parsed by the
 * database, per byte): unchanged identities stay, membership entries merge
 * over the stored ones. `updated_at` (merge precedence) moves only when
 * attributes or identities changed.
 */
function storedProfilesUpdate(
  updated: StoredUpdate[],
  nowIso: string,
  first: number,
): { sql: string; params: unknown[] } {
  const $ = (k: number): string => `$${first + k}`;
  return {
    sql: `UPDATE profiles p
            SET (attributes, identity_map, memberships, content_versions, updated_at) = (
                  SELECT COALESCE(r.a, p.attributes), COALESCE(r.i, p.identity_map),
                         COALESCE(p.memberships || r.m, p.memberships),
                         COALESCE(r.v, p.content_versions),
                         CASE WHEN r.a IS NULL THEN p.updated_at ELSE ${$(2)}::timestamptz END
                    FROM jsonb_to_record(${$(1)}::jsonb -> p.id::text)
                         AS r(a jsonb, i jsonb, m jsonb, v jsonb))
          WHERE ${BY_ID_IN_TENANT(`${$(0)}::uuid[]`)}`,
    params: [updated.map((u) => u.id), updatesById(updated), nowIso],
  };
}

/**
 * `{"<id>": {"a": …, "i": …, "m": …, "v": …}, …}` with only the fields an
 * update sets, written as text directly: an object keyed by 1,000 profile
 * ids is a dictionary-mode object V8 builds and then stringifies slowly,
 * and its wrappers are garbage the moment the text exists.
 */
function updatesById(updated: StoredUpdate[]): string {
  let out = '{';
  for (let n = 0; n < updated.length; n++) {
    const u = updated[n] as StoredUpdate;
    if (n > 0) out += ',';
    // Ids are UUIDs: nothing to escape.
    out += `"${u.id}":{`;
    let sep = '';
    if (u.attributes !== undefined) {
      out += `"a":${JSON.stringify(u.attributes)}`;
      sep = ',';
    }
    if (u.identityMap !== undefined) {
      out += `${sep}"i":${JSON.stringify(u.identityMap)}`;
      sep = ',';
    }
    if (u.memberships !== undefined) {
      out += `${sep}"m":${JSON.stringify(u.memberships)}`;
      sep = ',';
    }
    if (u.contentVersions !== undefined)
      out += `${sep}"v":${JSON.stringify(u.contentVersions)}`;
    out += '}';
  }
  return `${out}}`;
}

/** Absorbed (merged) profiles: their rows go; their change rows keep a snapshot. */
function absorbedProfilesDelete(
  ids: string[],
  first: number,
): { sql: string; params: unknown[] } {
  return {
    sql: `DELETE FROM profiles p
           WHERE ${BY_ID_IN_TENANT(`$${first}::uuid[]`)}`,
    params: [ids],
  };
}

/**
 * Identities that move to the surviving profile of a merge: an upsert finds
 * each row by primary key (UPDATE … FROM a record set was planned as a hash
 * of every identity of the tenant under cold statistics). The previous
 * owners are locked, so the rows exist.
 */
function identityMove(
  rows: IdentityRow[],
  first: number,
): { sql: string; params: unknown[] } {
  return identityRows(
    rows,
    first,
    `ON CONFLICT (org_id, sandbox_name, namespace, identity)
           DO UPDATE SET profile_id = EXCLUDED.profile_id`,
  );
}

/**
 * New identities as a plain INSERT: the lookup found none of them, so only a
 * concurrent batch can have claimed one since, and its unique violation
 * retries this batch (ON CONFLICT DO NOTHING would pay a speculative
 * insertion for every row to handle that rare race).
 */
function identityInsert(
  rows: IdentityRow[],
  first: number,
): { sql: string; params: unknown[] } {
  return identityRows(rows, first, '');
}

/** Identities that leave a full profile: by primary key. */
function identityDrop(
  keys: IdentityKey[],
  first: number,
): { sql: string; params: unknown[] } {
  const $ = (k: number): string => `$${first + k}`;
  return {
    sql: `DELETE FROM profile_identities
           WHERE (org_id, sandbox_name, namespace, identity) IN (
                   SELECT $1, $2, k.ns, k.id
                     FROM unnest(${$(0)}::text[], ${$(1)}::text[]) AS k(ns, id))`,
    params: [keys.map((k) => k.namespace), keys.map((k) => k.id)],
  };
}

function identityRows(
  rows: IdentityRow[],
  first: number,
  onConflict: string,
): { sql: string; params: unknown[] } {
  const $ = (k: number): string => `$${first + k}`;
  return {
    sql: `INSERT INTO profile_identities (org_id, sandbox_name, namespace, identity, profile_id)
         SELECT $1, $2, r.ns, r.id, r.p
           FROM unnest(${$(0)}::text[], ${$(1)}::text[], ${$(2)}::uuid[]) AS r(ns, id, p)
         ${onConflict}`,
    params: [
      rows.map((r) => r.ns),
      rows.map((r) => r.id),
      rows.map((r) => r.p),
    ],
  };
}

/** identity key → owning profile id, for the keys that exist. */
export async function lookupOwners(
  m: Queryable,
  tenant: TenantRef,
  keys: IdentityKey[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (keys.length === 0) return out;
  const rows = (await m.query(OWNER_LOOKUP, [
    tenant.orgId,
    tenant.sandboxName,
    keys.map((k) => k.namespace),
    keys.map((k) => k.id),
  ])) as { namespace: string; identity: string; profile_id: string }[];
  for (const r of rows) {
    out.set(
      identityKeyString({ namespace: r.namespace, id: r.identity }),
      r.profile_id,
    );
  }
  return out;
}

/**
 * When each of these identities was first seen (epoch ms), for the ones
 * that exist: the 50-identity guardrail drops the oldest first.
 */
export async function identityAges(
  m: Queryable,
  tenant: TenantRef,
  keys: IdentityKey[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (keys.length === 0) return out;
  const rows = (await m.query(
    `SELECT k.ns AS namespace, k.id AS identity,
            (extract(epoch FROM pi.first_seen_at) * 1000)::float8 AS ms
       FROM unnest($3::text[], $4::text[]) AS k(ns, id)
       JOIN profile_identities pi
         ON pi.org_id = $1 AND pi.sandbox_name = $2
        AND pi.namespace = k.ns AND pi.identity = k.id`,
    [
      tenant.orgId,
      tenant.sandboxName,
      keys.map((k) => k.namespace),
      keys.map((k) => k.id),
    ],
  )) as { namespace: string; identity: string; ms: number }[];
  for (const r of rows)
    out.set(
      identityKeyString({ namespace: r.namespace, id: r.identity }),
      r.ms,
    );
  return out;
}
