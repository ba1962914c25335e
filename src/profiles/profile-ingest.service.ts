import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager, QueryFailedError } from 'typeorm';
import { DomainError, ErrorCode, validationFailed } from '../common/errors.js';
import type { StoredMemberships } from '../segments/membership-status.js';
import {
  exitAll,
  membershipTransitions,
} from '../segments/membership.service.js';
import { SegmentCatalog } from '../segments/segment-catalog.js';
import {
  type ChangeRowInput,
  type Queryable,
  type TenantRef,
  changeInsert,
} from './change-log.js';
import {
  FragmentError,
  type IdentityKey,
  type IdentityMap,
  type JsonObject,
  MAX_RECORD_BYTES,
  type NormalizedFragment,
  changedPaths,
  identityKeyString,
  identityKeys,
  identityMapsEqual,
  isPlainObject,
  leafPaths,
  mergeAttributes,
  normalizeFragment,
  unionIdentityMaps,
} from './profile-merge.js';
import { jsonLines } from './json-lines.js';
import { RetryableConflict, withTransaction } from './transaction.js';

/** Most fragments in one `{"profiles": [...]}` request. */
export const MAX_JSON_RECORDS = 1000;
/** Records per transaction when a request or file has more. */
export const DEFAULT_BATCH_SIZE = 1000;

/** A record as received: parsed value or a parse error, with its position. */
export interface RawRecord {
  index: number;
  /** 1-based NDJSON line, for bulk loads. */
  line?: number;
  value?: unknown;
  /** Serialized size when known (NDJSON line length). */
  bytes?: number;
  error?: string;
}

export interface RecordResult {
  index: number;
  line?: number;
  status: 'ok' | 'error';
  profileId?: string;
  created?: boolean;
  /** Profiles absorbed into `profileId` by this record (identity stitching). */
  mergedProfileIds?: string[];
  reason?: string;
}

export interface IngestResult {
  results: RecordResult[];
  accepted: number;
  rejected: number;
}

interface WorkProfile {
  id: string;
  isNew: boolean;
  /** Creation order: stored time, then in-batch sequence (0 for stored profiles). */
  createdAtMs: number;
  createdSeq: number;
  /** Last-update order; merge precedence (the most recently updated wins). */
  updatedOrder: number;
  attributes: JsonObject;
  identityMap: IdentityMap;
  /** Stored memberships ({} for a new profile). */
  memberships: StoredMemberships;
  original: { attributes: JsonObject; identityMap: IdentityMap } | null;
  absorbedInto: string | null;
  firstTouch: number;
}

interface StoredProfileRow {
  id: string;
  attributes: JsonObject;
  identity_map: IdentityMap;
  memberships: StoredMemberships;
  created_at: Date;
  updated_at: Date;
}

/** A stored profile to rewrite; `touched`: attributes or identities changed. */
interface StoredUpdate {
  profile: WorkProfile;
  touched: boolean;
}

