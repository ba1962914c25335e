import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { OpenAPIObject } from '@nestjs/swagger';
import { dump } from 'js-yaml';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { AppModule } from '../app.module.js';
import { buildOpenApiDocument } from '../app.setup.js';
import { loadEnv } from '../config/env.js';

/** Recursively sorted object keys, so the committed files only change when the API does. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value))
    return value.map((v) => sortKeys(v) as unknown) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    ) as T;
  }
  return value;
}

/**
 * The OpenAPI document of the Platform API, built without a database: Nest's
 * preview mode resolves the module graph and routes (all Swagger needs)
 * without instantiating providers, so TypeORM never connects.
 */
export async function generateOpenApi(): Promise<OpenAPIObject> {
  const env = loadEnv({ LOG_LEVEL: 'silent' });
  const app = await NestFactory.create(
    AppModule.forRoot({
      env,
      databaseUrl: 'postgres://openapi@127.0.0.1:1/openapi',
      secrets: {
        tokenSigningKey: 'openapi-generation-only',
        encryptionKey: Buffer.alloc(32),
        encryptionKeyId: 'openapi',
      },
    }),
    { preview: true, logger: false, bodyParser: false, abortOnError: false },
  );
  try {
    return sortKeys(buildOpenApiDocument(app));
  } finally {
    await app.close();
  }
}

/** Conventional top-level order (the rest stays sorted) for readable files. */
function readableOrder(document: OpenAPIObject): OpenAPIObject {
  const { openapi, info, servers, tags, paths, components, ...rest } = document;
  return { openapi, info, servers, tags, paths, components, ...rest };
}

async function main(): Promise<void> {
  const document = readableOrder(await generateOpenApi());
  // dist/src/openapi → project root.
  const dir = resolve(import.meta.dirname, '..', '..', '..', 'openapi');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'openapi.json'),
    `${JSON.stringify(document, null, 2)}\n`,
  );
  writeFileSync(
    join(dir, 'openapi.yaml'),
    dump(document, { noRefs: true, lineWidth: 120 }),
  );
  const ops = Object.values(document.paths).reduce(
    (n, item) => n + Object.keys(item).length,
    0,
  );
  process.stdout.write(
    `Wrote ${relative(process.cwd(), dir)}/openapi.{json,yaml}: ${Object.keys(document.paths).length} paths, ${ops} operations\n`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  await main();
}
