import { EventHubProducerClient } from '@azure/event-hubs';
import { createSasToken } from '../../src/emulator/index.js';
import {
  NO_RETRY,
  TEST_KEY,
  captureError,
  sendBodies,
  startHarness,
  type Harness,
} from './helpers.js';

describe('authorization', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ hubs: [{ name: 'secure', partitionCount: 1 }] });
  });
  afterEach(async () => {
    await h.closeAll();
  });
  afterAll(async () => {
    await h.emulator.stop();
  });

  const withKey = (keyName: string, key: string): string =>
    `Endpoint=sb://127.0.0.1:${h.emulator.port};SharedAccessKeyName=${keyName};SharedAccessKey=${key};UseDevelopmentEmulator=true`;

  it('refuses a wrong key with UnauthorizedError', async () => {
    const producer = h.track(
      new EventHubProducerClient(
        withKey('RootManageSharedAccessKey', 'wrong'),
        'secure',
        NO_RETRY,
      ),
    );
    const err = await captureError(producer.getEventHubProperties());
    expect(err.code).toBe('UnauthorizedError');
    expect(err.message).toMatch(/signature/i);
    const sendErr = await captureError(producer.createBatch());
    expect(sendErr.code).toBe('UnauthorizedError');
    expect(h.emulator.stats().cbsFailed).toBeGreaterThanOrEqual(2);
  });

  it('refuses an unknown key name', async () => {
    const producer = h.track(
      new EventHubProducerClient(
        withKey('Nobody', TEST_KEY),
        'secure',
        NO_RETRY,
      ),
    );
    expect((await captureError(producer.getPartitionIds())).code).toBe(
      'UnauthorizedError',
    );
  });

  it('accepts any configured key, and a SharedAccessSignature connection string without SASL', async () => {
    await sendBodies(h.producer('secure', NO_RETRY, 'SendOnly'), [{ ok: 1 }]);
    const audience = `sb://127.0.0.1:${h.emulator.port}/secure`;
    const token = createSasToken(
      audience,
      'RootManageSharedAccessKey',
      TEST_KEY,
      Math.floor(Date.now() / 1000) + 600,
    );
    const producer = h.track(
      new EventHubProducerClient(
        `Endpoint=sb://127.0.0.1:${h.emulator.port};SharedAccessSignature=${token};UseDevelopmentEmulator=true`,
        'secure',
        NO_RETRY,
      ),
    );
    await sendBodies(producer, [{ ok: 2 }]);
    expect(h.emulator.publishedCount('secure')).toBe(2);
  });

  it('refuses a token for another hub', async () => {
    const audience = `sb://127.0.0.1:${h.emulator.port}/elsewhere`;
    const token = createSasToken(
      audience,
      'RootManageSharedAccessKey',
      TEST_KEY,
      Math.floor(Date.now() / 1000) + 600,
    );
    const producer = h.track(
      new EventHubProducerClient(
        `Endpoint=sb://127.0.0.1:${h.emulator.port};SharedAccessSignature=${token};UseDevelopmentEmulator=true`,
        'secure',
        NO_RETRY,
      ),
    );
    expect((await captureError(producer.getEventHubProperties())).code).toBe(
      'UnauthorizedError',
    );
  });

  it('reports an unknown hub as MessagingEntityNotFoundError', async () => {
    const producer = h.producer('missing', NO_RETRY);
    expect((await captureError(producer.getEventHubProperties())).code).toBe(
      'MessagingEntityNotFoundError',
    );
  });

  it('auto-creates unknown hubs when enabled', async () => {
    const other = await startHarness({ autoCreateHubs: true });
    try {
      const producer = other.producer('made-on-demand', NO_RETRY);
      expect(await producer.getPartitionIds()).toEqual(['0', '1']);
      await sendBodies(producer, [{ x: 1 }]);
      expect(other.emulator.listHubs().map((x) => x.name)).toEqual([
        'made-on-demand',
      ]);
    } finally {
      await other.closeAll();
      await other.emulator.stop();
    }
  });
});
