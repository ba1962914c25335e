import {
  EventHubConsumerClient,
  EventHubProducerClient,
  type EventHubClientOptions,
} from '@azure/event-hubs';
import { EventHubsEmulator, type EventHubsEmulatorOptions } from '../../src/emulator/index.js';

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
  producer(hub: string, options?: EventHubClientOptions, keyName?: string): EventHubProducerClient;
  consumer(
    hub: string,
    consumerGroup?: string,
    options?: EventHubClientOptions,
  ): EventHubConsumerClient;
  /** Registers anything with close() to be closed after the test. */
  track<T extends { close(): Promise<void> }>(client: T): T;
  closeAll(): Promise<void>;
}

export async function startHarness(options: EventHubsEmulatorOptions = {}): Promise<Harness> {
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
      track(new EventHubProducerClient(emulator.connectionString(undefined, keyName), hub, opts)),
    consumer: (hub, cg = '$default', opts) =>
      track(new EventHubConsumerClient(cg, emulator.connectionString(), hub, opts)),
    closeAll: async () => {
      await Promise.allSettled(clients.splice(0).map((c) => c.close()));
    },
  };
}

/** Polls `check` until it is truthy; fixed sleeps make tests flaky on a loaded machine. */
export async function waitFor<T>(
  check: () => T | undefined | false,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The SDK throws AggregateError after more than one attempt; tests assert on the last error. */
export function unwrap(err: unknown): { code?: string; name?: string; message: string; retryable?: boolean } {
  let e: unknown = err;
  while (e instanceof AggregateError && e.errors.length > 0) e = e.errors.at(-1);
  return e as { code?: string; name?: string; message: string; retryable?: boolean };
}

export async function captureError(p: Promise<unknown>): Promise<ReturnType<typeof unwrap>> {
  try {
    await p;
  } catch (err) {
    return unwrap(err);
  }
  throw new Error('expected the operation to fail');
}
