import {
  earliestEventPosition,
  type ReceivedEventData,
} from '@azure/event-hubs';
import {
  FAST_RETRY,
  NO_RETRY,
  captureError,
  sendBodies,
  startHarness,
  type Harness,
} from './helpers.js';
import { eventually } from '../helpers/wait.js';

describe('fault injection', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      hubs: [
        { name: 'faulty', partitionCount: 2 },
        { name: 'stream', partitionCount: 1 },
      ],
    });
  });
  afterEach(async () => {
    await h.closeAll();
    h.emulator.reset();
  });
  afterAll(async () => {
    await h.emulator.stop();
  });

  it('server-busy on publish surfaces as ServerBusyError and is retried without loss', async () => {
    const producer = h.producer('faulty', NO_RETRY);
    await producer.getPartitionIds();
    h.emulator.faults.add({
      kind: 'publish',
      effect: 'server-busy',
      hub: 'faulty',
      partition: '0',
      count: 1,
    });
    const err = await captureError(
      sendBodies(producer, [{ a: 1 }], { partitionId: '0' }),
    );
    expect(err.code).toBe('ServerBusyError');
    expect(err.retryable).toBe(true);

    h.emulator.faults.add({
      kind: 'publish',
      effect: 'server-busy',
      hub: 'faulty',
      count: 1,
    });
    await sendBodies(h.producer('faulty', FAST_RETRY), [{ b: 2 }], {
      partitionId: '0',
    });
    expect(h.emulator.getEvents('faulty', '0').map((e) => e.body)).toEqual([
      { b: 2 },
    ]);
    expect(h.emulator.faults.fired('publish')).toHaveLength(2);
  });

  it('message-size-exceeded is MessageTooLargeError and not retried', async () => {
    h.emulator.faults.add({
      kind: 'publish',
      effect: 'message-size-exceeded',
      count: 5,
    });
    const err = await captureError(
      sendBodies(h.producer('faulty', FAST_RETRY), [{ big: true }]),
    );
    expect(err.code).toBe('MessageTooLargeError');
    expect(h.emulator.faults.fired('publish')).toHaveLength(1);
    expect(stored(h, 'faulty')).toBe(0);
  });

  it('internal-error is InternalServerError and retried', async () => {
    const producer = h.producer('faulty', NO_RETRY);
    h.emulator.faults.add({ kind: 'publish', effect: 'internal-error' });
    expect((await captureError(sendBodies(producer, [{ x: 1 }]))).code).toBe(
      'InternalServerError',
    );
    h.emulator.faults.add({ kind: 'publish', effect: 'internal-error' });
    await sendBodies(h.producer('faulty', FAST_RETRY), [{ x: 2 }]);
    expect(stored(h, 'faulty')).toBe(1);
  });

  it('never-settle makes the send time out; the retry stores the event once', async () => {
    const options = {
      retryOptions: { maxRetries: 1, retryDelayInMs: 10, timeoutInMs: 700 },
    };
    const producer = h.producer('faulty', options);
    await producer.getPartitionIds();
    h.emulator.faults.add({ kind: 'publish', effect: 'never-settle' });
    await sendBodies(producer, [{ slow: true }], { partitionId: '1' });
    expect(h.emulator.getEvents('faulty', '1').map((e) => e.body)).toEqual([
      { slow: true },
    ]);
    expect(h.emulator.faults.fired('publish')).toHaveLength(1);
  });

  it('cbs 401, 503 and timeout', async () => {
    h.emulator.faults.add({
      kind: 'cbs',
      effect: 'unauthorized',
      hub: 'faulty',
    });
    expect(
      (await captureError(h.producer('faulty', NO_RETRY).getPartitionIds()))
        .code,
    ).toBe('UnauthorizedError');
    h.emulator.faults.add({ kind: 'cbs', effect: 'server-busy' });
    expect(
      (await captureError(h.producer('faulty', NO_RETRY).getPartitionIds()))
        .code,
    ).toBe('ServerBusyError');
    h.emulator.faults.add({ kind: 'cbs', effect: 'timeout' });
    const quick = {
      retryOptions: { maxRetries: 0, retryDelayInMs: 10, timeoutInMs: 500 },
    };
    expect(
      (await captureError(h.producer('faulty', quick).getPartitionIds())).code,
    ).toBe('OperationTimeoutError');
    // One failure each, then the SDK recovers on retry.
    h.emulator.faults.add({ kind: 'cbs', effect: 'server-busy' });
    expect(await h.producer('faulty', FAST_RETRY).getPartitionIds()).toEqual([
      '0',
      '1',
    ]);
    expect(h.emulator.faults.fired('cbs').map((f) => f.effect)).toEqual([
      'unauthorized',
      'server-busy',
      'timeout',
      'server-busy',
    ]);
  });

  it('management 503 and timeout', async () => {
    const producer = h.producer('faulty', NO_RETRY);
    await producer.getPartitionIds();
    h.emulator.faults.add({ kind: 'management', effect: 'server-busy' });
    expect((await captureError(producer.getEventHubProperties())).code).toBe(
      'ServerBusyError',
    );
    const quick = h.producer('faulty', {
      retryOptions: { maxRetries: 0, retryDelayInMs: 10, timeoutInMs: 500 },
    });
    await quick.getPartitionIds();
    h.emulator.faults.add({ kind: 'management', effect: 'timeout' });
    expect((await captureError(quick.getEventHubProperties())).code).toBe(
      'OperationTimeoutError',
    );
    h.emulator.faults.add({ kind: 'management', effect: 'server-busy' });
    expect(
      (await h.producer('faulty', FAST_RETRY).getEventHubProperties()).name,
    ).toBe('faulty');
    expect(h.emulator.faults.fired('management')).toHaveLength(3);
  });

  it('refused attaches surface with the chosen condition', async () => {
    h.emulator.faults.add({
      kind: 'attach',
      effect: 'refuse',
      link: 'producer',
      hub: 'faulty',
    });
    const err = await captureError(
      sendBodies(h.producer('faulty', NO_RETRY), [{ r: 1 }]),
    );
    expect(err.code).toBe('ServerBusyError');
    h.emulator.faults.add({
      kind: 'attach',
      effect: 'refuse',
      link: 'producer',
      condition: 'amqp:unauthorized-access',
      description: 'no send right',
    });
    expect(
      (
        await captureError(
          sendBodies(h.producer('faulty', NO_RETRY), [{ r: 2 }]),
        )
      ).code,
    ).toBe('UnauthorizedError');
    expect(h.emulator.faults.fired('attach')).toHaveLength(2);
  });

  it('consumers survive forced detaches and dropped connections with no loss or duplicates', async () => {
    const producer = h.producer('stream', FAST_RETRY);
    const consumer = h.consumer('stream', '$default', FAST_RETRY);
    const seen: ReceivedEventData[] = [];
    const sub = consumer.subscribe(
      '0',
      {
        processEvents: async (events) => {
          seen.push(...events);
        },
        processError: async () => {},
      },
      {
        startPosition: earliestEventPosition,
        maxBatchSize: 50,
        maxWaitTimeInSeconds: 1,
      },
    );
    try {
      const total = 60;
      for (let i = 0; i < total; i += 10) {
        await sendBodies(
          producer,
          Array.from({ length: 10 }, (_, j) => ({ i: i + j })),
        );
        if (i === 10) {
          await eventually(() => seen.length >= 10, 'first events', {
            timeoutMs: 10_000,
            intervalMs: 10,
          });
          h.emulator.faults.add({
            kind: 'detach',
            link: 'consumer',
            hub: 'stream',
          });
        }
        if (i === 30) {
          await eventually(() => seen.length >= 30, 'more events', {
            timeoutMs: 10_000,
            intervalMs: 10,
          });
          h.emulator.faults.add({ kind: 'connection', effect: 'drop' });
        }
        if (i === 40)
          h.emulator.faults.add({ kind: 'connection', effect: 'close-forced' });
      }
      await eventually(() => seen.length >= total, 'all events', {
        timeoutMs: 20_000,
        intervalMs: 10,
      });
      expect(seen.map((e) => (e.body as { i: number }).i)).toEqual(
        Array.from({ length: total }, (_, i) => i),
      );
      expect(seen.map((e) => e.sequenceNumber)).toEqual(
        Array.from({ length: total }, (_, i) => i),
      );
      expect(h.emulator.faults.fired('detach').length).toBeGreaterThanOrEqual(
        1,
      );
      expect(
        h.emulator.faults.fired('connection').length,
      ).toBeGreaterThanOrEqual(2);
    } finally {
      await sub.close();
    }
  });

  it('a stop-accepting window looks like a restart; the producer reconnects afterwards', async () => {
    const producer = h.producer('stream', {
      retryOptions: { maxRetries: 5, retryDelayInMs: 200, timeoutInMs: 2000 },
    });
    await sendBodies(producer, [{ before: true }]);
    h.emulator.faults.add({ kind: 'stop-accepting', durationMs: 300 });
    await sendBodies(producer, [{ after: true }]);
    expect(h.emulator.getEvents('stream', '0').map((e) => e.body)).toEqual([
      { before: true },
      { after: true },
    ]);
    expect(h.emulator.faults.fired('stop-accepting')).toHaveLength(1);
  });
});

function stored(h: Harness, hub: string): number {
  return h.emulator
    .listHubs()
    .find((x) => x.name === hub)!
    .partitionIds.reduce((n, p) => n + h.emulator.getEvents(hub, p).length, 0);
}
