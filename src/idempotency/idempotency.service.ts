import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { DomainError, ErrorCode } from '../common/errors.js';
import type { Tenant } from '../common/request-context.js';
import { ENV, type Env } from '../config/env.js';
import { withRequestTransaction } from '../database/request-work.js';
import { APP_LOGGER } from '../logging/logger.js';

/** What a request got: replayed as is for a retry with the same key. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface KeyedRequest {
  tenant: Tenant;
  key: string;
  /** `METHOD /path`. */
  route: string;
  fingerprint: string;
}

const CLEANUP_INTERVAL_MS = 10 * 60_000;
/** Rows deleted per statement and statements per cleanup: a cleanup's cost is bounded whatever the backlog. */
const CLEANUP_BATCH = 1000;
const CLEANUP_BATCHES = 20;

/**
 * `Idempotency-Key` semantics (IETF HTTPAPI draft, as Stripe implements it)
 * for creates. The key, the stored response and everything the handler
 * writes commit in ONE transaction (withRequestTransaction makes the
 * services' own transactions savepoints of it): a crash or a timeout at any
 * point leaves neither the resource nor the key, so a retry simply runs the
 * request again — there is no "created but not recorded" state to recover.
 * While that transaction is open, a transaction-scoped advisory lock on the
 * key makes a concurrent request with the same key a 409 instead of a wait.
 * Only successes are stored: a failed request changed nothing, so its retry
 * runs again.
 */
@Injectable()
export class IdempotencyService
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(ENV) private readonly env: Env,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.purgeExpired().catch((err: unknown) =>
        this.logger.warn({ err }, 'idempotency key cleanup failed'),
      );
    }, CLEANUP_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Runs `execute` once per key: a retry within the TTL gets the stored
   * response (`replayed`), a different request under the same key a 422,
   * and one arriving while the first is still running a 409.
   */
  async once(
    req: KeyedRequest,
    execute: () => Promise<StoredResponse>,
  ): Promise<StoredResponse & { replayed: boolean }> {
    const { tenant, key } = req;
    const id = [tenant.orgId, tenant.sandboxName, tenant.clientId, key];
    return withRequestTransaction(this.dataSource, async (m) => {
      const [lock] = (await m.query(
        `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS ok`,
        [`idempotency\u001f${id.join('\u001f')}`],
      )) as { ok: boolean }[];
      if (!lock?.ok)
        throw new DomainError(
          ErrorCode.Conflict,
          'A request with this Idempotency-Key is still being processed; retry once it has completed.',
          [{ path: 'Idempotency-Key', message: 'request in progress' }],
          { 'Retry-After': '1' },
        );
      const [stored] = (await m.query(
        `SELECT route, fingerprint, status, headers, body
           FROM idempotency_keys
          WHERE org_id = $1 AND sandbox_name = $2 AND client_id = $3 AND key = $4
            AND expires_at > now()`,
        id,
      )) as (StoredResponse & { route: string; fingerprint: string })[];
      if (stored) {
        if (
          stored.route !== req.route ||
          stored.fingerprint !== req.fingerprint
        )
          throw new DomainError(
            ErrorCode.Unprocessable,
            `This Idempotency-Key was already used for a different request (${stored.route} with another body); use a new key for a new request.`,
            [
              {
                path: 'Idempotency-Key',
                message: 'key reused with a different request',
              },
            ],
          );
        const { status, headers, body } = stored;
        return { status, headers, body, replayed: true };
      }
      const response = await execute();
      // An expired row of the same key is replaced: the key starts afresh.
      await m.query(
        `INSERT INTO idempotency_keys AS k
                (org_id, sandbox_name, client_id, key, route, fingerprint,
                 status, headers, body, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, now(),
                 now() + $10::int * interval '1 hour')
         ON CONFLICT (org_id, sandbox_name, client_id, key) DO UPDATE
            SET route = EXCLUDED.route, fingerprint = EXCLUDED.fingerprint,
                status = EXCLUDED.status, headers = EXCLUDED.headers,
                body = EXCLUDED.body, created_at = EXCLUDED.created_at,
                expires_at = EXCLUDED.expires_at
          WHERE k.expires_at <= now()`,
        [
          ...id,
          req.route,
          req.fingerprint,
          response.status,
          JSON.stringify(response.headers),
          JSON.stringify(response.body ?? null),
          this.env.IDEMPOTENCY_TTL_HOURS,
        ],
      );
      return { ...response, replayed: false };
    });
  }

  /** Deletes expired keys oldest first, at most CLEANUP_BATCH × CLEANUP_BATCHES rows per call (index on expires_at). */
  async purgeExpired(): Promise<number> {
    let total = 0;
    for (let i = 0; i < CLEANUP_BATCHES; i++) {
      const [, deleted] = (await this.dataSource.query(
        `DELETE FROM idempotency_keys
          WHERE ctid = ANY(ARRAY(
                SELECT ctid FROM idempotency_keys
                 WHERE expires_at <= now()
                 ORDER BY expires_at LIMIT $1))`,
        [CLEANUP_BATCH],
      )) as [unknown, number];
      total += deleted;
      if (deleted < CLEANUP_BATCH) break;
    }
    return total;
  }
}
