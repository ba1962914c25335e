import {
  EventHubBufferedProducerClient,
  earliestEventPosition,
  type ReceivedEventData,
} from '@azure/event-hubs';
import { partitionForKey } from '../../src/emulator/index.js';
import {
  FAST_RETRY,
  captureError,
  receive,
  sendBodies,
  startHarness,
  type Harness,
} from './helpers.js';
import { eventually } from '../helpers/wait.js';

describe('consumers, groups and producers', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      hubs: [
        { name: 'groups', partitionCount: 2, consumerGroups: ['Audit'] },
        { name: 'rr', partitionCount: 3 },
        { name: 'buffered', partitionCount: 4 },
        { name: 'epochs', partitionCount: 1 },
      ],
    });
  });
  afterEach(async () => {
    await h.closeAll();
  });
  afterAll(async () => {
    await h.emulator.stop();
  });

  it('gives every consumer group the whole stream', async () => {
    await sendBodies(h.producer('groups', FAST_RETRY), [{ n: 1 }, { n: 2 }], {
      partitionId: '1',
    });
    const a = await receive(h.consumer('groups', '$Default'), '1', 2, {
      startPosition: earliestEventPosition,
    });
    // Consumer group names are case-insensitive, as in the service.
    const b = await receive(h.consumer('groups', 'audit'), '1', 2, {
      startPosition: earliestEventPosition,
    });
    expect(a.map((e) => e.body)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(b.map((e) => e.body)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('refuses an unknown consumer group as MessagingEntityNotFoundError', async () => {
    const consumer = h.consumer('groups', 'nope', FAST_RETRY);
    const err = await new Promise<Error>((resolve) => {
      const sub = consumer.subscribe('0', {
        processEvents: async () => {},
        processError: async (e) => {
          resolve(e);
          await sub.close();
        },
      });
    });
    expect((err as { code?: string }).code).toBe(
      'MessagingEntityNotFoundError',
    );
  });

  it('spreads unkeyed batches round robin over partitions', async () => {
    const producer = h.producer('rr', FAST_RETRY);
    for (let i = 0; i < 6; i++) await sendBodies(producer, [{ i }]);
    expect(
      ['0', '1', '2'].map((p) => h.emulator.publishedCount('rr', p)),
    ).toEqual([2, 2, 2]);
  });

  it('the subscribe-all load balancer reads every partition', async () => {
    const producer = h.producer('rr', FAST_RETRY);
    const before = h.emulator.publishedCount('rr');
    for (let i = 0; i < 3; i++) await sendBodies(producer, [{ all: i }]);
    const seen: ReceivedEventData[] = [];
    const sub = h.consumer('rr').subscribe(
      {
        processEvents: async (events) => {
          seen.push(...events);
        },
        processError: async () => {},
      },
      { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
    );
    try {
      await eventually(() => seen.length >= before + 3, 'all events', {
        timeoutMs: 15_000,
        intervalMs: 10,
      });
    } finally {
      await sub.close();
    }
    expect(
      seen.filter((e) => (e.body as { all?: number }).all !== undefined),
    ).toHaveLength(3);
  });

  it('the buffered producer maps keys client-side to the same partitions', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `customer-${i}`);
    const buffered = h.track(
      new EventHubBufferedProducerClient(
        h.emulator.connectionString(),
        'buffered',
        {
          ...FAST_RETRY,
          onSendEventsErrorHandler: () => {},
          maxWaitTimeInMs: 20,
        },
      ),
    );
    for (const key of keys)
      await buffered.enqueueEvent({ body: { key } }, { partitionKey: key });
    await buffered.flush();
    // The plain producer sends with the key and lets the emulator hash it.
    const producer = h.producer('buffered', FAST_RETRY);
    for (const key of keys)
      await sendBodies(producer, [{ key, plain: true }], { partitionKey: key });
    for (let p = 0; p < 4; p++) {
      const stored = h.emulator.getEvents('buffered', String(p));
      for (const e of stored) {
        const { key } = e.body as { key: string };
        expect(partitionForKey(key, 4)).toBe(p);
      }
    }
    expect(h.emulator.publishedCount('buffered')).toBe(40);
  });

  it('an owner-level receiver steals the partition; a lower epoch is refused', async () => {
    await sendBodies(h.producer('epochs', FAST_RETRY), [{ e: 1 }], {
      partitionId: '0',
    });
    const errors: Error[] = [];
    const first = h.consumer('epochs', '$default', FAST_RETRY);
    const events: ReceivedEventData[] = [];
    const sub1 = first.subscribe(
      '0',
      {
        processEvents: async (evs) => {
          events.push(...evs);
        },
        processError: async (e) => {
          errors.push(e);
        },
      },
      {
        startPosition: earliestEventPosition,
        ownerLevel: 1,
        maxWaitTimeInSeconds: 1,
      },
    );
    await eventually(() => events.length >= 1, 'first receiver', {
      timeoutMs: 10_000,
      intervalMs: 10,
    });

    const second = h.consumer('epochs', '$default', FAST_RETRY);
    const got2: ReceivedEventData[] = [];
    const sub2 = second.subscribe(
      '0',
      {
        processEvents: async (evs) => {
          got2.push(...evs);
        },
        processError: async () => {},
      },
      {
        startPosition: earliestEventPosition,
        ownerLevel: 2,
        maxWaitTimeInSeconds: 1,
      },
    );
    await eventually(() => errors.length > 0, 'ownership lost', {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    expect((errors[0] as { code?: string }).code).toBe(
      'ReceiverDisconnectedError',
    );
    await eventually(() => got2.length >= 1, 'second receiver', {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    await sub1.close();

    const low = h.consumer('epochs', '$default', FAST_RETRY);
    const lowErr = await new Promise<Error>((resolve) => {
      const sub = low.subscribe(
        '0',
        {
          processEvents: async () => {},
          processError: async (e) => {
            resolve(e);
            await sub.close();
          },
        },
        { ownerLevel: 1 },
      );
    });
    expect((lowErr as { code?: string }).code).toBe(
      'ReceiverDisconnectedError',
    );
    await sub2.close();
    expect(h.emulator.readerCount('epochs')).toBe(0);
  });

  it('refuses an unknown partition as ArgumentOutOfRangeError', async () => {
    const err = await captureError(
      h.producer('groups', FAST_RETRY).getPartitionProperties('7'),
    );
    expect(err.code).toBe('ArgumentOutOfRangeError');
  });
});
