import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { migrate } from '../src/data-source.js';
import { EmbeddedDatabase } from '../src/database/embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr
          ? resolve(addr.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/**
 * One real PostgreSQL for the whole run: DATABASE_URL when given, otherwise an
 * embedded server in a temporary directory. Tests isolate themselves by tenant.
 */
export default async function setup(
  project: TestProject,
): Promise<() => Promise<void>> {
  const external = process.env.DATABASE_URL;
  if (external) {
    await migrate(external);
    project.provide('databaseUrl', external);
    return async () => undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'fse-test-pg-'));
  // mkdtemp makes a 0700 directory; the postgres OS user must be able to enter it.
  chmodSync(dir, 0o755);
  const db = new EmbeddedDatabase({
    dataDir: join(dir, 'data'),
    port: await freePort(),
    persistent: false,
  });
  const url = await db.start();
  await migrate(url);
  project.provide('databaseUrl', url);
  return async () => {
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
