import {
  Inject,
  Injectable,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource, Repository } from 'typeorm';
import { notFound } from '../common/errors.js';
import type { Tenant } from '../common/request-context.js';
import { tenantWhere } from '../common/resource.mapper.js';
import { FlowEntity } from '../flows/flow.entity.js';
import { APP_LOGGER } from '../logging/logger.js';
import { flowLags } from '../metrics/flow-lag.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { FlowMetricsDto } from './dto/flow-metrics.dto.js';
import {
  MINUTE_MS,
  type MinuteCount,
  MinuteBuckets,
  minuteSeries,
} from './minute-buckets.js';

/** How often a replica writes its counts: the endpoint trails the hub by at most this. */
const FLUSH_MS = 2_000;
/** Minutes older than this are deleted (the endpoint shows at most 24 h). */
const RETENTION_MS = 48 * 3_600_000;
const PURGE_EVERY_MS = 10 * MINUTE_MS;
/** Rows deleted per purge statement, so a backlog never becomes one long delete. */
const PURGE_BATCH = 10_000;

/**
 * The per-minute export series and lag of a flow. Counts come from the
 * runner's own calls to MetricsService.recordExports, are summed in memory
 * and added to flow_export_minutes every FLUSH_MS, so every replica's
 * exports land in the same rows. A replica that dies loses at most its last
 * FLUSH_MS of counts (a chart, not the export record: runs keep the totals).
 */
@Injectable()
export class FlowMetricsService implements OnModuleInit, OnApplicationShutdown {
  private readonly buckets = new MinuteBuckets();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private lastPurge = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
    @InjectRepository(FlowEntity)
    private readonly flows: Repository<FlowEntity>,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.metrics.onExports((flowId, sent, failed) =>
      this.buckets.add(flowId, Date.now(), sent, failed),
    );
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  async get(
    tenant: Tenant,
    flowId: string,
    minutes: number,
  ): Promise<FlowMetricsDto> {
    const flow = await this.flows.findOne({
      where: { id: flowId, ...tenantWhere(tenant) },
      select: { id: true, state: true },
    });
    if (!flow) throw notFound('flows', flowId);
    const now = Date.now();
    const since =
      Math.floor(now / MINUTE_MS) * MINUTE_MS - (minutes - 1) * MINUTE_MS;
    const [rows, lags] = await Promise.all([
      this.dataSource.query(
        `SELECT floor(extract(epoch FROM minute) * 1000)::float8 AS minute, exports, failures
           FROM flow_export_minutes
          WHERE flow_id = $1 AND minute >= to_timestamp($2::float8 / 1000)`,
        [flowId, since],
      ) as Promise<{ minute: number; exports: number; failures: number }[]>,
      flowLags(this.dataSource, { flowIds: [flowId] }),
    ]);
    const points = minuteSeries(rows, now, minutes);
    const lag = lags[0];
    return {
      flowId,
      state: flow.state,
      lagSeconds: lag ? Math.round(lag.lagSeconds * 1000) / 1000 : null,
      lastSuccessAt:
        lag?.lastSuccess != null ? Math.round(lag.lastSuccess * 1000) : null,
      minutes,
      exports: points.reduce((n, p) => n + p.exports, 0),
      failures: points.reduce((n, p) => n + p.failures, 0),
      points,
    };
  }

  /** Writes the counts gathered since the last flush; one flush at a time. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    const rows = this.buckets.drain();
    try {
      if (rows.length > 0) await this.upsert(rows);
      if (Date.now() - this.lastPurge >= PURGE_EVERY_MS) {
        this.lastPurge = Date.now();
        await this.dataSource.query(
          `DELETE FROM flow_export_minutes WHERE ctid = ANY (ARRAY(
             SELECT ctid FROM flow_export_minutes
              WHERE minute < now() - $1::float8 * interval '1 millisecond'
              LIMIT ${PURGE_BATCH}))`,
          [RETENTION_MS],
        );
      }
    } catch (err) {
      // Kept for the next flush: a database outage delays the chart, it does not lose counts.
      this.buckets.restore(rows);
      this.logger.warn({ err }, 'flow export minutes not written yet');
    }
  }

  private async upsert(rows: MinuteCount[]): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO flow_export_minutes (flow_id, minute, exports, failures)
       SELECT f, to_timestamp(m::float8 / 1000), e, x
         FROM unnest($1::uuid[], $2::float8[], $3::int[], $4::int[]) AS r(f, m, e, x)
       ON CONFLICT (flow_id, minute) DO UPDATE
         SET exports = flow_export_minutes.exports + excluded.exports,
             failures = flow_export_minutes.failures + excluded.failures`,
      [
        rows.map((r) => r.flowId),
        rows.map((r) => r.minute),
        rows.map((r) => r.exports),
        rows.map((r) => r.failures),
      ],
    );
  }
}
