import { type ChildProcess, fork } from 'node:child_process';
import type { Logger } from 'pino';
import { type Env, endpointPolicy } from '../config/env.js';
import type { AppSecrets } from '../config/secrets.js';
import type { MetricsService } from '../metrics/metrics.service.js';

/** How many runner processes `npm start` forks; 0: the runner runs in the API's process. */
export function runnerWorkerCount(env: Env): number {
  return env.RUNNER_ENABLED && env.RUNNER_WORKERS > 1 ? env.RUNNER_WORKERS : 0;
}

/**
 * The environment of a worker process: the primary's, on its database, with
 * only the runner (the primary keeps the API, the segment worker and the
 * emulator; a worker serves no port). A worker is given the database's URL,
 * so what the primary derived from running the embedded default (its
 * secrets, the loopback endpoints) is passed on explicitly.
 */
export function workerEnv(
  primary: { env: Env; raw: NodeJS.ProcessEnv; secrets: AppSecrets },
  databaseUrl: string,
  index: number,
): NodeJS.ProcessEnv {
  const endpoints = endpointPolicy(primary.env).endpoints;
  return {
    ...primary.raw,
    DATABASE_URL: databaseUrl,
    TOKEN_SIGNING_KEY: primary.secrets.tokenSigningKey,
    ENCRYPTION_KEY: primary.secrets.encryptionKey.toString('hex'),
    EVENTHUBS_ALLOWED_ENDPOINTS: endpoints.length
      ? endpoints.join(',')
      : 'none',
    RUNNER_ENABLED: 'true',
    RUNNER_WORKERS: '0',
    SEGMENT_WORKER_ENABLED: 'false',
    EMULATOR_ENABLED: 'false',
    FSE_RUNNER_WORKER: String(index),
  };
}

/** The MetricsService methods the runner calls; a worker forwards them to the primary. */
const FORWARDED = ['recordExports', 'recordRetry', 'recordStepError'] as const;
type Forwarded = (typeof FORWARDED)[number];

interface MetricMessage {
  fse: 'metric';
  method: Forwarded;
  args: unknown[];
}

/** A worker says so once its runner has started. */
const READY = { fse: 'ready' } as const;

/** In a worker: tells the primary that its runner has started. */
export function reportReady(): void {
  if (process.connected) process.send?.(READY);
}

function isMetricMessage(m: unknown): m is MetricMessage {
  const msg = m as Partial<MetricMessage> | null;
  return (
    msg?.fse === 'metric' &&
    FORWARDED.includes(msg.method as Forwarded) &&
    Array.isArray(msg.args)
  );
}

/**
 * In a worker: the runner's counters go to the primary, whose /metrics
 * serves them (the per-flow gauges are read from the database there).
 */
export function forwardMetrics(metrics: MetricsService): void {
  for (const method of FORWARDED) {
    (metrics as unknown as Record<Forwarded, (...args: unknown[]) => void>)[
      method
    ] = (...args: unknown[]) => {
      if (process.connected)
        process.send?.({ fse: 'metric', method, args } satisfies MetricMessage);
    };
  }
}

/** A worker that dies unexpectedly is started again after this long. */
const RESTART_MS = 1000;

/**
 * The runner in its own processes (each its own event loop), forked by the
 * API's process: each worker is a runner replica of its own (own owner id,
 * own leases), so lanes spread over them as over replicas. Counters come
 * back over IPC; a worker that dies is restarted; stop() sends SIGTERM and
 * waits (bounded), then SIGKILLs what is left: its leases lapse after
 * RUNNER_LEASE_MS.
 */
export class RunnerWorkers {
  private readonly workers = new Map<number, ChildProcess>();
  private readonly started = new Set<number>();
  private stopping = false;

  constructor(
    private readonly script: string,
    private readonly count: number,
    private readonly primary: {
      env: Env;
      raw: NodeJS.ProcessEnv;
      secrets: AppSecrets;
    },
    private readonly databaseUrl: string,
    private readonly metrics: MetricsService,
    private readonly logger: Logger,
  ) {}

  start(): void {
    for (let i = 0; i < this.count; i++) this.spawn(i);
  }

  private spawn(index: number): void {
    const child = fork(this.script, [], {
      env: workerEnv(this.primary, this.databaseUrl, index),
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.workers.set(index, child);
    child.on('message', (m: unknown) => {
      if ((m as { fse?: string } | null)?.fse === READY.fse)
        this.started.add(index);
      if (!isMetricMessage(m)) return;
      (this.metrics[m.method] as (...args: unknown[]) => void)(...m.args);
    });
    child.once('exit', (code, signal) => {
      if (this.workers.get(index) === child) this.workers.delete(index);
      this.started.delete(index);
      if (this.stopping) return;
      this.logger.error(
        { worker: index, code, signal },
        `runner worker ${index} exited; restarting it`,
      );
      setTimeout(() => {
        if (!this.stopping) this.spawn(index);
      }, RESTART_MS).unref();
    });
  }

  /** The running workers' process ids (a benchmark reads their CPU time). */
  pids(): number[] {
    return [...this.workers.values()].flatMap((c) =>
      c.pid === undefined ? [] : [c.pid],
    );
  }

  /** Resolves once every worker's runner has started (a benchmark times only exporting). */
  async ready(timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.started.size < this.count) {
      if (Date.now() > end)
        throw new Error(
          `${this.count - this.started.size} runner workers did not start`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM to every worker; after `timeoutMs`, SIGKILL to those still running. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const running = [...this.workers.values()].filter(
      (c) => c.exitCode === null && c.signalCode === null,
    );
    await Promise.all(
      running.map(
        (child) =>
          new Promise<void>((resolve) => {
            const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    this.workers.clear();
  }
}
