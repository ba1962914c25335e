import type { ProfileChange } from '../profile-store/change-log.js';
import type { ProfileState } from '../profile-store/profile-state.js';

/**
 * What a flow maps (segments and attribute paths) and the pure rules that
 * decide whether a profile change is exported (CONTRACT A8) and what the
 * message looks like. No I/O here, so these rules are unit-tested directly.
 */
export interface FlowMapping {
  segmentIds: string[];
  attributePaths: string[];
  /** Profiles lacking any of these are not exported (Adobe's mandatoryFields). */
  mandatoryFields: string[];
  /** Consent paths of the flow's targets (consent.ts): a change to one triggers `consent`. */
  consentPaths?: string[];
}

interface SelectorJson {
  type?: string;
  value?: { id?: string; path?: string };
}

interface TransformationJson {
  params?: {
    profileSelectors?: {
      selectors?: SelectorJson[];
      mandatoryFields?: string[];
    };
    segmentSelectors?: { selectors?: SelectorJson[] };
  };
}

export function mappingOf(transformations: unknown): FlowMapping {
  const ts = (
    Array.isArray(transformations) ? transformations : []
  ) as TransformationJson[];
  const segmentIds = new Set<string>();
  const attributePaths = new Set<string>();
  const mandatoryFields = new Set<string>();
  for (const t of ts) {
    for (const s of t.params?.segmentSelectors?.selectors ?? []) {
      if (s.type === 'PLATFORM_SEGMENT' && s.value?.id)
        segmentIds.add(s.value.id);
    }
    for (const s of t.params?.profileSelectors?.selectors ?? []) {
      if (s.type === 'JSON_PATH' && s.value?.path)
        attributePaths.add(s.value.path);
    }
    for (const f of t.params?.profileSelectors?.mandatoryFields ?? [])
      mandatoryFields.add(f);
  }
  // Selector order is kept: it is the order of keys in the exported message.
  return {
    segmentIds: [...segmentIds],
    attributePaths: [...attributePaths],
    mandatoryFields: [...mandatoryFields],
  };
}

/** A changed leaf path touches a mapped path when one is a prefix of the other. */
export function pathTouches(changed: string, mapped: string): boolean {
  if (changed.length === mapped.length) return changed === mapped;
  // Compared in place, no `${path}.` strings: this runs for every changed ×
  // mapped path of a batch.
  return changed.length > mapped.length
    ? changed.charCodeAt(mapped.length) === DOT && changed.startsWith(mapped)
    : mapped.charCodeAt(changed.length) === DOT && mapped.startsWith(changed);
}

const DOT = 46;

export type Trigger = 'segment' | 'identity' | 'attribute' | 'consent';

/** Which of the three export triggers a change fires for a flow (none → not relevant). */
export function triggersOf(
  change: ProfileChange,
  mapping: FlowMapping,
): Trigger[] {
  const out: Trigger[] = [];
  if (
    change.membershipChanges.some((m) =>
      mapping.segmentIds.includes(m.segmentId),
    )
  )
    out.push('segment');
  if (change.identitiesChanged) out.push('identity');
  if (
    change.changedPaths.some((p) =>
      mapping.attributePaths.some((m) => pathTouches(p, m)),
    )
  )
    out.push('attribute');
  const consent = mapping.consentPaths;
  if (
    consent?.length &&
    change.changedPaths.some((p) => consent.some((m) => pathTouches(p, m)))
  )
    out.push('consent');
  return out;
}

/**
 * A profile is exported only if, after the change, it is a member of a mapped
 * segment or has just exited one (CONTRACT A8), and has every mandatory field.
 */
export function isEligible(
  state: ProfileState,
  mapping: FlowMapping,
  justExited: ReadonlySet<string>,
): boolean {
  const member = mapping.segmentIds.some((id) => {
    const m = state.memberships[id];
    return m !== undefined && (m.status !== 'exited' || justExited.has(id));
  });
  if (!member) return false;
  return mapping.mandatoryFields.every(
    (p) => valueAt(state.attributes, p) !== undefined,
  );
}

