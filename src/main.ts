import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { configureApp, setupSwagger } from './app.setup.js';
import { EnvValidationError, loadEnv } from './config/env.js';
import { resolveSecrets } from './config/secrets.js';
import { migrate } from './data-source.js';
import { openDatabase } from './database/database.js';
import { DEFAULT_DEV_ORG_ID, ensureDevClient } from './dev-client.js';
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
    const app = await NestFactory.create(
      AppModule.forRoot({
        env,
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

    let stopping = false;
    const shutdown = async (signal: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      await app.close();
      await stopDatabase();
      process.exit(0);
    };
    process.on('SIGINT', () => void shutdown('SIGINT'));
    process.on('SIGTERM', () => void shutdown('SIGTERM'));

    const base = `http://localhost:${env.PORT}`;
    const lines = [
      '',
      `flowservice-eventhubs is listening on ${base}`,
      `  Console:      ${base}/console`,
      `  Swagger UI:   ${base}/docs`,
      `  Health:       ${base}/health`,
      `  Metrics:      ${base}/metrics ${env.METRICS_TOKEN ? '(bearer METRICS_TOKEN)' : '(no auth: keep it on an internal network, or set METRICS_TOKEN)'}`,
      `  Database:     ${database.mode === 'external' ? 'external (DATABASE_URL)' : `embedded PostgreSQL on 127.0.0.1:${database.port} (data in ${database.dataDir})`}`,
      ...describeOptionalModules(env),
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
