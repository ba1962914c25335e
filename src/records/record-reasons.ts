/**
 * Why a record was not delivered, and whether that is a failure (the hub or
 * the payload) or an exclusion (a rule of the flow or its target). No I/O.
 */
export type RecordReason =
  | 'SIZE_LIMIT'
  | 'MISSING_MANDATORY'
  | 'CONSENT'
  | 'BUILD_FAILED'
  | 'HUB_REJECTED';

export type RecordStatus = 'failed' | 'excluded';

export function statusOfReason(reason: RecordReason): RecordStatus {
  return reason === 'MISSING_MANDATORY' || reason === 'CONSENT'
    ? 'excluded'
    : 'failed';
}

/** A hub's rejection code (publisher.ts) as a record reason. */
export function reasonOfRejection(code: string): RecordReason {
  return code === 'EVENT_TOO_LARGE' ? 'SIZE_LIMIT' : 'HUB_REJECTED';
}

/** A record as the runner hands it over with its step (the run is added when the step commits). */
export interface RecordInput {
  targetConnectionId: string | null;
  profileId: string;
  identityMap: Record<string, { id: string }[]>;
  trigger: string;
  reasonCode: RecordReason;
  message: string;
}

/** A change in what a target's destination holds of a profile's consent (runner/consent.ts). */
export interface ConsentChange {
  targetConnectionId: string;
  profileId: string;
  consented: boolean;
}
