import {
  encodeAnnotationsSection,
  prepareEvent,
  splitSections,
  skipValue,
} from './amqp-codec.js';
import { PartitionLog } from './partition-log.js';
import { audiencePath, createSasToken, validateSasToken } from './sas.js';
import { amqpMessage } from './rhea-adapter.js';

function event(body: string, key?: string) {
  const bytes = amqpMessage.encode({
    application_properties: { n: body },
    body: amqpMessage.data_section(Buffer.from(body)),
  });
  return prepareEvent(bytes, key);
}

describe('PartitionLog', () => {
  it('assigns sequence numbers from 0 and byte-position offsets that never equal them', () => {
    const log = new PartitionLog();
    for (let i = 0; i < 50; i++) log.append(event(`e${i}`), 1000);
    for (let i = 0; i < 50; i++) {
      const e = log.get(i);
      expect(e.seq).toBe(i);
      expect(e.offset).not.toBe(i);
      if (i > 0)
        expect(e.offset).toBe(
          log.get(i - 1).offset + 16 + log.get(i - 1).bytes.length,
        );
    }
  });

  it('stores service annotations and keeps the rest of the message intact', () => {
    const log = new PartitionLog();
    log.append(event('hello', 'pk'), 1234);
    const decoded = amqpMessage.decode(log.get(0).bytes) as unknown as {
      message_annotations: Record<string, unknown>;
      application_properties: Record<string, unknown>;
    };
    expect(decoded.message_annotations).toMatchObject({
      'x-opt-sequence-number': 0,
      'x-opt-offset': '16',
      'x-opt-partition-key': 'pk',
    });
    expect(decoded.application_properties).toEqual({ n: 'hello' });
  });

  it('never lets enqueued times go backwards', () => {
    const log = new PartitionLog();
    log.append(event('a'), 2000);
    log.append(event('b'), 1000);
    expect(log.get(1).enqueuedTime).toBe(2000);
    expect(log.seqAfterTime(1999)).toBe(0);
    expect(log.seqAfterTime(2000)).toBe(2);
  });

  it('applies count, byte and age retention and moves the beginning forward', () => {
    const byCount = new PartitionLog({ maxEventsPerPartition: 3 });
    for (let i = 0; i < 10; i++) byCount.append(event(`e${i}`), 1000);
    expect([byCount.beginSeq, byCount.nextSeq, byCount.size]).toEqual([
      7, 10, 3,
    ]);
    expect(() => byCount.get(6)).toThrow(RangeError);

    const one = event('x').tail.reduce((n, b) => n + b.length, 0);
    const byBytes = new PartitionLog({ maxBytesPerPartition: (one + 60) * 2 });
    for (let i = 0; i < 10; i++) byBytes.append(event('x'), 1000);
    expect(byBytes.size).toBeLessThanOrEqual(2);
    expect(byBytes.bytes).toBeLessThanOrEqual((one + 60) * 2);

    const byAge = new PartitionLog({ maxAgeMs: 100 });
    byAge.append(event('old'), 1000);
    byAge.append(event('new'), 1200);
    expect(byAge.beginSeq).toBe(1);
    byAge.enforceRetention(5000);
    expect(byAge.size).toBe(0);
    expect(byAge.lastEnqueued().seq).toBe(1);
  });

  it('spans segments for large volumes and finds offsets by binary search', () => {
    const log = new PartitionLog();
    const body = 'y'.repeat(600);
    for (let i = 0; i < 5000; i++) log.append(event(body), i);
    const target = log.get(3210);
    expect(log.seqAfterOffset(target.offset, true)).toBe(3210);
    expect(log.seqAfterOffset(target.offset, false)).toBe(3211);
    expect(log.seqAfterOffset(-1, false)).toBe(0);
  });
});

describe('AMQP codec', () => {
  it('splits sections and skips every value', () => {
    const bytes = amqpMessage.encode({
      message_id: 'id',
      application_properties: { a: 1, b: 'x', c: true, d: null },
      body: 'value body',
    });
    const sections = splitSections(bytes);
    expect(sections.map((s) => s.code)).toEqual([0x70, 0x73, 0x74, 0x77]);
    expect(sections.at(-1)!.end).toBe(bytes.length);
    expect(skipValue(Buffer.from([0x40]), 0)).toBe(1);
  });

  it('encodes annotations rhea can decode', () => {
    const section = encodeAnnotationsSection(0x72, [
      ['x-opt-sequence-number', { type: 'long', value: 42 }],
      ['x-opt-enqueued-time', { type: 'timestamp', value: 1_700_000_000_000 }],
    ]);
    const decoded = amqpMessage.decode(section) as unknown as {
      message_annotations: Record<string, unknown>;
    };
    expect(decoded.message_annotations['x-opt-sequence-number']).toBe(42);
    expect(decoded.message_annotations['x-opt-enqueued-time']).toEqual(
      new Date(1_700_000_000_000),
    );
  });
});

describe('SAS tokens', () => {
  const keys = { Root: 'secret' };
  const future = Math.floor(Date.now() / 1000) + 600;

  it('accepts a token for the audience or a parent path, ignoring the host', () => {
    const token = createSasToken(
      'sb://localhost:5673/hub',
      'Root',
      'secret',
      future,
    );
    expect(
      validateSasToken(token, 'sb://127.0.0.1:5673/hub/Partitions/0', keys).ok,
    ).toBe(true);
    expect(validateSasToken(token, 'sb://127.0.0.1/hubby', keys).ok).toBe(
      false,
    );
  });

  it('refuses wrong keys, unknown key names and expired tokens', () => {
    expect(
      validateSasToken(
        createSasToken('sb://h/hub', 'Root', 'nope', future),
        'sb://h/hub',
        keys,
      ),
    ).toMatchObject({
      ok: false,
      description: expect.stringMatching(/InvalidSignature/),
    });
    expect(
      validateSasToken(
        createSasToken('sb://h/hub', 'Other', 'secret', future),
        'sb://h/hub',
        keys,
      ).ok,
    ).toBe(false);
    expect(
      validateSasToken(
        createSasToken('sb://h/hub', 'Root', 'secret', 1000),
        'sb://h/hub',
        keys,
      ),
    ).toMatchObject({
      ok: false,
      description: expect.stringMatching(/expired/i),
    });
  });

  it('compares audience paths case-insensitively', () => {
    expect(audiencePath('sb://x:1/Hub/ConsumerGroups/$Default/')).toBe(
      '/hub/consumergroups/$default',
    );
  });
});
