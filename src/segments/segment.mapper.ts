import type { Tenant } from '../common/request-context.js';
import type { MemberCounts } from '../profile-store/member-counts.js';
import type { CountAnswer } from './count-cache.js';
import type {
  SegmentDefinitionResponseDto,
  SegmentJobDto,
} from './dto/segment-definition.dto.js';
import type {
  SegmentMetricsDto,
  SegmentStatusCounterDto,
} from './dto/segment-metrics.dto.js';
import type { SegmentDefinitionEntity } from './segment-definition.entity.js';

/** Adobe's segment definition shape, built field by field so no column leaks. */
export function toSegmentDto(
  e: SegmentDefinitionEntity,
  tenant: Pick<Tenant, 'sandboxType'>,
  job?: SegmentJobDto,
): SegmentDefinitionResponseDto {
  return {
    id: e.id,
    schema: { name: e.schemaName },
    ...(e.ttlInDays === null ? {} : { ttlInDays: e.ttlInDays }),
    profileInstanceId: e.profileInstanceId,
    imsOrgId: e.orgId,
    sandbox: {
      sandboxId: e.sandboxId,
      sandboxName: e.sandboxName,
      type: tenant.sandboxType,
      default: e.sandboxName === 'prod',
    },
    name: e.name,
    description: e.description ?? '',
    expression: {
      type: e.expression.type,
      format: e.expression.format,
      value: e.expression.value,
    },
    ...(e.mergePolicyId === null ? {} : { mergePolicyId: e.mergePolicyId }),
    ...(e.payloadSchema === null ? {} : { payloadSchema: e.payloadSchema }),
    evaluationInfo: e.evaluationInfo,
    dataGovernancePolicy: e.dataGovernancePolicy,
    creationTime: e.createdAt.getTime(),
    updateEpoch: Math.floor(e.updatedAt.getTime() / 1000),
    updateTime: e.updatedAt.getTime(),
    ...(job ? { evaluationJob: job } : {}),
  };
}

/** Adobe's job `metrics` maps for the given definitions (zeros for one no profile has an entry for). */
export function toMetricsDto(
  answer: CountAnswer<MemberCounts>,
  segmentIds: string[],
): SegmentMetricsDto {
  if (answer.status === 'unavailable') {
    return {
      status: 'unavailable',
      countedAt: null,
      totalProfiles: null,
      segmentedProfileCounter: {},
      segmentedProfileByStatusCounter: {},
    };
  }
  const members: Record<string, number> = {};
  const byStatus: Record<string, SegmentStatusCounterDto> = {};
  for (const id of segmentIds) {
    const c = answer.value.bySegment.get(id);
    const counts = {
      realized: c?.realized ?? 0,
      existing: c?.existing ?? 0,
      exited: c?.exited ?? 0,
    };
    members[id] = counts.realized + counts.existing;
    byStatus[id] = counts;
  }
  return {
    status: answer.status,
    countedAt: answer.countedAt,
    totalProfiles: answer.value.totalProfiles,
    segmentedProfileCounter: members,
    segmentedProfileByStatusCounter: byStatus,
  };
}
