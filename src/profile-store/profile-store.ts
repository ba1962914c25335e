import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { TenantRef } from '../database/transaction.js';
import {
  type ChangePosition,
  type ProfileChange,
  readChanges,
} from './change-log.js';

/**
 * The profile store as an injectable, for callers that hold no transaction.
 * Everything that runs SQL over `profiles`, `profile_identities` and
 * `profile_changes` lives in this folder; callers inside a transaction use
 * the functions of its files with their EntityManager.
 */
@Injectable()
export class ProfileStore {
  constructor(readonly dataSource: DataSource) {}

  /** Committed changes after `after`, never past a transaction still in flight. */
  readChanges(
    tenant: TenantRef,
    after: ChangePosition | null,
    limit: number,
  ): Promise<ProfileChange[]> {
    return readChanges(this.dataSource, tenant, after, limit);
  }
}
