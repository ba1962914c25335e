import { Injectable } from '@nestjs/common';
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
} from 'prom-client';
import { DataSource } from 'typeorm';
import { flowLags } from './flow-lag.js';

/** Route label for requests no controller matched (404s, early middleware answers). */
export const UNMATCHED_ROUTE = '<unmatched>';

export type ExportListener = (
  flowId: string,
  sent: number,
  failedRecords: number,
) => void;

/**
 * Prometheus metrics of one app instance. Each instance owns its registry
 * (never prom-client's global one) so several apps in one process, as in the
 * tests, do not collide. Recording is in-memory; the only SQL runs at scrape
 * time for the per-flow gauges.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  private readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency, by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  private readonly flowExports = new Counter({
    name: 'fse_flow_exports_total',
    help: 'Messages acknowledged by the event hub, per flow (one per target).',
    labelNames: ['flow_id'] as const,
    registers: [this.registry],
  });

  private readonly flowFailedRecords = new Counter({
    name: 'fse_flow_failed_records_total',
    help: 'Records the hub can never take (e.g. over 1 MB), recorded as failed in the run, per flow.',
    labelNames: ['flow_id'] as const,
    registers: [this.registry],
  });

  private readonly flowRetries = new Counter({
    name: 'fse_flow_retries_total',
    help: 'Failed publish attempts, each retried with backoff, per flow and error code.',
    labelNames: ['flow_id', 'code'] as const,
    registers: [this.registry],
  });

  private readonly runnerStepErrors = new Counter({
    name: 'fse_runner_step_errors_total',
    help: 'Runner steps that ended in an unexpected error (the flow is retried).',
    registers: [this.registry],
  });

  private readonly flowLag = new Gauge({
    name: 'fse_flow_lag_seconds',
    help: 'Age of the oldest committed profile change an enabled flow has not exported yet (0 when caught up). Read from the database at scrape time: every replica reports the same value.',
    labelNames: ['flow_id'] as const,
    registers: [this.registry],
  });

  private readonly flowLastSuccess = new Gauge({
    name: 'fse_flow_last_success_timestamp_seconds',
    help: 'Unix time of the last successful export step of an enabled flow. Read from the database at scrape time.',
    labelNames: ['flow_id'] as const,
    registers: [this.registry],
  });

  private readonly ingestRecords = new Counter({
    name: 'fse_ingest_records_total',
    help: 'Profile fragments received by the ingestion endpoint, by result (accepted, rejected).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  private readonly rateLimited = new Counter({
    name: 'fse_rate_limited_requests_total',
    help: 'Requests answered 429 by the rate limiter, by scope (client, token).',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });

  private readonly requestTimeouts = new Counter({
    name: 'fse_request_timeouts_total',
    help: 'Requests answered 503 because they exceeded REQUEST_TIMEOUT_MS.',
    registers: [this.registry],
  });

  private flowStats?: Promise<void>;

  private readonly exportListeners: ExportListener[] = [];

  constructor(private readonly dataSource: DataSource) {
    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  observeHttp(
    method: string,
    route: string,
    status: number,
    seconds: number,
  ): void {
    const labels = { method, route, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  /**
   * Calls `listener` with every step's acknowledged and failed records, so
   * the per-minute series (flow-metrics/) is fed by the same calls as the
   * counters without the runner knowing about it.
   */
  onExports(listener: ExportListener): void {
    this.exportListeners.push(listener);
  }

  recordExports(flowId: string, sent: number, failedRecords: number): void {
    for (const listener of this.exportListeners)
      listener(flowId, sent, failedRecords);
    if (sent > 0) this.flowExports.inc({ flow_id: flowId }, sent);
    if (failedRecords > 0)
      this.flowFailedRecords.inc({ flow_id: flowId }, failedRecords);
  }

  recordRetry(flowId: string, code: string): void {
    this.flowRetries.inc({ flow_id: flowId, code });
  }

  recordStepError(): void {
    this.runnerStepErrors.inc();
  }

  recordIngest(accepted: number, rejected: number): void {
    if (accepted > 0) this.ingestRecords.inc({ result: 'accepted' }, accepted);
    if (rejected > 0) this.ingestRecords.inc({ result: 'rejected' }, rejected);
  }

  recordRateLimited(scope: string): void {
    this.rateLimited.inc({ scope });
  }

  recordTimeout(): void {
    this.requestTimeouts.inc();
  }

  /** The exposition text, with the per-flow gauges read fresh from the database. */
  async render(): Promise<string> {
    // Concurrent scrapes share one query.
    this.flowStats ??= this.refreshFlowGauges().finally(() => {
      this.flowStats = undefined;
    });
    await this.flowStats;
    return this.registry.metrics();
  }

  /** Every enabled flow's lag and last success (flow-lag.ts). */
  private async refreshFlowGauges(): Promise<void> {
    const rows = await flowLags(this.dataSource, { enabledOnly: true });
    // Reset so deleted or disabled flows disappear from the exposition.
    this.flowLag.reset();
    this.flowLastSuccess.reset();
    for (const r of rows) {
      this.flowLag.set({ flow_id: r.flowId }, r.lagSeconds);
      if (r.lastSuccess !== null)
        this.flowLastSuccess.set({ flow_id: r.flowId }, r.lastSuccess);
    }
  }
}
