import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { sqlState } from './transaction.js';

/**
 * A statement refused, or cancelled by the server, because the request it
 * runs for passed its deadline. Its transaction rolls back, so the request
 * changed nothing and may answer 503.
 */
export class RequestExpired extends Error {
  override readonly name = 'RequestExpired';
}

type Cancel = (pids: number[]) => Promise<void>;

interface Tracked {
  runner: QueryRunner;
  inflight: number;
}

/** After the deadline only rolling back is allowed (ROLLBACK, ROLLBACK TO SAVEPOINT). */
const ALLOWED_WHEN_EXPIRED = /^\s*ROLLBACK\b/i;

/**
 * The database work of one HTTP request: every query runner TypeORM creates
 * while the request's code runs (the request is found through
 * AsyncLocalStorage, so services need not pass anything along).
 *
 * At the deadline, `expire()` cancels the statements in flight and refuses
 * every later one except a rollback. From then on nothing the request started
 * can commit, except a COMMIT the server was already executing — and then the
 * handler answers its real result. So a write that timed out fails with
 * RequestExpired (503) only when its transaction rolled back.
 */
export class RequestWork {
  expired = false;
  /** Set by withRequestTransaction: every runner of the request is this one. */
  ambient?: QueryRunner;
  private finished = false;
  private readonly runners = new Set<Tracked>();
  /** Released connections wait for this, so a cancel never hits the next user of a connection. */
  private cancelling: Promise<void> = Promise.resolve();

  constructor(
    readonly timeoutMs: number,
    private readonly cancel: Cancel = () => Promise.resolve(),
  ) {}

  get active(): boolean {
    return !this.finished;
  }

  /** The response is closed: work started afterwards (background) is no longer the request's. */
  finish(): void {
    this.finished = true;
  }

  expire(): void {
    if (this.expired) return;
    this.expired = true;
    const pids: number[] = [];
    for (const t of this.runners) {
      const pid = processId(t.runner);
      if (t.inflight > 0 && pid !== undefined) pids.push(pid);
    }
    if (pids.length) this.cancelling = this.cancel(pids).catch(() => undefined);
  }

  error(cause?: unknown): RequestExpired {
    return new RequestExpired(
      `The request did not complete within ${this.timeoutMs} ms; nothing was changed.`,
      { cause },
    );
  }

  track(runner: QueryRunner): QueryRunner {
    const entry: Tracked = { runner, inflight: 0 };
    this.runners.add(entry);
    const query = runner.query.bind(runner) as (
      ...args: unknown[]
    ) => Promise<unknown>;
    // Overriding on the instance catches the runner's own START/COMMIT too.
    (runner as { query: unknown }).query = async (
      sql: string,
      ...rest: unknown[]
    ): Promise<unknown> => {
      if (this.expired && !ALLOWED_WHEN_EXPIRED.test(sql)) throw this.error();
      entry.inflight++;
      try {
        return await query(sql, ...rest);
      } catch (err) {
        // 57014: query_canceled, our cancel at the deadline.
        if (this.expired && sqlState(err) === '57014') throw this.error(err);
        throw err;
      } finally {
        entry.inflight--;
      }
    };
    const release = runner.release.bind(runner);
    runner.release = async () => {
      await this.cancelling;
      this.runners.delete(entry);
      return release();
    };
    return runner;
  }
}

function processId(runner: QueryRunner): number | undefined {
  return (runner as { databaseConnection?: { processID?: number } })
    .databaseConnection?.processID;
}

const storage = new AsyncLocalStorage<RequestWork>();

/** Runs `fn` (the rest of a request) as `work`. */
export function runAsRequestWork<T>(work: RequestWork, fn: () => T): T {
  return storage.run(work, fn);
}

/** The data sources whose query runners are hooked, with their cancel functions. */
const tracked = new WeakMap<DataSource, Cancel>();

/**
 * Makes every query runner created inside a request part of its RequestWork.
 * Every TypeORM path (repository, query builder, `dataSource.query`,
 * `transaction`) obtains its connection from `dataSource.createQueryRunner`,
 * so this one hook sees all of a request's statements. Returns the function
 * that cancels statements by backend pid.
 */
export function trackRequestWork(dataSource: DataSource): Cancel {
  const known = tracked.get(dataSource);
  if (known) return known;
  const cancel = cancelBackends(dataSource);
  tracked.set(dataSource, cancel);
  const create = dataSource.createQueryRunner.bind(dataSource);
  dataSource.createQueryRunner = (mode) => {
    const work = storage.getStore();
    if (!work?.active) return create(mode);
    if (work.ambient) return shared(work.ambient);
    return work.track(create(mode));
  };
  return cancel;
}

/**
 * Runs `fn`, database work several requests share (so no one request's
 * deadline may cancel it), as work of its own with its own deadline: after
 * `timeoutMs` its statements are cancelled and later ones refused, and it
 * fails with RequestExpired. Read-only work only: what it waits for is
 * answered by each request's own deadline anyway (reads answer 503 at once).
 */
export async function withOwnDeadline<T>(
  dataSource: DataSource,
  timeoutMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const work = new RequestWork(timeoutMs, trackRequestWork(dataSource));
  const timer =
    timeoutMs > 0 ? setTimeout(() => work.expire(), timeoutMs) : undefined;
  try {
    return await runAsRequestWork(work, fn);
  } finally {
    clearTimeout(timer);
    work.finish();
  }
}

/**
 * `pg_cancel_backend` over a connection of its own: the pool may be the very
 * thing that is exhausted when requests time out.
 */
function cancelBackends(dataSource: DataSource): Cancel {
  return async (pids) => {
    const pool = (dataSource.driver as unknown as { master?: pg.Pool }).master;
    const client = new pg.Client({
      ...(pool?.options as pg.ClientConfig | undefined),
      connectionTimeoutMillis: 5000,
    });
    // A database going away while this connection is open (an outage is
    // when requests time out) is reported as an 'error' event, which would
    // be uncaught: the query's rejection already carries it.
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query(
        'SELECT pg_cancel_backend(pid) FROM unnest($1::int[]) AS pid',
        [pids],
      );
    } finally {
      await client.end();
    }
  };
}

/**
 * The ambient runner as seen by code that believes it created a runner of
 * its own: its transactions become savepoints (TypeORM nests them), and
 * releasing it is left to withRequestTransaction.
 */
function shared(runner: QueryRunner): QueryRunner {
  return new Proxy(runner, {
    get(target, prop) {
      if (prop === 'release') return () => Promise.resolve();
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
    set(target, prop, value) {
      return Reflect.set(target, prop, value, target);
    },
  });
}

/**
 * Runs `fn` and all the database work of the request it triggers (services
 * that open transactions of their own included) in one transaction, committed
 * only if `fn` succeeds. Used where something must commit atomically with
 * whatever the handler writes (an idempotency key and its stored response).
 */
export async function withRequestTransaction<T>(
  dataSource: DataSource,
  fn: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  const work = storage.getStore();
  if (!work?.active)
    return runAsRequestWork(new RequestWork(0), () =>
      withRequestTransaction(dataSource, fn),
    );
  if (work.ambient) return fn(work.ambient.manager);
  const runner = dataSource.createQueryRunner();
  try {
    await runner.startTransaction();
    work.ambient = runner;
    const result = await fn(runner.manager);
    await runner.commitTransaction();
    return result;
  } catch (err) {
    if (runner.isTransactionActive)
      await runner.rollbackTransaction().catch(() => undefined);
    throw err;
  } finally {
    work.ambient = undefined;
    await runner.release();
  }
}
