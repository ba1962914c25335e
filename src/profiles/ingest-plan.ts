import { TimeSlice } from '../memberships/time-slice.js';
import {
  type Evaluation,
  type SegmentRule,
  exitAll,
  membershipTransitionsSliced,
} from '../memberships/transitions.js';
import type { StoredMemberships } from '../memberships/stored-membership.js';
import type { ChangeRowInput } from '../profile-store/change-log.js';
import {
  type ContentVersions,
  bumpContentVersions,
} from '../profile-store/content-versions.js';
import type {
  BatchWrite,
  IdentityRow,
  StoredProfileRow,
  StoredUpdate,
} from '../profile-store/ingest-writes.js';
import {
  type IdentityKey,
  type IdentityMap,
  type JsonObject,
  identityKeyString,
  identityKeys,
} from '../profile-store/profile-data.js';
import {
  type NormalizedFragment,
  changedPaths,
  identityMapsEqual,
  leafPaths,
  mergeAttributes,
  unionIdentityMaps,
} from './profile-merge.js';

/**
 * Ingestion's rules for one batch, with no I/O: which stored profiles the
 * records land in, which merge (identity stitching), the memberships they
 * enter and leave, and every row to write. The service locks and loads what
 * this needs, then writes what it returns, in one transaction.
 */

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

/** A valid record of the batch, in request order. */
export interface BatchItem {
  index: number;
  line?: number;
  fragment: NormalizedFragment;
}

export interface BatchInput {
  items: BatchItem[];
  /** identity key (identityKeyString) → owning stored profile id. */
  owners: Map<string, string>;
  /** The owning profiles, locked. */
  loaded: StoredProfileRow[];
  /** The tenant's segments, evaluated on every profile the batch touches. */
  segments: SegmentRule<JsonObject>[];
  evaluation: Evaluation;
  /** A new profile's id (time-ordered). */
  newId: (ms: number) => string;
  /**
   * When stored identities were first seen (identityKeyString → epoch ms).
   * Needed only for a profile that goes past MAX_PROFILE_IDENTITIES: without
   * them the plan asks for them (`needAges`) instead.
   */
  identityAges?: Map<string, number>;
}

export interface BatchPlan {
  write: BatchWrite;
  /** One per item, in item order. */
  results: RecordResult[];
}

/** Adobe's identity-graph guardrail: identities one profile keeps. */
export const MAX_PROFILE_IDENTITIES = 50;

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
  contentVersions: ContentVersions;
  original: { attributes: JsonObject; identityMap: IdentityMap } | null;
  absorbedInto: string | null;
  firstTouch: number;
}

const UNTOUCHED = Number.MAX_SAFE_INTEGER;

