import { hash } from 'node:crypto';

/**
 * A lane of a flow: the profiles whose lane hash falls in the lane's share
 * of the hash range. Lanes are contiguous ranges of a 16-bit hash, so lane
 * `lane` of `lanes` holds the hashes h with ⌊h·lanes / 2¹⁶⌋ = lane: a profile
 * is in exactly one lane of a flow, so its changes are exported by one
 * reader, in order.
 */
export interface Lane {
  lane: number;
  lanes: number;
}

/** The whole flow as one lane (no predicate). */
export const WHOLE: Lane = { lane: 0, lanes: 1 };

/** Most lanes a flow may have (the hash has 2¹⁶ values; far fewer are useful). */
export const MAX_LANES = 256;

/**
 * The lane hash of a profile id: the first two bytes of SHA-256 over its
 * text, as PostgreSQL's core `sha256()` computes it (the partitioner's
 * SHA-1 needs pgcrypto there). Stable across releases: changing it moves
 * profiles between lanes.
 */
export function laneHash(profileId: string): number {
  return hash('sha256', profileId, 'buffer').readUInt16BE(0);
}

export function laneOf(profileId: string, lanes: number): number {
  return Math.floor((laneHash(profileId) * lanes) / 65_536);
}

/** laneHash in SQL, over a uuid (or text) expression. */
export function laneHashSql(profileId: string): string {
  return `('x' || encode(substring(sha256(convert_to(${profileId}::text, 'UTF8')) for 2), 'hex'))::bit(16)::int`;
}

/**
 * A predicate: the profile id expression is in the lane. `lane`/`lanes` are
 * numbers (inlined) or SQL expressions (e.g. a cursor's columns); one whole
 * lane is no predicate at all.
 */
export function inLaneSql(
  profileId: string,
  lane: number | string,
  lanes: number | string,
): string {
  if (typeof lanes === 'number') {
    if (!Number.isInteger(lanes) || lanes < 1 || lanes > MAX_LANES)
      throw new RangeError(`lanes must be 1..${MAX_LANES}, got ${lanes}`);
    if (lanes === 1) return 'true';
  }
  if (typeof lane === 'number' && !Number.isInteger(lane))
    throw new RangeError(`lane must be an integer, got ${lane}`);
  return `(${lanes} = 1 OR ${laneHashSql(profileId)} * ${lanes} / 65536 = ${lane})`;
}

/** Lane hashes are 16 bits. */
const HASH_VALUES = 65_536;

/**
 * The lane's hashes, `lo` ≤ h < `hi`: h·lanes / 2¹⁶ rounds down to `lane`
 * exactly for h from ⌈lane·2¹⁶/lanes⌉ up to the next lane's first hash.
 */
export function laneRange(lane: Lane): { lo: number; hi: number } {
  const first = (l: number): number =>
    Math.ceil((l * HASH_VALUES) / lane.lanes);
  return { lo: first(lane.lane), hi: first(lane.lane + 1) };
}

/** laneRange in SQL, for `lane`/`lanes` given as numbers or SQL integer expressions. */
export function laneRangeSql(
  lane: number | string,
  lanes: number | string,
): { lo: string; hi: string } {
  if (typeof lane === 'number' && typeof lanes === 'number') {
    const r = laneRange({ lane, lanes });
    return { lo: String(r.lo), hi: String(r.hi) };
  }
  // ⌈a / b⌉ in integer arithmetic.
  const first = (l: string): string =>
    `((${l}) * ${HASH_VALUES} + (${lanes}) - 1) / (${lanes})`;
  return { lo: first(String(lane)), hi: first(`(${lane}) + 1`) };
}

function checkedLanes(lane: number | string, lanes: number | string): void {
  if (
    typeof lanes === 'number' &&
    (!Number.isInteger(lanes) || lanes < 1 || lanes > MAX_LANES)
  )
    throw new RangeError(`lanes must be 1..${MAX_LANES}, got ${lanes}`);
  if (typeof lane === 'number' && !Number.isInteger(lane))
    throw new RangeError(`lane must be an integer, got ${lane}`);
}

/**
 * A predicate over a stored lane hash (`profile_changes.lane_hash`, or the
 * indexed `fse_lane_hash(profiles.id)`): the row is in the lane. A range, so
 * an index whose key includes the hash skips other lanes' entries without
 * visiting their rows.
 */
export function hashInLaneSql(
  hash: string,
  lane: number | string,
  lanes: number | string,
): string {
  checkedLanes(lane, lanes);
  if (lanes === 1) return 'true';
  const { lo, hi } = laneRangeSql(lane, lanes);
  return `(${hash} >= ${lo} AND ${hash} < ${hi})`;
}

/**
 * hashInLaneSql plus the lane's hash buckets (the top 8 bits:
 * `ix_profile_changes_lane`'s leading key after the tenant), so "a row of
 * the lane after a position" is a skip scan of one index descent per bucket
 * of the lane (2⁸/lanes of them, one more where a lane boundary splits a
 * bucket) instead of a walk over the other lanes' rows.
 */
export function hashInLaneBucketsSql(
  hash: string,
  lane: number | string,
  lanes: number | string,
): string {
  checkedLanes(lane, lanes);
  if (lanes === 1) return 'true';
  const { lo, hi } = laneRangeSql(lane, lanes);
  return `((${hash} >> 8) BETWEEN (${lo}) >> 8 AND (${hi} - 1) >> 8 AND ${hashInLaneSql(hash, lane, lanes)})`;
}
