/**
 * Pure functions behind ingestion: fragment validation, the merge rules and
 * the change detection that feeds the change log. No I/O here so the rules
 * are unit-testable and shared by the API, the CLI and the benchmark.
 * The rules are documented with examples in docs/profiles.md.
 */

import {
  type AuthenticatedState,
  type IdentityEntry,
  type IdentityKey,
  type IdentityMap,
  type JsonObject,
  identityKeys,
} from '../profile-store/profile-data.js';

export interface NormalizedFragment {
  attributes: JsonObject;
  identityMap: IdentityMap;
  /** Distinct identities of the fragment, in identityMap order. */
  identities: IdentityKey[];
}

/** Largest accepted fragment (serialized JSON, bytes). */
export const MAX_RECORD_BYTES = 64 * 1024;
/** Adobe's guardrails: identities in one record, and an identity value's length. */
export const MAX_IDENTITIES_PER_RECORD = 20;
export const MAX_IDENTITY_LENGTH = 1024;
export const MAX_DEPTH = 32;
const MAX_KEY_LENGTH = 256;
const NAMESPACE = /^[a-z][a-z0-9_.-]{0,63}$/;
const AUTH_STATES: readonly string[] = [
  'ambiguous',
  'authenticated',
  'loggedOut',
];
/** Attributes the system owns; a fragment may not write them. */
const RESERVED_KEYS = new Set(['segmentMembership']);
/**
 * Placeholder values clients send when they have no identifier: as
 * identities they would stitch every such record into one profile.
 */
const RESERVED_IDENTITY_VALUES = new Set(['null', 'anonymous', 'invalid']);

/** A record that cannot be ingested; `message` is the reason reported for it. */
export class FragmentError extends Error {
  override readonly name = 'FragmentError';
}

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates one ingested record and splits it into attributes and identities. */
export function normalizeFragment(
  raw: unknown,
  byteSize?: number,
): NormalizedFragment {
  if (!isPlainObject(raw)) {
    throw new FragmentError('the record must be a JSON object');
  }
  const size = byteSize ?? Buffer.byteLength(JSON.stringify(raw), 'utf8');
  if (size > MAX_RECORD_BYTES) {
    throw new FragmentError(
      `the record is ${size} bytes, more than the limit of ${MAX_RECORD_BYTES}`,
    );
  }
  const { identityMap: rawMap, ...attributes } = raw;
  const identityMap = normalizeIdentityMap(rawMap);
  const identities = identityKeys(identityMap);
  if (identities.length === 0) {
    throw new FragmentError('identityMap must contain at least one identity');
  }
  if (identities.length > MAX_IDENTITIES_PER_RECORD) {
    throw new FragmentError(
      `identityMap has ${identities.length} identities, more than the limit of ${MAX_IDENTITIES_PER_RECORD}`,
    );
  }
  for (const key of Object.keys(attributes)) {
    if (RESERVED_KEYS.has(key)) {
      throw new FragmentError(`${key} is system-populated and cannot be set`);
    }
  }
  checkAttributes(attributes, '', 1);
  return { attributes, identityMap, identities };
}

function normalizeIdentityMap(raw: unknown): IdentityMap {
  if (raw === undefined || raw === null) {
    throw new FragmentError('identityMap is required');
  }
  if (!isPlainObject(raw)) {
    throw new FragmentError('identityMap must be an object');
  }
  const out: IdentityMap = {};
  for (const [rawNs, entries] of Object.entries(raw)) {
    // Namespaces are case-insensitive (ECID = ecid); we store them lower-cased.
    const ns = rawNs.toLowerCase();
    if (!NAMESPACE.test(ns)) {
      throw new FragmentError(
        `identityMap namespace "${rawNs.slice(0, 80)}" is not a valid namespace code`,
      );
    }
    if (!Array.isArray(entries)) {
      throw new FragmentError(`identityMap.${rawNs} must be an array`);
    }
    const list = out[ns] ?? [];
    entries.forEach((entry: unknown, i) => {
      list.push(normalizeIdentity(entry, `identityMap.${rawNs}[${i}]`));
    });
    out[ns] = dedupeIdentities(list);
  }
  for (const ns of Object.keys(out)) {
    if (out[ns]?.length === 0) delete out[ns];
  }
  return out;
}

