import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedDatabase } from '../src/database/embedded-postgres.js';

/** A port free on loopback right now (for the embedded Postgres and the emulator). */
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

export interface ScratchDatabase {
  url: string;
  /** The server's data directory (holds postmaster.pid). */
  dataDir: string;
  /** Stops the server and deletes its data. */
  remove(): Promise<void>;
}

/** A throwaway embedded PostgreSQL for one benchmark run. */
export async function startScratchDatabase(): Promise<ScratchDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fse-bench-'));
  // Postgres runs as its own user when we are root: it must reach the folder.
  chmodSync(dataDir, 0o755);
  const db = new EmbeddedDatabase({
    dataDir,
    port: await freePort(),
    persistent: false,
  });
  const url = await db.start();
  return {
    url,
    dataDir,
    remove: async () => {
      await db.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
