import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { notFound } from '../common/errors.js';
import type { Tenant } from '../common/request-context.js';
import { tenantWhere } from '../common/resource.mapper.js';
import { listRows, pageOf, type SqlListSpec } from '../common/sql-listing.js';
import { ENV, type Env } from '../config/env.js';
import { RunEntity } from '../runs/run.entity.js';
import { DeliveryRecordEntity } from './delivery-record.entity.js';
import type { RecordListDto, RecordListQueryDto } from './dto/record.dto.js';
import { toRecordDto } from './record.mapper.js';
import { purgeRecords } from './record-writes.js';

const RECORD_LIST: SqlListSpec = {
  fields: {
    id: { type: 'uuid', sql: 'e.id' },
    profileId: { type: 'uuid', sql: 'e.profile_id' },
    targetConnectionId: { type: 'uuid', sql: 'e.target_connection_id' },
    reasonCode: { type: 'text', sql: 'e.reason_code' },
    trigger: { type: 'text', sql: 'e.trigger' },
    createdAt: { type: 'epochMs', sql: 'e.created_at' },
  },
  sortable: {
    createdAt: { type: 'epochMs', sql: 'e.created_at' },
    id: { type: 'uuid', sql: 'e.id' },
  },
};

/** How often the retention cleanup runs, and its bound per run. */
const PURGE_INTERVAL_MS = 10 * 60_000;
const PURGE_BATCH = 5_000;
const PURGE_MAX_BATCHES = 20;

/** Undelivered records: the list per run, and their retention. */
@Injectable()
export class RecordsService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('RecordsService');
  private timer?: NodeJS.Timeout;
  private purging?: Promise<void>;

  constructor(
    @InjectRepository(DeliveryRecordEntity)
    private readonly records: Repository<DeliveryRecordEntity>,
    @InjectRepository(RunEntity) private readonly runs: Repository<RunEntity>,
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async list(
    tenant: Tenant,
    runId: string,
    query: RecordListQueryDto,
  ): Promise<RecordListDto> {
    const run = await this.runs.findOne({
      where: { id: runId, ...tenantWhere(tenant) },
      select: { id: true },
    });
    if (!run) throw notFound('runs', runId);
    const qb = this.records
      .createQueryBuilder('e')
      .where('e.run_id = :runId', { runId });
    if (query.status)
      qb.andWhere('e.status = :status', { status: query.status });
    const result = await listRows(
      qb,
      query,
      RECORD_LIST,
      `/data/foundation/flowservice/runs/${runId}/records`,
    );
    const page = pageOf(result, (rows) =>
      rows.map(toRecordDto),
    ) as RecordListDto;
    // The next page keeps the status filter (the list helper knows only its own parameters).
    const next = (page._links as { next?: { href: string } } | undefined)?.next;
    if (next && query.status) next.href += `&status=${query.status}`;
    return page;
  }

  /** Deletes records past DELIVERY_RECORD_RETENTION_DAYS; bounded per call. */
  purge(): Promise<number> {
    return purgeRecords(
      this.ds,
      this.env.DELIVERY_RECORD_RETENTION_DAYS,
      PURGE_BATCH,
      PURGE_MAX_BATCHES,
    );
  }

  onModuleInit(): void {
    // Replicas that run exports clean up after them; API-only ones do not.
    if (!this.env.RUNNER_ENABLED) return;
    this.timer = setInterval(() => this.purgeInBackground(), PURGE_INTERVAL_MS);
    this.timer.unref();
  }

  private purgeInBackground(): void {
    if (this.purging) return;
    this.purging = this.purge()
      .then((n) => {
        if (n) this.logger.log(`deleted ${n} delivery records past retention`);
      })
      .catch((err: unknown) =>
        this.logger.warn(
          { err },
          `delivery record purge failed: ${String(err)}`,
        ),
      )
      .finally(() => (this.purging = undefined));
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.purging;
  }
}