const byCreation = (a: WorkProfile, b: WorkProfile): number =>
  a.createdAtMs - b.createdAtMs ||
  a.createdSeq - b.createdSeq ||
  (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Plans one batch. Asynchronous only to give the event loop a turn while
 * evaluating segments (TimeSlice); it does no I/O.
 */
export async function planBatch(
  input: BatchInput,
): Promise<BatchPlan | { needAges: IdentityKey[] }> {
  const merged = mergeRecords(input);
  const trimmed = trimFullProfiles(merged, input.identityAges);
  if ('needAges' in trimmed) return trimmed;
  return {
    write: await rowsToWrite(merged, trimmed.drops, input),
    results: merged.pending.map(({ result, target }) =>
      result.status === 'ok'
        ? { ...result, profileId: merged.survivorOf(target).id }
        : result,
    ),
  };
}

interface MergeOutcome {
  work: Map<string, WorkProfile>;
  /** Who owned each identity before the batch. */
  originalOwner: Map<string, string>;
  pending: { result: RecordResult; target: WorkProfile }[];
  survivorOf: (p: WorkProfile) => WorkProfile;
}

/**
 * Applies the records in order: each lands in the profile owning one of its
 * identities, or a new one; a record whose identities belong to several
 * profiles merges them into the oldest (attributes in last-update order).
 */
function mergeRecords(input: BatchInput): MergeOutcome {
  const nowMs = input.evaluation.now.getTime();
  const work = new Map<string, WorkProfile>();
  const originalOwner = new Map(input.owners);
  for (const row of input.loaded) {
    work.set(row.id, {
      id: row.id,
      isNew: false,
      createdAtMs: row.created_ms,
      createdSeq: 0,
      updatedOrder: row.updated_ms,
      attributes: row.attributes,
      identityMap: row.identity_map,
      memberships: row.memberships,
      contentVersions: row.content_versions,
      original: { attributes: row.attributes, identityMap: row.identity_map },
      absorbedInto: null,
      firstTouch: UNTOUCHED,
    });
    for (const k of identityKeys(row.identity_map)) {
      originalOwner.set(identityKeyString(k), row.id);
    }
  }

  const owner = new Map(input.owners);
  let seq = 0;
  const pending: MergeOutcome['pending'] = [];
  for (const item of input.items) {
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
        id: input.newId(nowMs),
        isNew: true,
        createdAtMs: nowMs,
        createdSeq: seq,
        updatedOrder: nowMs,
        attributes: {},
        identityMap: {},
        memberships: {},
        contentVersions: {},
        original: null,
        absorbedInto: null,
        firstTouch: seq,
      };
      work.set(target.id, target);
    } else {
      found.sort(byCreation);
      target = found[0] as WorkProfile;
      const full = found.find(
        (p) => identityCount(p.identityMap) >= MAX_PROFILE_IDENTITIES,
      );
      if (found.length > 1 && full) {
        // Stitching into a full graph would collapse unrelated people.
        pending.push({
          target,
          result: {
            index: item.index,
            ...(item.line === undefined ? {} : { line: item.line }),
            status: 'error',
            reason: `the record's identities belong to ${found.length} profiles and merging them is refused: profile ${full.id} already has ${MAX_PROFILE_IDENTITIES} identities, the most a profile keeps`,
          },
        });
        continue;
      }
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
  return { work, originalOwner, pending, survivorOf };
}

/**
 * The batch's rows: absorbed profiles leave every segment and are deleted
 * (their change row keeps a snapshot); survivors are evaluated against the
 * tenant's segments; the change log gets a row per profile that changed.
 */
async function rowsToWrite(
  merged: MergeOutcome,
  drops: IdentityKey[],
  input: BatchInput,
): Promise<BatchWrite> {
  const slice = new TimeSlice();
  const { work, survivorOf } = merged;
  const now = input.evaluation.now;
  const survivors = survivorsOf(merged);
  const absorbed = [...work.values()]
    .filter((p) => p.absorbedInto && !p.isNew)
    .sort((a, b) => a.firstTouch - b.firstTouch || byCreation(a, b));

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
    const t = await membershipTransitionsSliced(
      { ...p.attributes, identityMap: p.identityMap },
      input.segments,
      p.memberships,
      input.evaluation,
      slice,
    );
    const stored = p.contentVersions;
    p.contentVersions = bumpContentVersions(stored, {
      changedPaths: paths,
      identitiesChanged,
      segmentIds: t.changes.map((c) => c.segmentId),
    });
    const dataChanged = paths.length > 0 || identitiesChanged;
    if (p.isNew) {
      p.memberships = t.next;
      created.push(p);
    } else if (dataChanged || t.patch) {
      const u: StoredUpdate = { id: p.id };
      if (dataChanged) u.attributes = p.attributes;
      if (identitiesChanged) u.identityMap = p.identityMap;
      if (t.patch) u.memberships = t.patch;
      if (p.contentVersions !== stored) u.contentVersions = p.contentVersions;
      updated.push(u);
    }
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
  return {
    created,
    updated,
    absorbed: absorbed.map((p) => p.id),
    identities: {
      ...identityWrites(survivors, merged.originalOwner),
      drops,
    },
    changes,
    nowIso: input.evaluation.nowIso,
  };
}

/** Profiles the batch touched that still exist after it, in first-touch order. */
function survivorsOf(merged: MergeOutcome): WorkProfile[] {
  return [...merged.work.values()]
    .filter((p) => p.firstTouch !== UNTOUCHED && !p.absorbedInto)
    .sort((a, b) => a.firstTouch - b.firstTouch);
}

function identityCount(map: IdentityMap): number {
  let n = 0;
  for (const entries of Object.values(map)) n += entries.length;
  return n;
}

/**
 * The 50-identity guardrail: a profile past MAX_PROFILE_IDENTITIES keeps its
 * newest identities; the oldest (first seen earliest; this batch's in
 * identityMap order, newest of all) leave its identityMap (an identity
 * change, exported as such). Returns the stored identities to delete, or
 * the stored identities whose age it needs.
 */
function trimFullProfiles(
  merged: MergeOutcome,
  ages: Map<string, number> | undefined,
): { drops: IdentityKey[] } | { needAges: IdentityKey[] } {
  const drops: IdentityKey[] = [];
  const needAges: IdentityKey[] = [];
  for (const p of survivorsOf(merged)) {
    if (identityCount(p.identityMap) <= MAX_PROFILE_IDENTITIES) continue;
    const keys = identityKeys(p.identityMap).map((k, order) => {
      const s = identityKeyString(k);
      const stored = merged.originalOwner.has(s);
      const age = stored ? ages?.get(s) : Number.POSITIVE_INFINITY;
      if (age === undefined) needAges.push(k);
      return { k, s, stored, age: age ?? 0, order };
    });
    if (needAges.length) continue;
    keys.sort((a, b) => a.age - b.age || a.order - b.order);
    const gone = keys.slice(0, keys.length - MAX_PROFILE_IDENTITIES);
    const dropped = new Set(gone.map((g) => g.s));
    const kept: IdentityMap = {};
    for (const [ns, entries] of Object.entries(p.identityMap)) {
      const left = entries.filter(
        (e) => !dropped.has(identityKeyString({ namespace: ns, id: e.id })),
      );
      if (left.length) kept[ns] = left;
    }
    p.identityMap = kept;
    for (const g of gone) if (g.stored) drops.push(g.k);
  }
  return needAges.length ? { needAges } : { drops };
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
