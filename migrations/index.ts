import { Foundation1764100000000 } from './1764100000000-Foundation.js';
import { ProfilesSegments1764200000000 } from './1764200000000-ProfilesSegments.js';
import { RunnerCursors1764300000000 } from './1764300000000-RunnerCursors.js';
import { ChangeNotify1764400000000 } from './1764400000000-ChangeNotify.js';
import { RateLimits1764470000000 } from './1764470000000-RateLimits.js';
import { MembersInProfileOrder1764500000000 } from './1764500000000-MembersInProfileOrder.js';
import { MembershipsOnProfiles1764600000000 } from './1764600000000-MembershipsOnProfiles.js';
import { IdentityIndexByKeyOnly1764700000000 } from './1764700000000-IdentityIndexByKeyOnly.js';
import { DeletedFlowPositions1764800000000 } from './1764800000000-DeletedFlowPositions.js';
import { ListIndexes1764900000000 } from './1764900000000-ListIndexes.js';
import { IdentityFirstSeen1764950000000 } from './1764950000000-IdentityFirstSeen.js';
import { ExportedExits1765000000000 } from './1765000000000-ExportedExits.js';
import { IdempotencyKeys1765200000000 } from './1765200000000-IdempotencyKeys.js';
import { DeliveryOperations1765300000000 } from './1765300000000-DeliveryOperations.js';
import { TenancyNotify1765340000000 } from './1765340000000-TenancyNotify.js';
import { FlowLanes1765400000000 } from './1765400000000-FlowLanes.js';
import { FlowExportMinutes1765450000000 } from './1765450000000-FlowExportMinutes.js';
import { ContentVersions1765460000000 } from './1765460000000-ContentVersions.js';
import { LaneHashes1765470000000 } from './1765470000000-LaneHashes.js';
import { RunnerProcesses1765480000000 } from './1765480000000-RunnerProcesses.js';
import { ProfilesLaneKey1765490000000 } from './1765490000000-ProfilesLaneKey.js';
import { StepCommitCheck1765500000000 } from './1765500000000-StepCommitCheck.js';
import { CursorFlowVersion1765510000000 } from './1765510000000-CursorFlowVersion.js';

/** Every migration, in order. New migrations are appended here by hand. */
export const MIGRATIONS: (new () => unknown)[] = [
  Foundation1764100000000,
  ProfilesSegments1764200000000,
  RunnerCursors1764300000000,
  ChangeNotify1764400000000,
  RateLimits1764470000000,
  MembersInProfileOrder1764500000000,
  MembershipsOnProfiles1764600000000,
  IdentityIndexByKeyOnly1764700000000,
  DeletedFlowPositions1764800000000,
  ListIndexes1764900000000,
  IdentityFirstSeen1764950000000,
  ExportedExits1765000000000,
  IdempotencyKeys1765200000000,
  DeliveryOperations1765300000000,
  TenancyNotify1765340000000,
  FlowLanes1765400000000,
  FlowExportMinutes1765450000000,
  ContentVersions1765460000000,
  LaneHashes1765470000000,
  RunnerProcesses1765480000000,
  ProfilesLaneKey1765490000000,
  StepCommitCheck1765500000000,
  CursorFlowVersion1765510000000,
];
