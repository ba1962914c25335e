import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Env } from '../config/env.js';
import {
  EmbeddedDatabase,
  embeddedUrl,
  waitForConnections,
} from './embedded-postgres.js';

export interface OpenedDatabase {
  url: string;
  /** How the database was reached, for start-up messages. */
  mode: 'external' | 'embedded-started' | 'embedded-shared';
  /** Port of the embedded server (when embedded). */
  port?: number;
  dataDir?: string;
  /** Stops the embedded server if this process started it; otherwise does nothing. */
  stop(): Promise<void>;
}

/**
 * The database the app and the CLI use: DATABASE_URL when set; otherwise the
 * embedded PostgreSQL in DATA_DIR/pg. When another live process (a running
 * `npm start`, or the CLI) already serves that directory, we connect to it
 * instead of starting a second server on the same files.
 */
export async function openDatabase(
  env: Env,
  opts: { onLog?: (line: string) => void } = {},
): Promise<OpenedDatabase> {
  if (env.DATABASE_URL) {
    return {
      url: env.DATABASE_URL,
      mode: 'external',
      stop: () => Promise.resolve(),
    };
  }
  const dataDir = resolve(join(env.DATA_DIR, 'pg'));
  const running = runningPostmaster(dataDir);
  if (running) {
    const url = embeddedUrl(running.port ?? env.EMBEDDED_PG_PORT);
    await waitForConnections(url);
    return {
      url,
      mode: 'embedded-shared',
      port: running.port ?? env.EMBEDDED_PG_PORT,
      dataDir,
      stop: () => Promise.resolve(),
    };
  }
  const embedded = new EmbeddedDatabase({
    dataDir,
    port: env.EMBEDDED_PG_PORT,
    onLog: opts.onLog,
  });
  const url = await embedded.start();
  return {
    url,
    mode: 'embedded-started',
    port: env.EMBEDDED_PG_PORT,
    dataDir,
    stop: () => embedded.stop(),
  };
}

/**
 * The postmaster serving `dataDir`, if it is alive and still owned by a live
 * process. A postmaster whose parent died (reparented to init, parent not a
 * node process) is an orphan that EmbeddedDatabase.start() stops and replaces.
 */
export function runningPostmaster(
  dataDir: string,
): { pid: number; port?: number } | undefined {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  if (isOrphan(pid)) return undefined;
  // Line 4 of postmaster.pid is the port the server listens on.
  const port = Number(lines[3]);
  return {
    pid,
    port: Number.isInteger(port) && port > 0 ? port : undefined,
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive but not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Linux only (/proc); elsewhere a live postmaster is assumed to be owned. */
function isOrphan(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) state ppid …`; comm may contain spaces, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isInteger(ppid) || ppid <= 0) return false;
    const parent = readFileSync(`/proc/${ppid}/comm`, 'utf8').trim();
    return !/node/i.test(parent);
  } catch {
    return false;
  }
}