const byCreation = (a: WorkProfile, b: WorkProfile): number =>
  a.createdAtMs - b.createdAtMs ||
  a.createdSeq - b.createdSeq ||
  (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Profile ingestion (CONTRACT A9): identity stitching, merge rules,
 * streaming segment evaluation and the change log, all set-based per batch
 * in one transaction. Usable without Nest (CLI, benchmark):
 * `new ProfileIngestService(ds, new SegmentCatalog())`.
 */
@Injectable()
export class ProfileIngestService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly catalog: SegmentCatalog,
  ) {}

  /** The HTTP body: `{"profiles": [...]}` (parsed JSON) or NDJSON text. */
  async ingestRequest(tenant: TenantRef, body: unknown): Promise<IngestResult> {
    return this.ingestRecords(tenant, parseIngestBody(body));
  }

  /** Validates and ingests records in batches; bad records never stop their neighbours. */
  async ingestRecords(
    tenant: TenantRef,
    records: RawRecord[],
    opts: { batchSize?: number; manager?: EntityManager } = {},
  ): Promise<IngestResult> {
    const results: RecordResult[] = [];
    const valid: {
      index: number;
      line?: number;
      fragment: NormalizedFragment;
    }[] = [];
    for (const r of records) {
      const base = r.line === undefined ? {} : { line: r.line };
      if (r.error !== undefined) {
        results.push({
          index: r.index,
          ...base,
          status: 'error',
          reason: r.error,
        });
        continue;
      }
      try {
        valid.push({
          index: r.index,
          ...base,
          fragment: normalizeFragment(r.value, r.bytes),
        });
      } catch (err) {
        if (!(err instanceof FragmentError)) throw err;
        results.push({
          index: r.index,
          ...base,
          status: 'error',
          reason: err.message,
        });
      }
    }
    const size = Math.max(1, opts.batchSize ?? DEFAULT_BATCH_SIZE);
    for (let i = 0; i < valid.length; i += size) {
      const batch = valid.slice(i, i + size);
      const done = await withTransaction(
        this.dataSource,
        (m) => this.ingestBatch(m, tenant, batch),
        opts.manager,
      );
      results.push(...done);
    }
    results.sort((a, b) => a.index - b.index);
    const accepted = results.filter((r) => r.status === 'ok').length;
    return { results, accepted, rejected: results.length - accepted };
  }

  /**
   * One batch in the caller's transaction. Concurrency: stored profiles are
   * locked FOR UPDATE (in id order) before they are read; a new identity
   * claimed concurrently by another batch (a unique violation) retries the batch.
   */
  async ingestBatch(
    m: Queryable,
    tenant: TenantRef,
    items: { index: number; line?: number; fragment: NormalizedFragment }[],
  ): Promise<RecordResult[]> {
    const now = new Date();
    const nowMs = now.getTime();
    const keys = distinctKeys(items.flatMap((i) => i.fragment.identities));
    const { owners, loaded } = await this.lockProfiles(m, tenant, keys);

    const work = new Map<string, WorkProfile>();
    const originalOwner = new Map(owners);
    for (const row of loaded) {
      work.set(row.id, {
        id: row.id,
        isNew: false,
        createdAtMs: row.created_at.getTime(),
        createdSeq: 0,
        updatedOrder: row.updated_at.getTime(),
        attributes: row.attributes,
        identityMap: row.identity_map,
        memberships: row.memberships,
        original: { attributes: row.attributes, identityMap: row.identity_map },
        absorbedInto: null,
        firstTouch: Number.MAX_SAFE_INTEGER,
      });
      for (const k of identityKeys(row.identity_map)) {
        originalOwner.set(identityKeyString(k), row.id);
      }
    }

    const owner = new Map(owners);
    let seq = 0;
    const pending: { result: RecordResult; target: WorkProfile }[] = [];
    for (const item of items) {
      // The distinct profiles owning the record's identities (usually none or one).
      const found: WorkProfile[] = [];
      for (const k of item.fragment.identities) {
        const id = owner.get(identityKeyString(k));
        if (id === undefined) continue;
        const p = work.get(id) as WorkProfile;
        if (!found.includes(p)) found.push(p);
      }
      let target: WorkProfile;
      const created = found.length === 0;
      const merged: string[] = [];
      seq++;
      if (created) {
        target = {
          id: timeOrderedUuid(nowMs),
          isNew: true,
          createdAtMs: nowMs,
          createdSeq: seq,
          updatedOrder: nowMs,
          attributes: {},
          identityMap: {},
          memberships: {},
          original: null,
          absorbedInto: null,
          firstTouch: seq,
        };
        work.set(target.id, target);
      } else {
        found.sort(byCreation);
        target = found[0] as WorkProfile;
        if (found.length > 1) {
          // Several profiles share this record's identities: the oldest
          // survives; attributes merge in last-update order (newest wins).
          const byUpdate = [...found].sort(
            (a, b) => a.updatedOrder - b.updatedOrder || byCreation(a, b),
          );
          let attributes: JsonObject = {};
          for (const p of byUpdate)
            attributes = mergeAttributes(attributes, p.attributes);
          let identityMap = target.identityMap;
          for (const p of found.slice(1)) {
            identityMap = unionIdentityMaps(identityMap, p.identityMap);
            p.absorbedInto = target.id;
            merged.push(p.id);
            for (const k of identityKeys(p.identityMap)) {
              owner.set(identityKeyString(k), target.id);
            }
          }
          target.attributes = attributes;
          target.identityMap = identityMap;
        }
      }
      target.attributes = mergeAttributes(
        target.attributes,
        item.fragment.attributes,
      );
      target.identityMap = unionIdentityMaps(
        target.identityMap,
        item.fragment.identityMap,
      );
      for (const k of item.fragment.identities)
        owner.set(identityKeyString(k), target.id);
      target.updatedOrder = nowMs + seq;
      target.firstTouch = Math.min(target.firstTouch, seq);
      pending.push({
        target,
        result: {
          index: item.index,
          ...(item.line === undefined ? {} : { line: item.line }),
          status: 'ok',
          profileId: target.id,
          created,
          ...(merged.length ? { mergedProfileIds: merged } : {}),
        },
      });
    }

    const survivorOf = (p: WorkProfile): WorkProfile => {
      let cur = p;
      while (cur.absorbedInto) cur = work.get(cur.absorbedInto) as WorkProfile;
      return cur;
    };
    const touched = [...work.values()].filter(
      (p) => p.firstTouch !== Number.MAX_SAFE_INTEGER,
    );
    const survivors = touched
      .filter((p) => !p.absorbedInto)
      .sort((a, b) => a.firstTouch - b.firstTouch);
    const absorbed = [...work.values()]
      .filter((p) => p.absorbedInto && !p.isNew)
      .sort((a, b) => a.firstTouch - b.firstTouch || byCreation(a, b));

    const segments = await this.catalog.forTenant(m, tenant);
    const nowIso = now.toISOString();
    // Stamps the `realized` memberships this batch sets: an export whose
    // position passes this transaction has seen them (StoredMembership).
    const [{ tx } = { tx: '0' }] = (await m.query(
      'SELECT pg_current_xact_id()::text AS tx',
    )) as { tx: string }[];

    const changes: ChangeRowInput[] = [];
    for (const p of absorbed) {
      const original = p.original as WorkProfile['original'] & object;
      changes.push({
        profileId: p.id,
        changedAt: now,
        changedPaths: leafPaths(original.attributes),
        identitiesChanged: true,
        membershipChanges: exitAll(p.memberships),
        deleted: true,
        snapshot: {
          attributes: original.attributes,
          identityMap: original.identityMap,
          mergedInto: survivorOf(p).id,
        },
      });
    }
    const created: WorkProfile[] = [];
    const updated: StoredUpdate[] = [];
    for (const p of survivors) {
      const paths = p.original
        ? changedPaths(p.original.attributes, p.attributes)
        : leafPaths(p.attributes);
      const identitiesChanged = p.original
        ? !identityMapsEqual(p.original.identityMap, p.identityMap)
        : true;
      const t = membershipTransitions(
        { ...p.attributes, identityMap: p.identityMap },
        segments,
        p.memberships,
        now,
        nowIso,
        tx,
      );
      p.memberships = t.next;
      const dataChanged = paths.length > 0 || identitiesChanged;
      if (p.isNew) created.push(p);
      else if (dataChanged || t.patch)
        updated.push({ profile: p, touched: dataChanged });
      changes.push({
        profileId: p.id,
        changedAt: now,
        changedPaths: paths,
        identitiesChanged,
        membershipChanges: t.changes,
        deleted: false,
        snapshot: null,
      });
    }

    await this.writeBatch(m, tenant, {
      created,
      updated,
      absorbed: absorbed.map((p) => p.id),
      identities: identityWrites(survivors, originalOwner),
      changes,
      nowIso,
    });
    return pending.map(({ result, target }) => ({
      ...result,
      profileId: survivorOf(target).id,
    }));
  }

  /**
   * Finds and locks the stored profiles owning `keys`. Re-reads the identity
   * graph after locking, because a concurrent merge may have moved an
   * identity to another profile while we waited.
   */
  private async lockProfiles(
    m: Queryable,
    tenant: TenantRef,
    keys: IdentityKey[],
  ): Promise<{ owners: Map<string, string>; loaded: StoredProfileRow[] }> {
    let owners = await lookupOwners(m, tenant, keys);
    const loaded = new Map<string, StoredProfileRow>();
    for (let round = 0; round < 20; round++) {
      const missing = [...new Set(owners.values())].filter(
        (id) => !loaded.has(id),
      );
      if (missing.length) {
        const rows = (await m.query(
          `SELECT id, attributes, identity_map, memberships, created_at, updated_at
             FROM profiles
            WHERE org_id = $1 AND sandbox_name = $2 AND id = ANY($3::uuid[])
            ORDER BY id
              FOR UPDATE`,
          [tenant.orgId, tenant.sandboxName, missing],
        )) as StoredProfileRow[];
        for (const r of rows) loaded.set(r.id, r);
      }
      // Nothing was locked (so nothing waited): the lookup is still current.
      if (missing.length === 0 && round === 0) return { owners, loaded: [] };
      const again = await lookupOwners(m, tenant, keys);
      const stable =
        again.size === owners.size &&
        [...again].every(([k, id]) => owners.get(k) === id && loaded.has(id));
      owners = again;
      if (stable) {
        const live = new Set(owners.values());
        return {
          owners,
          loaded: [...loaded.values()].filter((r) => live.has(r.id)),
        };
      }
    }
    throw new RetryableConflict('identity graph kept changing while locking');
  }

  /**
   * All of a batch's writes as one statement of data-modifying CTEs: one
   * round trip, so PostgreSQL does not wait for Node between them (with a
   * statement per table it sat idle while Node worked on another batch).
   * PostgreSQL runs each part exactly once; no two parts touch the same row
   * (new and stored profiles, absorbed ones; unowned and moved identities).
   */
  private async writeBatch(
    m: Queryable,
    tenant: TenantRef,
    batch: {
      created: WorkProfile[];
      updated: StoredUpdate[];
      absorbed: string[];
      identities: { inserts: IdentityRow[]; moves: IdentityRow[] };
      changes: ChangeRowInput[];
      nowIso: string;
    },
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
      if (isUniqueViolation(err)) {
        throw new RetryableConflict('a new identity was claimed concurrently');
      }
      throw err;
    }
  }
}