function normalizeIdentity(entry: unknown, where: string): IdentityEntry {
  if (!isPlainObject(entry)) {
    throw new FragmentError(`${where} must be an object with an id`);
  }
  for (const key of Object.keys(entry)) {
    if (!['id', 'primary', 'authenticatedState'].includes(key)) {
      throw new FragmentError(`${where}.${key} is not an identity field`);
    }
  }
  const { id, primary, authenticatedState } = entry;
  if (typeof id !== 'string' || id.trim().length === 0) {
    throw new FragmentError(`${where}.id must be a non-empty string`);
  }
  if (!isStorable(id)) throw unstorable(`${where}.id`);
  if (RESERVED_IDENTITY_VALUES.has(id.trim().toLowerCase())) {
    throw new FragmentError(
      `${where}.id "${id.slice(0, 80)}" is not an identity (null, anonymous and invalid are placeholders, never identifiers)`,
    );
  }
  if (id.length > MAX_IDENTITY_LENGTH) {
    throw new FragmentError(
      `${where}.id is longer than ${MAX_IDENTITY_LENGTH} characters`,
    );
  }
  const out: IdentityEntry = { id };
  if (primary !== undefined) {
    if (typeof primary !== 'boolean') {
      throw new FragmentError(`${where}.primary must be a boolean`);
    }
    out.primary = primary;
  }
  if (authenticatedState !== undefined) {
    if (
      typeof authenticatedState !== 'string' ||
      !AUTH_STATES.includes(authenticatedState)
    ) {
      throw new FragmentError(
        `${where}.authenticatedState must be one of ${AUTH_STATES.join(', ')}`,
      );
    }
    out.authenticatedState = authenticatedState as AuthenticatedState;
  }
  return out;
}

/** One entry per id; a later entry's flags win. */
function dedupeIdentities(list: IdentityEntry[]): IdentityEntry[] {
  const byId = new Map<string, IdentityEntry>();
  for (const e of list) {
    const prev = byId.get(e.id);
    byId.set(e.id, prev ? { ...prev, ...e } : { ...e });
  }
  return [...byId.values()];
}

/** A lone UTF-16 surrogate: valid in a JS string, not in PostgreSQL's text or jsonb. */
const LONE_SURROGATE =
  /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Text PostgreSQL can store: no U+0000 (jsonb and text reject it) and no
 * lone surrogate. Checked per record, so such a value rejects its record
 * with a reason instead of failing the whole batch.
 */