/** Mandatory fields the profile lacks (why an otherwise eligible profile is excluded). */
export function missingMandatory(
  state: ProfileState,
  mapping: FlowMapping,
): string[] {
  return mapping.mandatoryFields.filter(
    (p) => valueAt(state.attributes, p) === undefined,
  );
}

/** Mapped paths are few and fixed per flow: split each once, not per profile. */
const splitPaths = new Map<string, string[]>();
function keysOf(path: string): string[] {
  let keys = splitPaths.get(path);
  if (!keys) {
    if (splitPaths.size > 10_000) splitPaths.clear();
    keys = path.split('.');
    splitPaths.set(path, keys);
  }
  return keys;
}

export function valueAt(doc: Record<string, unknown>, path: string): unknown {
  let cur: unknown = doc;
  for (const key of keysOf(path)) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur))
      return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur === null ? undefined : cur;
}

function setAt(
  doc: Record<string, unknown>,
  path: string,
  value: unknown,
): void {
  const keys = keysOf(path);
  let cur = doc;
  const last = keys.length - 1;
  for (let i = 0; i < last; i++) {
    const key = keys[i] as string;
    const next = cur[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next))
      cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[keys[last] as string] = value;
}

export interface SegmentInfo {
  name: string;
  createdAt: number;
  updatedAt: number;
}

export interface PayloadOptions {
  includeSegmentNames: boolean;
  includeSegmentTimestamps: boolean;
  segments: Map<string, SegmentInfo>;
  mappingCreatedAt: number;
  mappingUpdatedAt: number;
}

const UTC_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** ISO-8601 UTC without milliseconds, as in the product page's example. */
export function isoSeconds(iso: string): string {
  // Already in the message's form (the runner's reader formats it so).
  if (iso.length === 20 && iso[10] === 'T' && iso[19] === 'Z') return iso;
  // The store already writes UTC with a `Z`: cut the fraction without a Date.
  if (UTC_ISO.test(iso)) return `${iso.slice(0, 19)}Z`;
  return `${new Date(iso).toISOString().slice(0, 19)}Z`;
}

/**
 * The exported message (product page "Exported data"): mapped attributes nested
 * by path (only those with values), `segmentMembership.ups` for mapped segments
 * the profile has a status in, and the whole identityMap as `{ns: [{id}]}`.
 */
export function buildPayload(
  state: ProfileState,
  mapping: FlowMapping,
  opts: PayloadOptions,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const path of mapping.attributePaths) {
    const v = valueAt(state.attributes, path);
    // Values come from freshly parsed JSON and are not mutated: no copy needed.
    if (v !== undefined) setAt(body, path, v);
  }
  const ups: Record<string, Record<string, unknown>> = {};
  for (const id of mapping.segmentIds) {
    const m = state.memberships[id];
    if (!m) continue;
    const entry: Record<string, unknown> = {
      lastQualificationTime: isoSeconds(m.lastQualificationTime),
      status: m.status,
    };
    const info = opts.segments.get(id);
    if (opts.includeSegmentNames && info) entry.name = info.name;
    if (opts.includeSegmentTimestamps) {
      if (info) {
        entry.createdAt = info.createdAt;
        entry.updatedAt = info.updatedAt;
      }
      entry.mappingCreatedAt = opts.mappingCreatedAt;
      entry.mappingUpdatedAt = opts.mappingUpdatedAt;
    }
    ups[id] = entry;
  }
  body.segmentMembership = { ups };
  body.identityMap = exportedIdentityMap(state.identityMap);
  return body;
}

/** Only `id` of each identity is exported, as on the product page. */
export function exportedIdentityMap(
  identityMap: Record<string, unknown>,
): Record<string, { id: string }[]> {
  const out: Record<string, { id: string }[]> = {};
  for (const [ns, ids] of Object.entries(identityMap)) {
    if (!Array.isArray(ids)) continue;
    out[ns] = ids
      .map((i) =>
        i && typeof i === 'object' ? (i as { id?: unknown }).id : undefined,
      )
      .filter(
        (id): id is string | number =>
          typeof id === 'string' || typeof id === 'number',
      )
      .map((id) => ({ id: String(id) }));
  }
  return out;
}