/**
 * A UUIDv7 (RFC 9562): the 48-bit millisecond time, then random bits. New
 * profiles then append at the right edge of the profile-keyed indexes
 * (the profiles primary key and tenant index) instead of dirtying a random
 * leaf page each. Built on randomUUID's buffered entropy: the `uuid` package's
 * v7 asks the OS for random bytes on every call, ~10 µs each here.
 */
export function timeOrderedUuid(ms: number): string {
  const t = ms.toString(16).padStart(12, '0');
  const r = randomUUID();
  return `${t.slice(0, 8)}-${t.slice(8)}-7${r.slice(15)}`;
}

interface IdentityRow {
  ns: string;
  id: string;
  p: string;
}

/** Identities to insert (nobody owned them) and to move (another profile did). */
function identityWrites(
  survivors: WorkProfile[],
  originalOwner: Map<string, string>,
): { inserts: IdentityRow[]; moves: IdentityRow[] } {
  const inserts: IdentityRow[] = [];
  const moves: IdentityRow[] = [];
  for (const p of survivors) {
    for (const k of identityKeys(p.identityMap)) {
      const before = originalOwner.get(identityKeyString(k));
      if (before === p.id) continue;
      (before === undefined ? inserts : moves).push({
        ns: k.namespace,
        id: k.id,
        p: p.id,
      });
    }
  }
  // Sorted so concurrent batches take index locks in the same order.
  inserts.sort((a, b) =>
    a.ns === b.ns ? (a.id < b.id ? -1 : 1) : a.ns < b.ns ? -1 : 1,
  );
  return { inserts, moves };
}

