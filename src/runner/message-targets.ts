import type { TargetConnectionEntity } from '../target-connections/target-connection.entity.js';
import { consentPolicyOf } from './consent.js';
import type { MessageTarget } from './messages.js';

/** A target connection's params as the message builder reads them (the runner's and the preview's). */
export function messageTargetOf(t: TargetConnectionEntity): MessageTarget {
  const consent = consentPolicyOf(t.params);
  return {
    id: t.id,
    includeSegmentNames: t.params.includeSegmentNames === true,
    includeSegmentTimestamps: t.params.includeSegmentTimestamps === true,
    ...(consent ? { consent } : {}),
  };
}
