import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { loadEnv } from './config/env.js';
import { resolveSecrets } from './config/secrets.js';
import {
  createLogger,
  PinoNestLogger,
  resolveLogFormat,
} from './logging/logger.js';
import { MetricsService } from './metrics/metrics.service.js';
import { RunnerModule } from './runner/runner.module.js';
import { forwardMetrics, reportReady } from './runner/workers.js';

/**
 * A runner worker process, forked by main.ts (RUNNER_WORKERS): the app's
 * modules without an HTTP server, exporting on the primary's database. It
 * stops on SIGTERM/SIGINT, or when the primary goes away.
 */
async function runWorker(): Promise<void> {
  const env = loadEnv();
  const logger = createLogger(
    env.LOG_LEVEL,
    undefined,
    resolveLogFormat(env.LOG_FORMAT),
  ).child({
    worker: process.env.FSE_RUNNER_WORKER,
  });
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) throw new Error('a runner worker needs DATABASE_URL');
  // Listening before anything slow: a primary that dies while this worker
  // boots closes the IPC channel once, and a missed 'disconnect' would
  // leave an orphan exporting on its own.
  let app: INestApplicationContext | undefined;
  let stopping = false;
  const shutdown = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ why }, 'runner worker stopping');
    // Bounded like the primary's shutdown: with the database gone, closing
    // can wait on a pool that never answers. Leases it still holds lapse.
    setTimeout(() => {
      logger.warn({ why }, 'runner worker did not stop in time; exiting');
      process.exit(1);
    }, env.SHUTDOWN_TIMEOUT_MS);
    // The scheduler finishes its steps (bounded) and releases its leases.
    await app?.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('disconnect', () => void shutdown('primary gone'));
  if (!process.connected) return void shutdown('primary gone');
  app = await NestFactory.createApplicationContext(
    AppModule.forRoot({
      env,
      databaseUrl,
      secrets: resolveSecrets(env),
      imports: [RunnerModule.forRoot(databaseUrl)],
      logger,
    }),
    { logger: new PinoNestLogger(logger) },
  );
  // Gone while the modules were built: stop before the runner starts.
  if (stopping || !process.connected) return void shutdown('primary gone');
  forwardMetrics(app.get(MetricsService));
  await app.init();
  reportReady();
}

await runWorker();