/** New profile rows as SQL: `$1`/`$2` the tenant, its parameters from `$first`. */
function newProfilesInsert(
  created: WorkProfile[],
  nowIso: string,
  first: number,
): { sql: string; params: string[] } {
  const $ = (k: number): string => `$${first + k}`;
  return {
    sql: `INSERT INTO profiles (id, org_id, sandbox_name, attributes, identity_map, memberships, created_at, updated_at)
         SELECT r.id, $1, $2, r.a::jsonb, r.i::jsonb, r.m::jsonb, ${$(4)}::timestamptz, ${$(4)}::timestamptz
           FROM unnest(string_to_array(${$(0)}, ',')::uuid[], string_to_array(${$(1)}, E'\\n'),
                       string_to_array(${$(2)}, E'\\n'), string_to_array(${$(3)}, E'\\n')) AS r(id, a, i, m)`,
    params: [
      created.map((p) => p.id).join(','),
      jsonLines(created.map((p) => p.attributes)),
      jsonLines(created.map((p) => p.identityMap)),
      jsonLines(created.map((p) => p.memberships)),
      nowIso,
    ],
  };
}

/**
 * Stored (locked) profiles rewritten by primary key: `id = ANY` probes it
 * whatever the statistics say (an UPDATE … FROM a record set was planned as
 * a scan of every profile on a freshly loaded table); each row picks its
 * values by id. `updated_at` (merge precedence) moves only when attributes
 * or identities changed.
 */
