import 'reflect-metadata';
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
  const app = await NestFactory.createApplicationContext(
    AppModule.forRoot({
      env,
      databaseUrl,
      secrets: resolveSecrets(env),
      imports: [RunnerModule.forRoot(databaseUrl)],
      logger,
    }),
    { logger: new PinoNestLogger(logger) },
  );
  forwardMetrics(app.get(MetricsService));
  let stopping = false;
  const shutdown = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ why }, 'runner worker stopping');
    // The scheduler finishes its steps (bounded) and releases its leases.
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('disconnect', () => void shutdown('primary gone'));
  await app.init();
  reportReady();
}

await runWorker();
