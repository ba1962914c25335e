import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { DEFAULT_EMULATOR_KEY } from '../../src/emulator/defaults.js';
import { freePort } from '../global-setup.js';
import { startReplica, stopReplica } from '../helpers/child.js';
import { HubCollector } from '../helpers/hub.js';
import { eventually } from '../helpers/wait.js';

const run = promisify(execFile);

/** The README's walkthrough, run as a user would: the built service, curl, the SDK consumer. */
describe('examples/walkthrough.sh', () => {
  let service: ChildProcess & { output: string[] };
  let port: number;
  let emulatorPort: number;
  const secret = 'walkthrough-secret-0123456789';
  const org = 'WALKTHROUGH000000000000000@AdobeOrg';

  beforeAll(async () => {
    port = await freePort();
    emulatorPort = await freePort();
    service = startReplica(inject('databaseUrl'), {
      PORT: String(port),
      EMULATOR_ENABLED: 'true',
      EMULATOR_PORT: String(emulatorPort),
      DEV_CLIENT_ID: 'walkthrough-client',
      DEV_CLIENT_SECRET: secret,
      DEV_ORG_ID: org,
    });
    await eventually(
      () => {
        if (service.exitCode !== null)
          throw new Error(`service exited: ${service.output.join('')}`);
        return service.output.join('').includes('Development client');
      },
      () => `the service to start: ${service.output.join('')}`,
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  });

  afterAll(async () => {
    expect(await stopReplica(service)).toBe(0);
  });

  it('creates the flow with curl and the exports arrive on the hub', async () => {
    const { stdout } = await run(
      'bash',
      [resolve(import.meta.dirname, '../../examples/walkthrough.sh')],
      {
        env: {
          PATH: process.env.PATH ?? '',
          BASE: `http://127.0.0.1:${port}`,
          CLIENT_ID: 'walkthrough-client',
          CLIENT_SECRET: secret,
          ORG_ID: org,
          EH_NAMESPACE: `127.0.0.1:${emulatorPort}`,
          EH_KEY: DEFAULT_EMULATOR_KEY,
          EVENT_HUB: 'walkthrough',
        },
        timeout: 60_000,
      },
    );
    expect(stdout).toContain('connection test: {"result":true}');
    const collector = new HubCollector(
      `Endpoint=sb://127.0.0.1:${emulatorPort}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${DEFAULT_EMULATOR_KEY};UseDevelopmentEmulator=true`,
      'walkthrough',
    );
    collector.start();
    try {
      await collector.waitFor((ev) => ev.length >= 2, 30_000);
      // Delivery is at-least-once: a retried step resends under the same
      // messageId, so exports are counted by id.
      const emails = collector
        .unique()
        .map((e) => (e.body.personalEmail as { address: string }).address)
        .sort();
      expect(
        emails,
        JSON.stringify(
          collector.events.map((e) => [e.messageId, e.properties]),
        ),
      ).toEqual(['jane@example.com', 'john@example.com']);
      const john = collector.events.find(
        (e) =>
          (e.body.personalEmail as { address: string }).address ===
          'john@example.com',
      );
      expect(john?.body.person).toEqual({ name: { firstName: 'John' } });
    } finally {
      await collector.close();
    }
  });
});
