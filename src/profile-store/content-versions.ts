/**
 * A profile's content versions: what seeds an export's messageId besides
 * its body, so the same export state sent twice (a backfill page and the
 * change log, a batch re-read after a takeover) keeps its id while a
 * profile that goes A → B → A gets a new id for its return to A.
 *
 * Stored per facet of the profile — each top-level attribute key
 * (`a:loyalty`), the identity map (`i`) and each segment's membership
 * (`s:` and the segment id's last 8 characters) — as the value of the
 * profile's write counter when that facet last changed. A flow's version
 * of a profile is the largest value among the facets its messages are
 * written from: a write to an attribute the flow does not map, a segment
 * it does not export, or a stored `realized` → `existing` step (not a
 * change of membership) leaves it as it was, and any change to what the
 * flow sends raises it past every value it had before.
 */
export type ContentVersions = Record<string, number>;

/** What changed in one write of a profile. */
export interface ContentChange {
  /** Changed leaf paths of attributes ("loyalty.points"). */
  changedPaths: string[];
  identitiesChanged: boolean;
  /** Segments entered or left. */
  segmentIds: string[];
}

/** The facets a flow's messages are written from (see contentFacets). */
export interface ContentFacets {
  keys: string[];
}

const IDENTITIES = 'i';
function attributeFacet(path: string): string {
  const dot = path.indexOf('.');
  return `a:${dot < 0 ? path : path.slice(0, dot)}`;
}
/**
 * A segment's facet: its id's last 8 characters keep a row with many
 * memberships small (ids are UUIDs; the last characters are the random
 * ones). Two segments sharing a facet only make both move together — a
 * new id where one would do, never one id for two states.
 */
const SEGMENT_KEY_CHARS = 8;
const segmentFacet = (segmentId: string): string =>
  `s:${segmentId.slice(-SEGMENT_KEY_CHARS)}`;

/** The largest value of any facet: the profile's write counter. */
function counterOf(versions: ContentVersions): number {
  let n = 0;
  for (const k in versions) {
    const v = versions[k] as number;
    if (v > n) n = v;
  }
  return n;
}

/**
 * The versions after a write (unchanged — the same object — when the write
 * changed none of the facets).
 */
export function bumpContentVersions(
  stored: ContentVersions,
  change: ContentChange,
): ContentVersions {
  const { changedPaths, identitiesChanged, segmentIds } = change;
  if (!changedPaths.length && !identitiesChanged && !segmentIds.length)
    return stored;
  const next = counterOf(stored) + 1;
  const out = { ...stored };
  // Changed paths come grouped by top-level key (a document's leaves in
  // order): a path under the previous path's key names the same facet.
  let top = '';
  for (const p of changedPaths) {
    if (
      top !== '' &&
      p.startsWith(top) &&
      (p.length === top.length || p.charCodeAt(top.length) === DOT)
    )
      continue;
    const dot = p.indexOf('.');
    top = dot < 0 ? p : p.slice(0, dot);
    out[`a:${top}`] = next;
  }
  if (identitiesChanged) out[IDENTITIES] = next;
  for (const id of segmentIds) out[segmentFacet(id)] = next;
  return out;
}

const DOT = 46;

/**
 * The facets of a flow that sends these attributes and segments, once per
 * flow: the identity map is in every message; attributes count by their
 * top-level key.
 */
export function contentFacets(
  attributePaths: string[],
  segmentIds: string[],
): ContentFacets {
  const keys = new Set([IDENTITIES]);
  for (const p of attributePaths) keys.add(attributeFacet(p));
  for (const id of segmentIds) keys.add(segmentFacet(id));
  return { keys: [...keys] };
}

/** A flow's version of a profile (see the file's comment). */
export function contentVersionFor(
  versions: ContentVersions,
  facets: ContentFacets,
): number {
  let v = 0;
  for (const k of facets.keys) {
    const n = versions[k];
    if (n !== undefined && n > v) v = n;
  }
  return v;
}

/**
 * SQL: `versions` (a jsonb expression) with the facets of the segments in
 * `segmentIds` (a text[] expression) set to the next counter value — the
 * segment jobs' write of entries and exits.
 */
export function bumpSegmentsSql(versions: string, segmentIds: string): string {
  return `${versions} || COALESCE((
    SELECT jsonb_object_agg('s:' || right(s.id, ${SEGMENT_KEY_CHARS}), c.n)
      FROM unnest(${segmentIds}) AS s(id),
           (SELECT COALESCE(max(e.value::bigint), 0) + 1 AS n
              FROM jsonb_each_text(${versions}) AS e) c), '{}'::jsonb)`;
}
