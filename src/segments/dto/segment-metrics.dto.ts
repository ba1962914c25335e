import { ApiProperty, getSchemaPath } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, Matches } from 'class-validator';
import { ID_MESSAGE, RESOURCE_ID_PATTERN } from '../../common/resource-id.js';

/** Most definitions one metrics request may name (a list page's largest). */
export const MAX_METRICS_IDS = 100;

/** `?ids=a,b` and `?ids=a&ids=b` both give the list of ids. */
const toIdList = ({ value }: { value: unknown }): unknown => {
  const parts = Array.isArray(value) ? value : [value];
  return parts.every((p) => typeof p === 'string')
    ? (parts as string[]).flatMap((p) => p.split(',')).map((p) => p.trim())
    : value;
};

export class SegmentMetricsQueryDto {
  /**
   * Segment definition ids, comma-separated or repeated (1–100). Ids that are
   * not definitions of this sandbox are left out of the answer.
   */
  @ApiProperty({
    type: [String],
    maxItems: MAX_METRICS_IDS,
    example: [
      '9c6b2b4e-0d4f-4f5a-9d0e-2f3b7a1c5e6d',
      '1f0e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f',
    ],
  })
  @Transform(toIdList)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_METRICS_IDS)
  @Matches(RESOURCE_ID_PATTERN, { each: true, message: ID_MESSAGE })
  ids: string[];
}

/**
 * Profiles of one segment by stored membership status (Adobe's segment job
 * `segmentedProfileByStatusCounter` entry). The profile lookup may already
 * show a stored `realized` as `existing` once a flow exported it
 * (docs/profiles.md); the stored status changes at the profile's next
 * evaluation.
 */
export class SegmentStatusCounterDto {
  /** Members whose qualification is the latest news about them (entered, or re-entered). */
  realized: number;
  /** Members that were already members at their previous evaluation. */
  existing: number;
  /** Profiles that left the segment (kept for `MEMBERSHIP_RETENTION_DAYS` after the exit). */
  exited: number;
}

/**
 * Member counts of segment definitions, in the shape of Adobe's segment job
 * `metrics` (maps keyed by segment definition id), taken at `countedAt`.
 */
export class SegmentMetricsDto {
  /**
   * `counted`: the counts are as of `countedAt`. `stale`: the latest count
   * did not finish within `SEGMENT_COUNT_TIMEOUT_MS`, these are the previous
   * one's. `unavailable`: no count finished in time yet; the maps are empty.
   * @example counted
   */
  status: 'counted' | 'stale' | 'unavailable';

  /** When the profiles were counted, epoch milliseconds; null when `unavailable`. @example 1764755400000 */
  countedAt: number | null;

  /** Profiles in the sandbox when counted; null when `unavailable`. @example 5000 */
  totalProfiles: number | null;

  /** Segment definition id → members (`realized` + `existing`). */
  segmentedProfileCounter: Record<string, number>;

  /** Segment definition id → profiles by membership status. */
  @ApiProperty({
    type: 'object',
    additionalProperties: { $ref: getSchemaPath(SegmentStatusCounterDto) },
  })
  segmentedProfileByStatusCounter: Record<string, SegmentStatusCounterDto>;
}
