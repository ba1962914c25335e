import type { INestApplication } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { SwaggerModule } from '@nestjs/swagger';
import { Test } from '@nestjs/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { inject } from 'vitest';
import { AppModule } from '../../src/app.module.js';
import { configureApp, setupSwagger } from '../../src/app.setup.js';
import { loadEnv } from '../../src/config/env.js';
import { PinoNestLogger } from '../../src/logging/logger.js';
import type { Logger } from 'pino';
import { TenancyService } from '../../src/tenancy/tenancy.service.js';
import { RunnerModule } from '../../src/runner/runner.module.js';

export const TEST_SECRETS = {
  tokenSigningKey: 'test-signing-key-0123456789abcdef0123456789',
  encryptionKey: Buffer.from(
    '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
    'hex',
  ),
  encryptionKeyId: 'k1',
};

let metadataLoaded = false;

/** The swagger plugin's metadata (src/metadata.ts, written by `npm run metadata` / pretest). */
async function loadSwaggerMetadata(): Promise<void> {
  if (metadataLoaded) return;
  const path = '../../src/metadata.js';
  const mod = (await import(/* @vite-ignore */ path)) as {
    default: () => Promise<Record<string, unknown>>;
  };
  await SwaggerModule.loadPluginMetadata(mod.default);
  metadataLoaded = true;
}

export interface TestApp {
  app: INestApplication;
  http: ReturnType<typeof request>;
  databaseUrl: string;
  close(): Promise<void>;
}

/** Boots the real app in-process against the run's real Postgres. */
export async function createTestApp(
  opts: {
    env?: Record<string, string>;
    imports?: DynamicModule['imports'];
    /** A pino logger for the app and Nest's own loggers (log tests capture its output). */
    logger?: Logger;
    /** A database of the test's own (one it stops and starts); the run's shared one by default. */
    databaseUrl?: string;
  } = {},
): Promise<TestApp> {
  await loadSwaggerMetadata();
  const databaseUrl = opts.databaseUrl ?? inject('databaseUrl');
  const env = loadEnv({
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'silent',
    RUNNER_ENABLED: 'false',
    // With DATABASE_URL no host:port namespace is allowed by default; the
    // tests' emulators listen on loopback.
    EVENTHUBS_ALLOWED_ENDPOINTS: '127.0.0.1,localhost',
    ...opts.env,
  });
  const moduleRef = await Test.createTestingModule({
    imports: [
      AppModule.forRoot({
        env,
        databaseUrl,
        secrets: TEST_SECRETS,
        logger: opts.logger,
        imports: [RunnerModule.forRoot(databaseUrl), ...(opts.imports ?? [])],
      }),
    ],
  }).compile();
  const app = moduleRef.createNestApplication({
    bodyParser: false,
    logger: opts.logger ? new PinoNestLogger(opts.logger) : false,
  });
  configureApp(app, env);
  setupSwagger(app);
  await app.init();
  return {
    app,
    http: request(app.getHttpServer()),
    databaseUrl,
    close: () => app.close(),
  };
}

export interface TestTenant {
  orgId: string;
  clientId: string;
  clientSecret: string;
  token: string;
  sandbox: string;
  /** Platform headers for this tenant. */
  headers: Record<string, string>;
}

/** A fresh org with its own client, so tests never see each other's data. */
export async function createTenant(
  t: TestApp,
  opts: { sandboxes?: string[] } = {},
): Promise<TestTenant> {
  const orgId = `${randomBytes(12).toString('hex').toUpperCase()}@AdobeOrg`;
  const created = await t.app.get(TenancyService).createClient({
    orgId,
    clientId: `test-${randomUUID()}`,
    sandboxes: opts.sandboxes,
  });
  const res = await t.http
    .post('/ims/token/v3')
    .type('form')
    .send({
      grant_type: 'client_credentials',
      client_id: created.clientId,
      client_secret: created.clientSecret,
    })
    .expect(200);
  const token = (res.body as { access_token: string }).access_token;
  return {
    orgId,
    clientId: created.clientId,
    clientSecret: created.clientSecret,
    token,
    sandbox: 'prod',
    headers: {
      authorization: `Bearer ${token}`,
      'x-api-key': created.clientId,
      'x-gw-ims-org-id': orgId,
      'x-sandbox-name': 'prod',
    },
  };
}
