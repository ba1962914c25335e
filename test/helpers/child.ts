import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { TEST_SECRETS } from './app.js';

const MAIN = resolve(import.meta.dirname, '../../dist/src/main.js');

/**
 * Runs the built service (`npm test` builds first) as a separate process on
 * the test database: a real replica that can be SIGKILLed.
 */
export function startReplica(
  databaseUrl: string,
  env: Record<string, string> = {},
): ChildProcess & { output: string[] } {
  if (!existsSync(MAIN))
    throw new Error(
      `${MAIN} is missing: run \`npm run build\` (npm test does it in pretest)`,
    );
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: databaseUrl,
      TOKEN_SIGNING_KEY: TEST_SECRETS.tokenSigningKey,
      ENCRYPTION_KEY: TEST_SECRETS.encryptionKey.toString('hex'),
      PORT: '0',
      HOST: '127.0.0.1',
      EMULATOR_ENABLED: 'false',
      EVENTHUBS_ALLOWED_ENDPOINTS: '127.0.0.1,localhost',
      RUNNER_ENABLED: 'true',
      RUNNER_INTERVAL_MS: '100',
      RUNNER_LEASE_MS: '2000',
      // The runner in the replica's own process (RUNNER_WORKERS forks more).
      RUNNER_WORKERS: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcess & { output: string[] };
  child.output = [];
  child.stdout?.on('data', (d: Buffer) => child.output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => child.output.push(d.toString()));
  return child;
}

export async function stopReplica(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null)
    return child.exitCode;
  return new Promise((res) => {
    child.once('exit', (code) => res(code));
    child.kill(signal);
  });
}
