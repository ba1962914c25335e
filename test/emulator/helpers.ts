import {
  EventHubConsumerClient,
  EventHubProducerClient,
  type EventHubClientOptions,
  type ReceivedEventData,
  type SubscribeOptions,
} from '@azure/event-hubs';
import {
  EventHubsEmulator,
  type EventHubsEmulatorOptions,
} from '../../src/emulator/index.js';
import { eventually } from '../helpers/wait.js';

/** Short retries: the SDK's defaults (3 × 30 s) turn an expected failure into a 90 s wait. */
export const FAST_RETRY: EventHubClientOptions = {
  retryOptions: { maxRetries: 1, retryDelayInMs: 10, timeoutInMs: 2000 },
};
export const NO_RETRY: EventHubClientOptions = {
  retryOptions: { maxRetries: 0, retryDelayInMs: 10, timeoutInMs: 2000 },
};

export const TEST_KEY = 'test-key-0123456789abcdef0123456789abcdef=';

export interface Harness {
  emulator: EventHubsEmulator;
  producer(
    hub: string,
    options?: EventHubClientOptions,
    keyName?: string,
  ): EventHubProducerClient;
  consumer(
    hub: string,
    consumerGroup?: string,
    options?: EventHubClientOptions,
  ): EventHubConsumerClient;
  /** Registers anything with close() to be closed after the test. */
  track<T extends { close(): Promise<void> }>(client: T): T;
  closeAll(): Promise<void>;
}

export async function startHarness(
  options: EventHubsEmulatorOptions = {},
): Promise<Harness> {
  const emulator = new EventHubsEmulator({
    port: 0,
    keys: { RootManageSharedAccessKey: TEST_KEY, SendOnly: 'another-key' },
    ...options,
  });
  await emulator.start();
  const clients: Array<{ close(): Promise<void> }> = [];
  const track = <T extends { close(): Promise<void> }>(c: T): T => {
    clients.push(c);
    return c;
  };
  return {
    emulator,
    track,
    producer: (hub, opts, keyName) =>
      track(
        new EventHubProducerClient(
          emulator.connectionString(undefined, keyName),
          hub,
          opts,
        ),
      ),
    consumer: (hub, cg = '$default', opts) =>
      track(
        new EventHubConsumerClient(cg, emulator.connectionString(), hub, opts),
      ),
    closeAll: async () => {
      await Promise.allSettled(clients.splice(0).map((c) => c.close()));
    },
  };
}

/** The SDK throws AggregateError after more than one attempt; tests assert on the last error. */
export function unwrap(err: unknown): {
  code?: string;
  name?: string;
  message: string;
  retryable?: boolean;
} {
  let e: unknown = err;
  while (e instanceof AggregateError && e.errors.length > 0)
    e = e.errors.at(-1);
  return e as {
    code?: string;
    name?: string;
    message: string;
    retryable?: boolean;
  };
}

export async function captureError(
  p: Promise<unknown>,
): Promise<ReturnType<typeof unwrap>> {
  try {
    await p;
  } catch (err) {
    return unwrap(err);
  }
  throw new Error('expected the operation to fail');
}

/**
 * Subscribes to one partition and resolves with the first `count` events; closes the
 * subscription either way so no receiver outlives the test.
 */
export async function receive(
  client: EventHubConsumerClient,
  partitionId: string,
  count: number,
  options: Omit<SubscribeOptions, 'maxWaitTimeInSeconds'> = {},
  timeoutMs = 10_000,
): Promise<ReceivedEventData[]> {
  const events: ReceivedEventData[] = [];
  let failure: Error | undefined;
  const sub = client.subscribe(
    partitionId,
    {
      processEvents: async (evs) => {
        events.push(...evs);
      },
      processError: async (err) => {
        failure ??= err;
      },
    },
    { maxBatchSize: 100, ...options, maxWaitTimeInSeconds: 1 },
  );
  try {
    await eventually(
      () => events.length >= count || failure,
      `${count} events`,
      { timeoutMs, intervalMs: 10 },
    );
  } finally {
    await sub.close();
  }
  if (events.length < count && failure) throw failure;
  return events.slice(0, count);
}

/** Sends one batch of JSON bodies (to a partition or with a key). */
export async function sendBodies(
  producer: EventHubProducerClient,
  bodies: unknown[],
  options: { partitionId?: string; partitionKey?: string } = {},
): Promise<void> {
  const batch = await producer.createBatch(options);
  for (const body of bodies) {
    if (!batch.tryAdd({ body })) throw new Error('batch full');
  }
  await producer.sendBatch(batch);
}
