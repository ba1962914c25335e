import { IsIn, IsOptional } from 'class-validator';
import { ListQueryDto } from '../../common/list-query.dto.js';

/** The list query of a run's records: the usual list parameters and a status. */
export class RecordListQueryDto extends ListQueryDto {
  /** Only failed (the hub or the payload) or only excluded (a rule) records. @example failed */
  @IsOptional()
  @IsIn(['failed', 'excluded'], {
    message: 'status must be failed or excluded',
  })
  status?: 'failed' | 'excluded';
}

/** A record a run did not deliver, and why. */
export class RecordDto {
  id: string;
  flowId: string;
  runId: string;
  /** Null when the reason holds for every target (a missing mandatory field). */
  targetConnectionId: string | null;
  profileId: string;
  /** The identities the message would have carried. @example {"email":[{"id":"jane@example.com"}]} */
  identityMap: Record<string, { id: string }[]>;
  /** The export's trigger, as in the message's `trigger` property. @example segment,attribute */
  trigger: string;
  /** @example failed */
  status: 'failed' | 'excluded';
  /** SIZE_LIMIT, MISSING_MANDATORY, CONSENT, BUILD_FAILED or HUB_REJECTED. @example SIZE_LIMIT */
  reasonCode: string;
  message: string;
  /** Epoch milliseconds. */
  createdAt: number;
  /** When a replay sent it again (epoch milliseconds), or null. */
  replayedAt: number | null;
}

export class RecordListDto {
  items?: RecordDto[];
  _links?: Record<string, unknown>;
  count?: number;
}
