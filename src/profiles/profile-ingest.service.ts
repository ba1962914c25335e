import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import {
  type Queryable,
  type TenantRef,
  withTransaction,
} from '../database/transaction.js';
import {
  currentTxId,
  identityAges,
  lockProfiles,
  writeBatch,
} from '../profile-store/ingest-writes.js';
import {
  type IdentityKey,
  identityKeyString,
} from '../profile-store/profile-data.js';
import { SegmentCatalog } from '../segments/segment-catalog.js';
import { type RawRecord, parseIngestBody } from './ingest-body.js';
import { type BatchItem, type RecordResult, planBatch } from './ingest-plan.js';
import { FragmentError, normalizeFragment } from './profile-merge.js';

export type { RecordResult };

/** Records per transaction when a request or file has more. */
export const DEFAULT_BATCH_SIZE = 1000;

export interface IngestResult {
  results: RecordResult[];
  accepted: number;
  rejected: number;
}

/**
 * Profile ingestion (CONTRACT A9): identity stitching, merge rules,
 * streaming segment evaluation and the change log, all set-based per batch
 * in one transaction. Usable without Nest (CLI, benchmark):
 * `new ProfileIngestService(ds, new SegmentCatalog())`.
 */
@Injectable()
export class ProfileIngestService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly catalog: SegmentCatalog,
  ) {}

  /** The HTTP body: `{"profiles": [...]}` (parsed JSON) or NDJSON text. */
  async ingestRequest(tenant: TenantRef, body: unknown): Promise<IngestResult> {
    return this.ingestRecords(tenant, parseIngestBody(body));
  }

  /** Validates and ingests records in batches; bad records never stop their neighbours. */
  async ingestRecords(
    tenant: TenantRef,
    records: RawRecord[],
    opts: { batchSize?: number; manager?: EntityManager } = {},
  ): Promise<IngestResult> {
    const results: RecordResult[] = [];
    const valid: BatchItem[] = [];
    for (const r of records) {
      const base = r.line === undefined ? {} : { line: r.line };
      if (r.error !== undefined) {
        results.push({
          index: r.index,
          ...base,
          status: 'error',
          reason: r.error,
        });
        continue;
      }
      try {
        valid.push({
          index: r.index,
          ...base,
          fragment: normalizeFragment(r.value, r.bytes),
        });
      } catch (err) {
        if (!(err instanceof FragmentError)) throw err;
        results.push({
          index: r.index,
          ...base,
          status: 'error',
          reason: err.message,
        });
      }
    }
    const size = Math.max(1, opts.batchSize ?? DEFAULT_BATCH_SIZE);
    for (let i = 0; i < valid.length; i += size) {
      const batch = valid.slice(i, i + size);
      const done = await withTransaction(
        this.dataSource,
        (m) => this.ingestBatch(m, tenant, batch),
        opts.manager,
      );
      results.push(...done);
    }
    results.sort((a, b) => a.index - b.index);
    const accepted = results.filter((r) => r.status === 'ok').length;
    return { results, accepted, rejected: results.length - accepted };
  }

  /**
   * One batch in the caller's transaction: lock and load (the profile
   * store), plan (ingest-plan.ts, pure), write (one statement).
   * Concurrency: stored profiles are locked FOR UPDATE (in id order) before
   * they are read; a new identity claimed concurrently by another batch (a
   * unique violation) retries the batch.
   */
  async ingestBatch(
    m: Queryable,
    tenant: TenantRef,
    items: BatchItem[],
  ): Promise<RecordResult[]> {
    const now = new Date();
    const keys = distinctKeys(items.flatMap((i) => i.fragment.identities));
    const { owners, loaded } = await lockProfiles(m, tenant, keys);
    const segments = await this.catalog.forTenant(m, tenant);
    const txId = await currentTxId(m);
    const input = {
      items,
      owners,
      loaded,
      segments,
      evaluation: { now, nowIso: now.toISOString(), txId },
      newId: timeOrderedUuid,
    };
    let plan = planBatch(input);
    if ('needAges' in plan) {
      // A profile went past the identity guardrail: plan again knowing
      // which of its stored identities are oldest (rare; one more query).
      const ages = await identityAges(m, tenant, plan.needAges);
      plan = planBatch({ ...input, identityAges: ages });
      if ('needAges' in plan)
        throw new Error('identity ages missing for a full profile');
    }
    await writeBatch(m, tenant, plan.write);
    return plan.results;
  }
}

/**
 * A UUIDv7 (RFC 9562): the 48-bit millisecond time, then random bits. New
 * profiles then append at the right edge of the profile-keyed indexes
 * (the profiles primary key and tenant index) instead of dirtying a random
 * leaf page each. Built on randomUUID's buffered entropy: the `uuid`
 * package's v7 asks the OS for random bytes on every call.
 */
export function timeOrderedUuid(ms: number): string {
  const t = ms.toString(16).padStart(12, '0');
  const r = randomUUID();
  return `${t.slice(0, 8)}-${t.slice(8)}-7${r.slice(15)}`;
}

function distinctKeys(keys: IdentityKey[]): IdentityKey[] {
  const seen = new Map<string, IdentityKey>();
  for (const k of keys) seen.set(identityKeyString(k), k);
  return [...seen.values()];
}
