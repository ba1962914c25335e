import { Test } from '@nestjs/testing';
import { startAdminServer } from '../../src/emulator/admin-server.js';
import {
  EVENT_HUBS_EMULATOR,
  EventHubsEmulatorModule,
} from '../../src/emulator/emulator.module.js';
import { EventHubsEmulator } from '../../src/emulator/index.js';
import { parseHub, parseKey } from '../../src/emulator/cli.js';
import {
  NO_RETRY,
  TEST_KEY,
  captureError,
  sendBodies,
  startHarness,
} from './helpers.js';
import { EventHubProducerClient } from '@azure/event-hubs';

describe('Nest module', () => {
  it('starts the emulator on init and stops it on shutdown', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventHubsEmulatorModule.forRoot({
          port: 0,
          hubs: [{ name: 'nest', partitionCount: 3 }],
          keys: { RootManageSharedAccessKey: TEST_KEY },
        }),
      ],
    }).compile();
    const app = await moduleRef.init();
    const emulator = app.get<EventHubsEmulator>(EVENT_HUBS_EMULATOR);
    expect(emulator).toBeInstanceOf(EventHubsEmulator);
    expect(emulator.isRunning).toBe(true);
    const producer = new EventHubProducerClient(
      emulator.connectionString(),
      'nest',
      NO_RETRY,
    );
    try {
      expect(await producer.getPartitionIds()).toEqual(['0', '1', '2']);
    } finally {
      await producer.close();
    }
    await app.close();
    expect(emulator.isRunning).toBe(false);
  });
});

describe('admin endpoint', () => {
  it('adds faults, lists hubs and resets', async () => {
    const h = await startHarness({
      hubs: [{ name: 'adm', partitionCount: 2 }],
    });
    const admin = await startAdminServer(h.emulator, 0);
    const base = `http://127.0.0.1:${admin.port}`;
    try {
      const producer = h.producer('adm', NO_RETRY);
      await sendBodies(producer, [{ a: 1 }], { partitionId: '0' });

      const hubs = (await (await fetch(`${base}/hubs`)).json()) as Array<{
        name: string;
        partitions: Array<{ retainedEvents: number }>;
      }>;
      expect(hubs[0]!.name).toBe('adm');
      expect(hubs[0]!.partitions.map((p) => p.retainedEvents)).toEqual([1, 0]);

      const bad = await fetch(`${base}/faults`, {
        method: 'POST',
        body: JSON.stringify({ kind: 'bogus' }),
      });
      expect(bad.status).toBe(400);
      const added = await fetch(`${base}/faults`, {
        method: 'POST',
        body: JSON.stringify({
          kind: 'publish',
          effect: 'server-busy',
          count: null,
        }),
      });
      expect(added.status).toBe(201);
      expect((await captureError(sendBodies(producer, [{ a: 2 }]))).code).toBe(
        'ServerBusyError',
      );
      const faults = (await (await fetch(`${base}/faults`)).json()) as {
        fired: unknown[];
      };
      expect(faults.fired).toHaveLength(1);

      expect((await fetch(`${base}/reset`, { method: 'POST' })).status).toBe(
        200,
      );
      await sendBodies(producer, [{ a: 3 }], { partitionId: '1' });
      expect(h.emulator.getEvents('adm', '0')).toHaveLength(0);
      expect(h.emulator.getEvents('adm', '1')).toHaveLength(1);
    } finally {
      await admin.close();
      await h.closeAll();
      await h.emulator.stop();
    }
  });
});

describe('CLI argument parsing', () => {
  it('parses hubs and keys', () => {
    expect(parseHub('other:2:cg1,cg2', parseHub('orders:4'))).toEqual([
      { name: 'orders', partitionCount: 4, consumerGroups: [] },
      { name: 'other', partitionCount: 2, consumerGroups: ['cg1', 'cg2'] },
    ]);
    expect(parseKey('Root=abc=', {})).toEqual({ Root: 'abc=' });
    expect(() => parseHub('x:zero')).toThrow();
  });
});
