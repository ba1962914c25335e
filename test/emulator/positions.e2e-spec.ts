import {
  earliestEventPosition,
  latestEventPosition,
  type LastEnqueuedEventProperties,
} from '@azure/event-hubs';
import {
  FAST_RETRY,
  receive,
  sendBodies,
  startHarness,
  type Harness,
} from './helpers.js';
import { eventually } from '../helpers/wait.js';

describe('start positions', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      hubs: [{ name: 'positions', partitionCount: 2 }],
    });
    const producer = h.producer('positions', FAST_RETRY);
    // Two batches of 5 so that there are two distinct enqueued times.
    await sendBodies(
      producer,
      [0, 1, 2, 3, 4].map((i) => ({ i })),
      { partitionId: '0' },
    );
    await eventually(
      () =>
        Date.now() >
        h.emulator.getEvents('positions', '0')[0]!.enqueuedTime.getTime() + 5,
      'condition',
      { timeoutMs: 10_000, intervalMs: 10 },
    );
    await sendBodies(
      producer,
      [5, 6, 7, 8, 9].map((i) => ({ i })),
      { partitionId: '0' },
    );
    await h.closeAll();
  });
  afterEach(async () => {
    await h.closeAll();
  });
  afterAll(async () => {
    await h.emulator.stop();
  });

  const bodies = (events: Array<{ body: unknown }>): number[] =>
    events.map((e) => (e.body as { i: number }).i);

  it('earliest', async () => {
    const events = await receive(h.consumer('positions'), '0', 10, {
      startPosition: earliestEventPosition,
    });
    expect(bodies(events)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(events.map((e) => e.sequenceNumber)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);
  });

  it('latest only sees events sent after the link is up', async () => {
    const consumer = h.consumer('positions');
    const producer = h.producer('positions', FAST_RETRY);
    const received = receive(consumer, '0', 1, {
      startPosition: latestEventPosition,
    });
    // The receiver link must be attached before we send, or "latest" would be after our event.
    await eventually(
      () => h.emulator.readerCount('positions', '0') > 0,
      'receiver',
      { timeoutMs: 10_000, intervalMs: 10 },
    );
    await sendBodies(producer, [{ i: 100 }], { partitionId: '0' });
    expect(bodies(await received)).toEqual([100]);
  });

  it('sequence number, exclusive and inclusive', async () => {
    const c = h.consumer('positions');
    expect(
      bodies(
        await receive(c, '0', 2, { startPosition: { sequenceNumber: 3 } }),
      ),
    ).toEqual([4, 5]);
    expect(
      bodies(
        await receive(c, '0', 2, {
          startPosition: { sequenceNumber: 3, isInclusive: true },
        }),
      ),
    ).toEqual([3, 4]);
  });

  it('offset, exclusive and inclusive', async () => {
    const stored = h.emulator.getEvents('positions', '0');
    const offset = stored[6]!.offset;
    expect(offset).not.toBe('6');
    const c = h.consumer('positions');
    expect(
      bodies(await receive(c, '0', 2, { startPosition: { offset } })),
    ).toEqual([7, 8]);
    expect(
      bodies(
        await receive(c, '0', 2, {
          startPosition: { offset, isInclusive: true },
        }),
      ),
    ).toEqual([6, 7]);
  });

  it('enqueued time is exclusive', async () => {
    const stored = h.emulator.getEvents('positions', '0');
    const firstBatchTime = stored[0]!.enqueuedTime;
    expect(stored[4]!.enqueuedTime).toEqual(firstBatchTime);
    expect(stored[5]!.enqueuedTime.getTime()).toBeGreaterThan(
      firstBatchTime.getTime(),
    );
    const events = await receive(h.consumer('positions'), '0', 1, {
      startPosition: { enqueuedOn: firstBatchTime },
    });
    expect(bodies(events)).toEqual([5]);
  });

  it('reports the last enqueued event properties when asked', async () => {
    const props = await h
      .producer('positions', FAST_RETRY)
      .getPartitionProperties('0');
    expect(props.beginningSequenceNumber).toBe(0);
    expect(props.isEmpty).toBe(false);
    let seen: LastEnqueuedEventProperties | undefined;
    const sub = h.consumer('positions').subscribe(
      '0',
      {
        processEvents: async (events, ctx) => {
          if (events.length > 0)
            seen ??= { ...ctx.lastEnqueuedEventProperties };
        },
        processError: async () => {},
      },
      {
        startPosition: earliestEventPosition,
        trackLastEnqueuedEventProperties: true,
        maxWaitTimeInSeconds: 1,
      },
    );
    try {
      await eventually(() => seen, 'runtime metrics', {
        timeoutMs: 10_000,
        intervalMs: 10,
      });
    } finally {
      await sub.close();
    }
    expect(seen!.sequenceNumber).toBe(props.lastEnqueuedSequenceNumber);
    expect(seen!.offset).toBe(props.lastEnqueuedOffset);
    expect(seen!.enqueuedOn).toEqual(props.lastEnqueuedOnUtc);
    expect(seen!.retrievedOn).toBeInstanceOf(Date);
  });
});
