import { randomUUID } from 'node:crypto';
import { EventHubsEmulator } from '../../src/emulator/index.js';
import { createTestApp, type TestApp } from './app.js';
import { HubCollector } from './hub.js';

/**
 * The real app with its runner ticking fast, the local emulator, and SDK
 * consumers on hubs the test creates: what every export test starts from.
 */
export interface RunnerHarness {
  t: TestApp;
  emulator: EventHubsEmulator;
  /** A new hub (partitions: 2) with a started SDK consumer on it. */
  hub(prefix: string): { name: string; collector: HubCollector };
  close(): Promise<void>;
}

export async function startRunnerHarness(): Promise<RunnerHarness> {
  const emulator = new EventHubsEmulator({ autoCreateHubs: true });
  await emulator.start();
  const t = await createTestApp({
    env: {
      RUNNER_ENABLED: 'true',
      RUNNER_INTERVAL_MS: '100',
      RUNNER_LEASE_MS: '3000',
      RUNNER_MAX_BACKOFF_MS: '500',
    },
  });
  const collectors: HubCollector[] = [];
  return {
    t,
    emulator,
    hub(prefix) {
      const name = `${prefix}-${randomUUID().slice(0, 8)}`;
      emulator.addHub({ name, partitionCount: 2 });
      const collector = new HubCollector(emulator.connectionString(name), name);
      collectors.push(collector);
      collector.start();
      return { name, collector };
    },
    async close() {
      for (const c of collectors) await c.close();
      await t.close();
      await emulator.stop();
    },
  };
}
