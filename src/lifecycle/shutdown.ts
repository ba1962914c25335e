import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { Draining } from './draining.js';

/** Share of the shutdown budget in-flight requests get before their connections are cut. */
const REQUEST_SHARE = 0.4;
/** How often connections that went idle during the drain are closed. */
const IDLE_SWEEP_MS = 200;

export interface ShutdownOptions {
  /** SHUTDOWN_TIMEOUT_MS: after this the process exits whatever is still running. */
  timeoutMs: number;
  logger: Logger;
  /**
   * Runs before the app closes: stopping runner worker processes, whose last
   * steps still need the database and the emulator this process may host.
   */
  before?: () => Promise<void>;
  /** Runs after the app closed: stopping the embedded database. */
  after?: () => Promise<void>;
  exit?: (code: number) => never;
}

/**
 * SIGTERM and SIGINT start one bounded shutdown. A repeated signal (a
 * supervisor that signals the process and its group, npm forwarding what it
 * got) changes nothing: the bound holds either way.
 */
export function exitOnSignals(
  app: INestApplication,
  opts: ShutdownOptions,
): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      opts.logger.info({ signal }, 'already shutting down');
      return;
    }
    stopping = true;
    opts.logger.info(
      { signal, timeoutMs: opts.timeoutMs },
      'shutting down: draining requests, export steps and segment batches',
    );
    void shutDown(app, opts);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * The drain, in parallel where it can be: the listener closes and idle
 * keep-alive connections with it; an NDJSON upload stops reading and
 * answers what it stored (Draining); other requests finish, for at most
 * REQUEST_SHARE of the budget; the runner stops claiming and lets its
 * in-flight steps commit or give up (a step not committed is exported again
 * by whoever takes the flow next); the segment worker stops after its
 * batch. Then pools close and the embedded database stops. Past the budget
 * the process exits with 1: something was stuck, and nothing acknowledged
 * depends on it.
 */
export async function shutDown(
  app: INestApplication,
  opts: ShutdownOptions,
): Promise<void> {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const started = Date.now();
  // Not unref'd: it must fire even while a stuck socket or timer keeps the loop alive.
  const hard = setTimeout(() => {
    opts.logger.error(
      { timeoutMs: opts.timeoutMs },
      'shutdown did not finish within SHUTDOWN_TIMEOUT_MS; exiting now',
    );
    exit(1);
  }, opts.timeoutMs);
  app.get(Draining).start();
  const server = app.getHttpServer() as Server;
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  const cut = setTimeout(
    () => {
      opts.logger.warn(
        'requests still running at the end of their share of the shutdown: closing their connections',
      );
      server.closeAllConnections();
    },
    Math.floor(opts.timeoutMs * REQUEST_SHARE),
  );
  let code = 0;
  try {
    await opts.before?.();
    await app.close();
  } catch (err) {
    code = 1;
    opts.logger.error({ err }, 'closing the app failed');
  } finally {
    clearInterval(sweep);
    clearTimeout(cut);
  }
  await opts.after?.();
  clearTimeout(hard);
  opts.logger.info({ ms: Date.now() - started }, 'shut down');
  exit(code);
}
