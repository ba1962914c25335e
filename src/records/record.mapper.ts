import type { DeliveryRecordEntity } from './delivery-record.entity.js';
import type { RecordDto } from './dto/record.dto.js';

export function toRecordDto(e: DeliveryRecordEntity): RecordDto {
  return {
    id: e.id,
    flowId: e.flowId,
    runId: e.runId,
    targetConnectionId: e.targetConnectionId,
    profileId: e.profileId,
    identityMap: e.identityMap,
    trigger: e.trigger,
    status: e.status === 'excluded' ? 'excluded' : 'failed',
    reasonCode: e.reasonCode,
    message: e.message,
    createdAt: e.createdAt.getTime(),
    replayedAt: e.replayedAt ? e.replayedAt.getTime() : null,
  };
}
