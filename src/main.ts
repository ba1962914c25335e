import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module.js';
import { configureApp, setupSwagger } from './app.setup.js';
import { Env, EnvValidationError, loadEnv } from './config/env.js';
import { resolveSecrets } from './config/secrets.js';
import { migrate } from './data-source.js';
import { openDatabase } from './database/database.js';
import { DEFAULT_DEV_ORG_ID, ensureDevClient } from './dev-client.js';
import { exitOnSignals } from './lifecycle/shutdown.js';
import {
  createLogger,
  PinoNestLogger,
  resolveLogFormat,
} from './logging/logger.js';
import {
  optionalModules,
  describeOptionalModules,
} from './optional-modules.js';
import { TenancyService } from './tenancy/tenancy.service.js';
import { MetricsService } from './metrics/metrics.service.js';
import { RunnerWorkers, runnerWorkerCount } from './runner/workers.js';

/** How long workers get to finish their steps and release their leases on shutdown. */
const WORKER_STOP_MS = 15_000;

async function bootstrap(): Promise<void> {
  let env;
  try {
    env = loadEnv();
  } catch (err) {
    if (err instanceof EnvValidationError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(
    env.LOG_LEVEL,
    undefined,
    resolveLogFormat(env.LOG_FORMAT),
  );
  const database = await openDatabase(env);
  const databaseUrl = database.url;
  if (database.mode !== 'external') {
    logger.info(
      { port: database.port, dataDir: database.dataDir },
      database.mode === 'embedded-started'
        ? 'embedded PostgreSQL started'
        : 'using the embedded PostgreSQL another process is running',
    );
  }
  const stopDatabase = async (): Promise<void> => {
    await database
      .stop()
      .catch((err: unknown) =>
        logger.error({ err }, 'embedded PostgreSQL did not stop cleanly'),
      );
  };
  try {
    await migrate(databaseUrl);
    const secrets = resolveSecrets(env);
    // With runner workers, this process serves the API (and the segment
    // worker, the emulator) and the workers export.
    const workerCount = runnerWorkerCount(env);
    const appEnv = workerCount
      ? Object.assign(new Env(), env, {
          RUNNER_ENABLED: false,
          SEGMENT_WORKER_ENABLED: env.SEGMENT_WORKER_ENABLED ?? true,
        })
      : env;
    const app = await NestFactory.create(
      AppModule.forRoot({
        env: appEnv,
        databaseUrl,
        secrets,
        imports: optionalModules(env, databaseUrl),
        logger,
      }),
      { bodyParser: false, logger: new PinoNestLogger(logger) },
    );
    configureApp(app, env);
    setupSwagger(app);
    const dev = await ensureDevClient(env, app.get(TenancyService));
    await app.listen(env.PORT, env.HOST);
    const workers = new RunnerWorkers(
      new URL('./runner-worker.js', import.meta.url).pathname,
      workerCount,
      { env, raw: process.env, secrets },
      databaseUrl,
      app.get(MetricsService),
      logger,
    );
    workers.start();

    exitOnSignals(app, {
      timeoutMs: env.SHUTDOWN_TIMEOUT_MS,
      logger,
      before: () => workers.stop(WORKER_STOP_MS),
      after: stopDatabase,
    });

    // PORT=0 takes a free port: say which.
    const port = (app.getHttpServer() as Server).address() as AddressInfo;
    const base = `http://localhost:${port.port}`;
    const lines = [
      '',
      `flowservice-eventhubs is listening on ${base}`,
      `  Console:      ${base}/console`,
      `  Swagger UI:   ${base}/docs`,
      `  Health:       ${base}/health`,
      `  Metrics:      ${base}/metrics ${env.METRICS_TOKEN ? '(bearer METRICS_TOKEN)' : '(no auth: keep it on an internal network, or set METRICS_TOKEN)'}`,
      `  Database:     ${database.mode === 'external' ? 'external (DATABASE_URL)' : `embedded PostgreSQL on 127.0.0.1:${database.port} (data in ${database.dataDir})`}`,
      ...describeOptionalModules(env),
      ...(workerCount
        ? [
            `                ${workerCount} runner worker processes (RUNNER_WORKERS)`,
          ]
        : []),
    ];
    if (dev) {
      lines.push(
        '',
        'Development client (for local use only):',
        `  client id:     ${dev.clientId}`,
        `  client secret: ${dev.clientSecret}`,
        `  org id:        ${dev.orgId}${dev.orgId === DEFAULT_DEV_ORG_ID ? ' (set DEV_ORG_ID to change)' : ''}`,
        '',
        'Get a token:',
        `  curl -s -X POST ${base}/ims/token/v3 -d grant_type=client_credentials -d client_id=${dev.clientId} -d client_secret=${dev.clientSecret}`,
        '',
        'Then call the API with:',
        `  -H "Authorization: Bearer $TOKEN" -H "x-api-key: ${dev.clientId}" -H "x-gw-ims-org-id: ${dev.orgId}" -H "x-sandbox-name: prod"`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n\n`);
  } catch (err) {
    logger.error({ err }, 'start-up failed');
    await stopDatabase();
    process.exit(1);
  }
}

await bootstrap();
