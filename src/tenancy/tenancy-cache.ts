import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { ENV, type Env } from '../config/env.js';
import { APP_LOGGER } from '../logging/logger.js';
import { clientKey, sandboxKey, TenancyService } from './tenancy.service.js';
import { TtlCache } from './ttl-cache.js';

/** What authentication needs of a client. */
export interface CachedClient {
  orgId: string;
  sandboxes: string[];
  secretHash: string;
}

export interface CachedSandbox {
  id: string;
  type: string;
}

/** The channel the `clients`/`sandboxes` triggers notify (migration TenancyNotify). */
const CHANNEL = 'fse_tenancy';
const RELISTEN_MAX_MS = 30_000;

/**
 * The clients and sandboxes that authentication reads, kept in memory for
 * AUTH_CACHE_TTL_MS so a request of a recently seen caller costs no database
 * round trip.
 *
 * Freshness does not rest on the TTL alone: triggers on `clients` and
 * `sandboxes` NOTIFY every change (from any replica, the CLI or psql), and
 * this replica drops the entry when the notification arrives — milliseconds
 * after the commit. The cache answers only while its LISTEN connection is up
 * (it is cleared when the connection is lost or re-established, since
 * changes meanwhile notified nobody); otherwise every lookup reads the
 * database, as without a cache. The TTL bounds what a lost notification
 * could cost.
 */
@Injectable()
export class TenancyCache implements OnApplicationShutdown {
  private readonly clients: TtlCache<CachedClient>;
  private readonly sandboxes: TtlCache<CachedSandbox>;
  private listener?: pg.Client;
  private connecting = false;
  private failures = 0;
  private retry?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly tenancy: TenancyService,
    private readonly dataSource: DataSource,
    @Inject(ENV) private readonly env: Env,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {
    const ttl = env.AUTH_CACHE_TTL_MS;
    this.clients = new TtlCache(ttl, env.AUTH_CACHE_MAX_ENTRIES);
    this.sandboxes = new TtlCache(ttl, env.AUTH_CACHE_MAX_ENTRIES);
    // Changes this process makes are dropped at once, not when their NOTIFY arrives.
    tenancy.onChange((key) => this.invalidate(key));
  }

  private get enabled(): boolean {
    return (
      this.env.AUTH_CACHE_TTL_MS > 0 && this.env.AUTH_CACHE_MAX_ENTRIES > 0
    );
  }

  async client(clientId: string): Promise<CachedClient | null> {
    const key = clientKey(clientId);
    if (this.usable()) {
      const hit = this.clients.get(key);
      if (hit) return hit;
    }
    const generation = this.clients.generation();
    const row = await this.tenancy.findClient(clientId);
    if (!row) return null;
    const value: CachedClient = {
      orgId: row.orgId,
      sandboxes: row.sandboxes,
      secretHash: row.secretHash,
    };
    if (this.listener) this.clients.set(key, value, generation);
    return value;
  }

  async sandbox(orgId: string, name: string): Promise<CachedSandbox | null> {
    const key = sandboxKey(orgId, name);
    if (this.usable()) {
      const hit = this.sandboxes.get(key);
      if (hit) return hit;
    }
    const generation = this.sandboxes.generation();
    const row = await this.tenancy.findSandbox(orgId, name);
    if (!row) return null;
    const value: CachedSandbox = { id: row.id, type: row.type };
    if (this.listener) this.sandboxes.set(key, value, generation);
    return value;
  }

  /** Whether entries may be answered: only while changes reach this replica. */
  private usable(): boolean {
    if (!this.enabled || this.stopped) return false;
    if (!this.listener && !this.connecting && !this.retry) void this.listen();
    return this.listener !== undefined;
  }

  private invalidate(key: string): void {
    if (key.startsWith('client:')) this.clients.delete(key);
    else if (key.startsWith('sandbox:')) this.sandboxes.delete(key);
    else this.clearAll();
  }

  private clearAll(): void {
    this.clients.clear();
    this.sandboxes.clear();
  }

  /** Opened on first use, so app contexts that authenticate nothing (the CLI) hold no connection. */
  private async listen(): Promise<void> {
    this.retry = undefined;
    this.connecting = true;
    const url = (this.dataSource.options as { url?: string }).url;
    const client = new pg.Client({ connectionString: url });
    let gone = false;
    const lost = (why: string): void => {
      if (gone) return;
      gone = true;
      this.connecting = false;
      if (this.listener === client) this.listener = undefined;
      this.clearAll();
      client.end().catch(() => undefined);
      if (this.stopped) return;
      if (this.failures++ === 0)
        this.logger.warn(
          `auth cache: LISTEN connection lost (${why}); lookups read the database until it is back`,
        );
      this.retry = setTimeout(
        () => {
          this.retry = undefined;
        },
        Math.min(RELISTEN_MAX_MS, 250 * 2 ** Math.min(this.failures, 8)),
      );
      this.retry.unref();
    };
    client.on('notification', (msg) => this.invalidate(msg.payload ?? '*'));
    client.on('error', (err) => lost(err.message));
    client.on('end', () => lost('connection closed'));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      lost(err instanceof Error ? err.message : String(err));
      return;
    }
    if (gone) return;
    this.connecting = false;
    if (this.stopped) {
      gone = true;
      await client.end().catch(() => undefined);
      return;
    }
    // Whatever was stored before this connection listened may have missed a change.
    this.clearAll();
    this.listener = client;
    if (this.failures > 0)
      this.logger.info('auth cache: LISTEN connection restored');
    this.failures = 0;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }
}