function isStorable(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

function unstorable(where: string): FragmentError {
  return new FragmentError(
    `${where} contains a character that cannot be stored (U+0000 or an unpaired UTF-16 surrogate)`,
  );
}

function checkAttributes(value: unknown, path: string, depth: number): void {
  if (typeof value === 'string') {
    if (!isStorable(value)) throw unstorable(path || 'the record');
    return;
  }
  if (depth > MAX_DEPTH) {
    throw new FragmentError(
      `${path || 'the record'} is nested deeper than ${MAX_DEPTH} levels`,
    );
  }
  if (Array.isArray(value)) {
    for (const item of value) checkAttributes(item, path, depth + 1);
    return;
  }
  if (!isPlainObject(value)) return;
  // for…in, not Object.entries: no [key, value] array per attribute (this
  // runs over every attribute of every ingested record).
  for (const key in value) {
    const child = value[key];
    // Dotted keys would make change-log paths ambiguous; __proto__ would
    // poison the merged object.
    if (
      key.length === 0 ||
      key.length > MAX_KEY_LENGTH ||
      key.includes('.') ||
      key === '__proto__'
    ) {
      throw new FragmentError(
        `attribute name "${key.slice(0, 80)}"${path ? ` in ${path}` : ''} is not allowed (empty, too long, contains "." or is __proto__)`,
      );
    }
    if (!isStorable(key))
      throw unstorable(`an attribute name${path ? ` in ${path}` : ''}`);
    checkAttributes(child, path ? `${path}.${key}` : key, depth + 1);
  }
}

/**
 * Deep merge of a fragment into stored attributes: objects merge key by key,
 * scalars and arrays replace, `null` removes the field, and an object left
 * empty is removed so stored profiles never carry empty shells.
 */
export function mergeAttributes(
  base: JsonObject,
  patch: JsonObject,
): JsonObject {
  // Into nothing (a new profile, a new sub-object): the patch itself, unless
  // it holds a null or an empty object to drop. Fragments are never mutated,
  // so sharing them is safe, and the common case copies nothing.
  if (isEmpty(base) && isClean(patch)) return patch;
  const out: JsonObject = { ...base };
  for (const key in patch) {
    const value = patch[key];
    if (value === null || value === undefined) {
      delete out[key];
    } else if (isPlainObject(value)) {
      const current = out[key];
      const merged = mergeAttributes(
        isPlainObject(current) ? current : {},
        value,
      );
      if (Object.keys(merged).length === 0) delete out[key];
      else out[key] = merged;
    } else {
      out[key] = value;
    }
  }
  return out;
}

function isEmpty(o: JsonObject): boolean {
  for (const _ in o) return false;
  return true;
}

/** No null or undefined value and no empty object anywhere under `o` (arrays are values). */
function isClean(o: JsonObject): boolean {
  let any = false;
  for (const key in o) {
    any = true;
    const v = o[key];
    if (v === null || v === undefined) return false;
    if (isPlainObject(v) && !isClean(v)) return false;
  }
  return any;
}

/** Union of identity maps; for an id already present, flags given in `add` win. */
export function unionIdentityMaps(
  base: IdentityMap,
  add: IdentityMap,
): IdentityMap {
  // Into nothing (a new profile): `add` is a normalized, de-duplicated map
  // that is never mutated, so it is the union as it is.
  if (isEmpty(base)) return add;
  // An update usually brings identities the profile has, with the same
  // flags: the union is `base` itself.
  if (holdsAll(base, add)) return base;
  const out: IdentityMap = {};
  for (const [ns, entries] of Object.entries(base)) {
    out[ns] = entries.map((e) => ({ ...e }));
  }
  for (const [ns, entries] of Object.entries(add)) {
    out[ns] = dedupeIdentities([...(out[ns] ?? []), ...entries]);
  }
  return out;
}

/** Every entry of `add` is in `base` under the same namespace key, with the same flags. */
function holdsAll(base: IdentityMap, add: IdentityMap): boolean {
  for (const ns in add) {
    const have = base[ns];
    if (!have) return false;
    for (const e of add[ns] ?? []) {
      const h = have.find((x) => x.id === e.id);
      if (!h) return false;
      for (const k in e)
        if (h[k as keyof IdentityEntry] !== e[k as keyof IdentityEntry])
          return false;
    }
  }
  return true;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return (
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((v, i) => deepEqual(v, b[i]))
    );
  }
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Dotted paths of every leaf (scalar or array) under `value`. */
export function leafPaths(value: unknown, prefix = ''): string[] {
  const out = new Set<string>();
  collectLeaves(value, prefix, out);
  return [...out].sort();
}

function collectLeaves(value: unknown, path: string, out: Set<string>): void {
  if (value === undefined) return;
  if (isPlainObject(value)) {
    for (const k in value) {
      collectLeaves(value[k], path ? `${path}.${k}` : k, out);
    }
    return;
  }
  if (path) out.add(path);
}

/**
 * Leaf paths whose value differs between two attribute documents. A replaced
 * or removed object lists the leaves on both sides; an unchanged value lists
 * nothing (a same-value write is not a change).
 */
export function changedPaths(before: JsonObject, after: JsonObject): string[] {
  const out = new Set<string>();
  diff(before, after, '', out);
  return [...out].sort();
}

function diff(
  before: unknown,
  after: unknown,
  path: string,
  out: Set<string>,
): void {
  if (isPlainObject(before) && isPlainObject(after)) {
    // Every key of either side once, without building the union.
    for (const key in before) {
      diff(before[key], after[key], path ? `${path}.${key}` : key, out);
    }
    for (const key in after) {
      if (!Object.hasOwn(before, key))
        diff(undefined, after[key], path ? `${path}.${key}` : key, out);
    }
    return;
  }
  if (deepEqual(before, after)) return;
  collectLeaves(before, path, out);
  collectLeaves(after, path, out);
}

/** Identity maps compare as sets: order of namespaces and entries is not a change. */
export function identityMapsEqual(a: IdentityMap, b: IdentityMap): boolean {
  if (a === b) return true;
  const norm = (m: IdentityMap): string =>
    JSON.stringify(
      Object.keys(m)
        .sort()
        .map((ns) => [
          ns,
          [...(m[ns] ?? [])]
            .map((e) => [e.id, e.primary ?? null, e.authenticatedState ?? null])
            .sort((x, y) => (String(x[0]) < String(y[0]) ? -1 : 1)),
        ]),
    );
  return norm(a) === norm(b);
}
