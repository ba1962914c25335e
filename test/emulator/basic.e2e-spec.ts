import {
  earliestEventPosition,
  type ReceivedEventData,
} from '@azure/event-hubs';
import { partitionForKey } from '../../src/emulator/index.js';
import { FAST_RETRY, receive, startHarness, type Harness } from './helpers.js';
import { eventually } from '../helpers/wait.js';

describe('EventHubsEmulator with the real SDK', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      hubs: [
        { name: 'orders', partitionCount: 4, consumerGroups: ['audit'] },
        { name: 'other', partitionCount: 2 },
        { name: 'big', partitionCount: 1 },
      ],
    });
  });
  afterEach(async () => {
    await h.closeAll();
  });
  afterAll(async () => {
    await h.emulator.stop();
  });

  it('answers management calls', async () => {
    const producer = h.producer('orders', FAST_RETRY);
    const props = await producer.getEventHubProperties();
    expect(props.name).toBe('orders');
    expect(props.partitionIds).toEqual(['0', '1', '2', '3']);
    expect(props.createdOn).toBeInstanceOf(Date);
    expect(await producer.getPartitionIds()).toEqual(['0', '1', '2', '3']);
    const p = await producer.getPartitionProperties('1');
    expect(p).toMatchObject({
      eventHubName: 'orders',
      partitionId: '1',
      isEmpty: true,
      lastEnqueuedSequenceNumber: -1,
    });
  });

  it('round-trips bodies, properties and system properties', async () => {
    const producer = h.producer('other', FAST_RETRY);
    const batch = await producer.createBatch({ partitionId: '1' });
    expect(batch.maxSizeInBytes).toBe(1024 * 1024);
    batch.tryAdd({
      body: { hello: 'world', n: 1 },
      properties: { a: 1, b: 'two', c: true },
      contentType: 'application/json',
      messageId: 'msg-1',
      correlationId: 'corr-1',
    });
    batch.tryAdd({ body: Buffer.from([1, 2, 3]) });
    await producer.sendBatch(batch);

    const consumer = h.consumer('other');
    const events: ReceivedEventData[] = [];
    const sub = consumer.subscribe(
      '1',
      {
        processEvents: async (evs) => {
          events.push(...evs);
        },
        processError: async () => {},
      },
      { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
    );
    await eventually(() => events.length >= 2, 'two events', {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    await sub.close();
    const [first, second] = events;
    expect(first!.body).toEqual({ hello: 'world', n: 1 });
    expect(first!.properties).toEqual({ a: 1, b: 'two', c: true });
    expect(first!.contentType).toBe('application/json');
    expect(first!.messageId).toBe('msg-1');
    expect(first!.correlationId).toBe('corr-1');
    expect(first!.sequenceNumber).toBe(0);
    expect(first!.offset).not.toBe('0');
    expect(Number(second!.offset)).toBeGreaterThan(Number(first!.offset));
    expect(second!.sequenceNumber).toBe(1);
    expect(Buffer.from(second!.body as Uint8Array)).toEqual(
      Buffer.from([1, 2, 3]),
    );
    expect(first!.enqueuedTimeUtc).toBeInstanceOf(Date);
  });

  it('round-trips full batches, which are stored as views of the received frame', async () => {
    const producer = h.producer('big', FAST_RETRY);
    const sent: Array<{ i: number; pad: string }> = [];
    for (let b = 0; b < 2; b++) {
      const batch = await producer.createBatch({ partitionKey: `key-${b}` });
      for (;;) {
        const body = { i: sent.length, pad: 'p'.repeat(sent.length % 700) };
        if (!batch.tryAdd({ body, properties: { i: body.i, b } })) break;
        sent.push(body);
      }
      await producer.sendBatch(batch);
    }
    const consumer = h.consumer('big');
    const plain = await receive(consumer, '0', sent.length, {
      startPosition: earliestEventPosition,
      maxBatchSize: 500,
    });
    const tracked = await receive(consumer, '0', sent.length, {
      startPosition: earliestEventPosition,
      maxBatchSize: 500,
      trackLastEnqueuedEventProperties: true,
    });
    const stored = h.emulator.getEvents('big', '0');
    for (const events of [plain, tracked]) {
      expect(events.map((e) => e.body)).toEqual(sent);
      expect(events.map((e) => e.sequenceNumber)).toEqual(
        sent.map((_, i) => i),
      );
      expect(events.map((e) => e.offset)).toEqual(stored.map((e) => e.offset));
      expect(events.map((e) => e.partitionKey)).toEqual(
        stored.map((e) => e.partitionKey),
      );
      expect(events.at(-1)!.properties).toEqual({
        i: sent.length - 1,
        b: 1,
      });
    }
    expect(stored.map((e) => e.body)).toEqual(sent);
    expect(stored[0]!.partitionKey).toBe('key-0');
    expect(stored.at(-1)!.partitionKey).toBe('key-1');
  });

  it('maps partition keys with the service hash', async () => {
    const producer = h.producer('orders', FAST_RETRY);
    const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];
    for (const key of keys) {
      const batch = await producer.createBatch({ partitionKey: key });
      batch.tryAdd({ body: { key } });
      await producer.sendBatch(batch);
    }
    for (const key of keys) {
      const pid = String(partitionForKey(key, 4));
      const stored = h.emulator.getEvents('orders', pid);
      const mine = stored.filter(
        (e) => (e.body as { key?: string }).key === key,
      );
      expect(mine).toHaveLength(1);
      expect(mine[0]!.partitionKey).toBe(key);
    }
  });
});
