import { setTimeout as sleep } from 'node:timers/promises';
import { type DataSource, type EntityManager, QueryFailedError } from 'typeorm';

/** Anything that runs SQL: a DataSource or a transaction's EntityManager. */
export type Queryable = Pick<EntityManager, 'query'>;

/** The part of a tenant that scopes stored data (an IMS org and a sandbox). */
export interface TenantRef {
  orgId: string;
  sandboxName: string;
}

/** The PostgreSQL SQLSTATE of a failed query (`23505`, `40P01`, …), if any. */
export function sqlState(err: unknown): string | undefined {
  if (!(err instanceof QueryFailedError)) return undefined;
  return (err.driverError as { code?: string } | undefined)?.code;
}

/**
 * A concurrent writer got there first (e.g. inserted the same new identity);
 * the whole batch is recomputed in a fresh transaction.
 */
export class RetryableConflict extends Error {
  override readonly name = 'RetryableConflict';
}

/** Deadlocks and serialization failures are retried; everything else is not. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof RetryableConflict) return true;
  const code = sqlState(err);
  return code === '40P01' || code === '40001';
}

/**
 * Runs `fn` in its own transaction, retrying conflicts with jittered backoff.
 * With `manager` given, runs inside the caller's transaction instead and
 * leaves retrying to the caller (a failed statement aborts that transaction).
 */
export async function withTransaction<T>(
  dataSource: DataSource,
  fn: (m: EntityManager) => Promise<T>,
  manager?: EntityManager,
  attempts = 8,
): Promise<T> {
  if (manager) return fn(manager);
  for (let attempt = 1; ; attempt++) {
    try {
      return await dataSource.transaction(fn);
    } catch (err) {
      if (attempt >= attempts || !isRetryable(err)) throw err;
      await sleep(Math.random() * 20 * attempt);
    }
  }
}
