import { ClientEntity } from './tenancy/client.entity.js';
import { ConnectionEntity } from './connections/connection.entity.js';
import { FlowEntity } from './flows/flow.entity.js';
import { FlowExportMinuteEntity } from './flow-metrics/flow-export-minute.entity.js';
import { IdempotencyKeyEntity } from './idempotency/idempotency-key.entity.js';
import { RateLimitWindowEntity } from './limits/rate-limit-window.entity.js';
import { RunEntity } from './runs/run.entity.js';
import { FlowCursorEntity } from './runner/flow-cursor.entity.js';
import { DeliveryJobEntity } from './runner/delivery-job.entity.js';
import { DeliveryRecordEntity } from './records/delivery-record.entity.js';
import { ConsentStateEntity } from './records/consent-state.entity.js';
import { SourceConnectionEntity } from './source-connections/source-connection.entity.js';
import { TargetConnectionEntity } from './target-connections/target-connection.entity.js';
import { SandboxEntity } from './tenancy/sandbox.entity.js';
import { ProfileIdentityEntity } from './profile-store/profile-identity.entity.js';
import { ProfileEntity } from './profile-store/profile.entity.js';
import { ExportedExitEntity } from './profile-store/exported-exit.entity.js';
import { SegmentDefinitionEntity } from './segments/segment-definition.entity.js';
import { SegmentJobEntity } from './segments/segment-job.entity.js';

/** Explicit list (not a glob) so the same code works from src under Vitest and from dist. */
export const ENTITIES = [
  ClientEntity,
  SandboxEntity,
  ConnectionEntity,
  SourceConnectionEntity,
  TargetConnectionEntity,
  FlowEntity,
  RunEntity,
  FlowCursorEntity,
  DeliveryJobEntity,
  DeliveryRecordEntity,
  ConsentStateEntity,
  ProfileEntity,
  ProfileIdentityEntity,
  ExportedExitEntity,
  SegmentDefinitionEntity,
  SegmentJobEntity,
  RateLimitWindowEntity,
  IdempotencyKeyEntity,
  FlowExportMinuteEntity,
];