function storedProfilesUpdate(
  updated: StoredUpdate[],
  nowIso: string,
  first: number,
): { sql: string; params: unknown[] } {
  const byId: Record<string, unknown> = {};
  for (const { profile: p, touched } of updated) {
    byId[p.id] = touched
      ? { a: p.attributes, i: p.identityMap, m: p.memberships, u: true }
      : { m: p.memberships, u: false };
  }
  const $ = (k: number): string => `$${first + k}`;
  return {
    sql: `UPDATE profiles p
            SET (attributes, identity_map, memberships, updated_at) = (
                  SELECT COALESCE(r.a, p.attributes), COALESCE(r.i, p.identity_map), r.m,
                         CASE WHEN r.u THEN ${$(2)}::timestamptz ELSE p.updated_at END
                    FROM jsonb_to_record(${$(1)}::jsonb -> p.id::text)
                         AS r(a jsonb, i jsonb, m jsonb, u boolean))
          WHERE p.org_id = $1 AND p.sandbox_name = $2 AND p.id = ANY(${$(0)}::uuid[])`,
    params: [Object.keys(byId), JSON.stringify(byId), nowIso],
  };
}

/** Absorbed (merged) profiles: their rows go; their change rows keep a snapshot. */
function absorbedProfilesDelete(
  ids: string[],
  first: number,
): { sql: string; params: unknown[] } {
  return {
    sql: `DELETE FROM profiles
           WHERE org_id = $1 AND sandbox_name = $2 AND id = ANY($${first}::uuid[])`,
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

function isUniqueViolation(err: unknown): boolean {
  return (
    err instanceof QueryFailedError &&
    (err.driverError as { code?: string } | undefined)?.code === '23505'
  );
}

function distinctKeys(keys: IdentityKey[]): IdentityKey[] {
  const seen = new Map<string, IdentityKey>();
  for (const k of keys) seen.set(identityKeyString(k), k);
  return [...seen.values()];
}

/** identity key → owning profile id, for the keys that exist. */
export async function lookupOwners(
  m: Queryable,
  tenant: TenantRef,
  keys: IdentityKey[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (keys.length === 0) return out;
  // One primary-key probe per key (LATERAL … LIMIT 1 is not flattened into
  // a join): with the cold statistics of a freshly loaded table the planner
  // otherwise hashes every identity of the tenant, a cost that grows with
  // the store instead of the batch.
  const rows = (await m.query(
    `SELECT k.ns AS namespace, k.id AS identity, pi.profile_id
       FROM unnest($3::text[], $4::text[]) AS k(ns, id)
       JOIN LATERAL (
              SELECT profile_id FROM profile_identities
               WHERE org_id = $1 AND sandbox_name = $2
                 AND namespace = k.ns AND identity = k.id
               LIMIT 1) pi ON true`,
    [
      tenant.orgId,
      tenant.sandboxName,
      keys.map((k) => k.namespace),
      keys.map((k) => k.id),
    ],
  )) as { namespace: string; identity: string; profile_id: string }[];
  for (const r of rows) {
    out.set(
      identityKeyString({ namespace: r.namespace, id: r.identity }),
      r.profile_id,
    );
  }
  return out;
}

/**
 * Splits an ingestion body into records. JSON: exactly `{"profiles": [..]}`
 * with 1..1000 entries (anything else is a 400 for the whole request).
 * NDJSON: one record per non-blank line; a line that is not JSON or is over
 * the size limit becomes a rejected record, not a failed request.
 */
export function parseIngestBody(body: unknown): RawRecord[] {
  if (typeof body === 'string') return parseNdjson(body);
  if (body === undefined || body === null || body === '') {
    throw new DomainError(
      ErrorCode.BodyEmpty,
      'The request body cannot be null or empty.',
    );
  }
  if (!isPlainObject(body)) {
    throw validationFailed(
      'Invalid request: the body must be {"profiles": [...]}',
      [{ path: '', message: 'must be an object with a profiles array' }],
    );
  }
  const extra = Object.keys(body).filter((k) => k !== 'profiles');
  if (extra.length) {
    throw validationFailed(
      `Invalid request: property ${extra[0]} should not exist`,
      [
        {
          path: extra[0] as string,
          message: `property ${extra[0]} should not exist`,
        },
      ],
    );
  }
  const profiles = body.profiles;
  if (!Array.isArray(profiles)) {
    throw validationFailed('Invalid request: profiles must be an array', [
      { path: 'profiles', message: 'profiles must be an array' },
    ]);
  }
  if (profiles.length === 0 || profiles.length > MAX_JSON_RECORDS) {
    throw validationFailed(
      `Invalid request: profiles must contain between 1 and ${MAX_JSON_RECORDS} records (use application/x-ndjson for bulk loads)`,
      [
        {
          path: 'profiles',
          message: `must contain 1 to ${MAX_JSON_RECORDS} records`,
        },
      ],
    );
  }
  return profiles.map((value: unknown, index) => ({ index, value }));
}

export function parseNdjson(text: string): RawRecord[] {
  const out: RawRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    if (line.trim() === '') continue;
    out.push(parseNdjsonLine(line, out.length, i + 1));
  }
  if (out.length === 0) {
    throw new DomainError(
      ErrorCode.BodyEmpty,
      'The request body cannot be null or empty.',
    );
  }
  return out;
}

/** One NDJSON line as a record (used by the HTTP endpoint and the CLI). */
export function parseNdjsonLine(
  line: string,
  index: number,
  lineNo: number,
): RawRecord {
  const bytes = Buffer.byteLength(line, 'utf8');
  if (bytes > MAX_RECORD_BYTES) {
    return {
      index,
      line: lineNo,
      error: `the record is ${bytes} bytes, more than the limit of ${MAX_RECORD_BYTES}`,
    };
  }
  try {
    return { index, line: lineNo, value: JSON.parse(line) as unknown, bytes };
  } catch (err) {
    return {
      index,
      line: lineNo,
      error: `line ${lineNo} is not valid JSON: ${err instanceof Error ? err.message : 'parse error'}`,
    };
  }
}
