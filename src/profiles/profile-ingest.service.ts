import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import {
  type Queryable,
  type TenantRef,
  sqlState,
  withTransaction,
} from '../database/transaction.js';
import { isDatabaseUnavailable } from '../database/unavailable.js';
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
import { DomainError, ErrorCode } from '../common/errors.js';
import { type RawRecord, parseIngestBody } from './ingest-body.js';
import {
  ReadingStopped,
  ndjsonRecords,
  untilAborted,
} from './ndjson-stream.js';
import { type BatchItem, type RecordResult, planBatch } from './ingest-plan.js';
import { FragmentError, normalizeFragment } from './profile-merge.js';

export type { RecordResult };

/** Records per transaction when a request or file has more. */
export const DEFAULT_BATCH_SIZE = 1000;

export interface IngestResult {
  results: RecordResult[];
  accepted: number;
  rejected: number;
  /**
   * Records not stored because the server failed (e.g. the database went
   * away): rejected with a reason saying so, safe to send again.
   */
  notStored: number;
}

/** Past this many records, a streamed ingest's result lists only rejected records. */
export const STREAM_RESULTS_LISTED = 10_000;
/** Rejected records a summarized result lists (the counts stay exact). */
export const STREAM_ERRORS_LISTED = 1_000;

/** A streamed (NDJSON) ingest's outcome: the counts are exact, the list may be summarized. */
export interface StreamIngestResult extends IngestResult {
  /**
   * True when the body had more than STREAM_RESULTS_LISTED records:
   * `results` then lists rejected records only (the first
   * STREAM_ERRORS_LISTED of them).
   */
  summarized: boolean;
  /**
   * After a server failure or a shutdown: the first record not stored; it and every
   * record after it (read or not) must be sent again. Records before it
   * have their outcome in the counts (and the list).
   */
  notStoredFrom?: { index: number; line?: number };
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
    let notStored = 0;
    for (let i = 0; i < valid.length; i += size) {
      const batch = valid.slice(i, i + size);
      try {
        results.push(...(await this.storeBatch(tenant, batch, opts.manager)));
      } catch (err) {
        // The server failed (not the data): this batch rolled back and the
        // rest is not attempted. Every record still gets a definite answer.
        if (opts.manager) throw err;
        const rest = valid.slice(i);
        notStored = rest.length;
        const reason = `not stored: the server could not store this batch (${serverProblem(err)}); send the record again`;
        for (const r of rest)
          results.push({
            index: r.index,
            ...(r.line === undefined ? {} : { line: r.line }),
            status: 'error',
            reason,
          });
        break;
      }
    }
    results.sort((a, b) => a.index - b.index);
    const accepted = results.filter((r) => r.status === 'ok').length;
    return {
      results,
      accepted,
      rejected: results.length - accepted,
      notStored,
    };
  }

  /**
   * NDJSON as it arrives: records are parsed and stored batch by batch, so
   * memory follows the batch size, not the body. Reading pauses while a
   * batch is stored (the stream's backpressure). A server failure stops the
   * read: the answer says from which record on nothing was stored.
   */
  async ingestStream(
    tenant: TenantRef,
    source: AsyncIterable<Buffer | string>,
    opts: {
      batchSize?: number;
      /** Deepest nesting a line may have (BODY_MAX_DEPTH). */
      maxDepth?: number;
      /** Called after each stored batch (the CLI's progress bar). */
      onBatch?: (progress: { records: number; bytesRead: number }) => void;
      /**
       * Stops reading (the process shuts down): what was read is stored and
       * answered, the rest is `notStoredFrom` on.
       */
      signal?: AbortSignal;
    } = {},
  ): Promise<StreamIngestResult> {
    const size = Math.max(1, opts.batchSize ?? DEFAULT_BATCH_SIZE);
    const out: StreamIngestResult = {
      results: [],
      accepted: 0,
      rejected: 0,
      notStored: 0,
      summarized: false,
    };
    const keep = (r: RecordResult): void => {
      if (!out.summarized && out.results.length >= STREAM_RESULTS_LISTED) {
        out.summarized = true;
        out.results = out.results.filter((x) => x.status === 'error');
      }
      if (out.summarized) {
        if (r.status === 'error' && out.results.length < STREAM_ERRORS_LISTED)
          out.results.push(r);
      } else out.results.push(r);
    };
    let records = 0;
    let bytesRead = 0;
    let batch: RawRecord[] = [];
    const flush = async (): Promise<boolean> => {
      if (batch.length === 0) return true;
      const done = await this.ingestRecords(tenant, batch, { batchSize: size });
      batch = [];
      out.accepted += done.accepted;
      out.rejected += done.rejected;
      out.notStored += done.notStored;
      for (const r of done.results) keep(r);
      opts.onBatch?.({ records, bytesRead });
      if (done.notStored === 0) return true;
      const first = done.results.find((r) =>
        r.reason?.startsWith('not stored'),
      );
      if (first)
        out.notStoredFrom = {
          index: first.index,
          ...(first.line === undefined ? {} : { line: first.line }),
        };
      return false;
    };
    let last: { index: number; line?: number } | undefined;
    let stopped = false;
    try {
      for await (const record of ndjsonRecords(
        opts.signal ? untilAborted(source, opts.signal) : source,
        { maxDepth: opts.maxDepth },
      )) {
        records++;
        bytesRead = record.bytesRead;
        last = record;
        batch.push(record);
        if (batch.length >= size && !(await flush())) break;
      }
    } catch (err) {
      if (!(err instanceof ReadingStopped)) throw err;
      stopped = true;
    }
    if (out.notStoredFrom === undefined) await flush();
    if (stopped && out.notStoredFrom === undefined)
      out.notStoredFrom = {
        index: last ? last.index + 1 : 0,
        // Blank lines are not records: the next line is where sending again starts.
        line: last?.line === undefined ? 1 : last.line + 1,
      };
    if (records === 0 && !stopped)
      throw new DomainError(
        ErrorCode.BodyEmpty,
        'The request body cannot be null or empty.',
      );
    out.results.sort((a, b) => a.index - b.index);
    return out;
  }

  /**
   * A batch in its own transaction (or the caller's). A data exception that
   * validation did not foresee (SQLSTATE class 22) is narrowed down by
   * halves to the records that cause it: they are rejected with the
   * database's reason, their neighbours stored.
   */
  private async storeBatch(
    tenant: TenantRef,
    batch: BatchItem[],
    manager: EntityManager | undefined,
  ): Promise<RecordResult[]> {
    try {
      return await withTransaction(
        this.dataSource,
        (m) => this.ingestBatch(m, tenant, batch),
        manager,
      );
    } catch (err) {
      if (manager || !sqlState(err)?.startsWith('22')) throw err;
      if (batch.length === 1) {
        const [r] = batch as [BatchItem];
        return [
          {
            index: r.index,
            ...(r.line === undefined ? {} : { line: r.line }),
            status: 'error',
            reason: `the record could not be stored: ${(err as Error).message}`,
          },
        ];
      }
      const half = Math.ceil(batch.length / 2);
      return [
        ...(await this.storeBatch(tenant, batch.slice(0, half), manager)),
        ...(await this.storeBatch(tenant, batch.slice(half), manager)),
      ];
    }
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
    let plan = await planBatch(input);
    if ('needAges' in plan) {
      // A profile went past the identity guardrail: plan again knowing
      // which of its stored identities are oldest (rare; one more query).
      const ages = await identityAges(m, tenant, plan.needAges);
      plan = await planBatch({ ...input, identityAges: ages });
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

/** What went wrong on the server, without internals (no SQL, no stack). */
function serverProblem(err: unknown): string {
  if (isDatabaseUnavailable(err)) return 'the database is unavailable';
  const code = sqlState(err);
  if (code) return `database error ${code}`;
  return 'an internal error';
}
