import {
  encodeAnnotationsSection,
  envelopeRanges,
  planEvents,
  prepareEvent,
  splitSections,
  skipValue,
} from './amqp-codec.js';
import { PartitionLog } from './partition-log.js';
import { audiencePath, createSasToken, validateSasToken } from './sas.js';
import { amqpMessage, amqpTypes } from './rhea-adapter.js';

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

describe('PartitionLog.appendPlanned (the ingest fast path)', () => {
  const section = (code: number, value: Buffer): Buffer =>
    Buffer.concat([Buffer.from([0x00, 0x53, code]), value]);
  const binary = (b: Buffer): Buffer => {
    const head = Buffer.alloc(5);
    head[0] = 0xb0;
    head.writeUInt32BE(b.length, 1);
    return Buffer.concat([head, b]);
  };
  const annotations = (code: number, entries: Record<string, unknown>) => {
    const bytes = amqpMessage.encode(
      code === 0x71
        ? { delivery_annotations: entries }
        : { message_annotations: entries },
    ) as Buffer;
    const s = splitSections(bytes).find((x) => x.code === code)!;
    return bytes.subarray(s.start, s.end);
  };
  const body = (n: number) =>
    amqpMessage.encode({
      message_id: `m${n}`,
      application_properties: { n, s: 'x'.repeat(n * 7) },
      body: amqpMessage.data_section(Buffer.from(`{"n":${n}}`)),
    }) as Buffer;
  const header = section(0x70, Buffer.from([0xc0, 0x02, 0x01, 0x41]));

  const messages: Array<[string, Buffer]> = [
    ['plain', body(1)],
    ['with header', Buffer.concat([header, body(2)])],
    [
      'keyed, as the SDK sends it',
      Buffer.concat([
        header,
        annotations(0x72, { 'x-opt-partition-key': 'inner' }),
        body(3),
      ]),
    ],
    [
      'own and stale service annotations, delivery annotations',
      Buffer.concat([
        header,
        annotations(0x71, { 'x-opt-lock': 'l' }),
        annotations(0x72, {
          'x-opt-sequence-number': 99,
          custom: 'kept',
          'x-opt-offset': '1',
          'x-opt-enqueued-time': 5,
          other: 7,
        }),
        body(4),
      ]),
    ],
    [
      'a symbol partition key',
      Buffer.concat([
        annotations(0x72, {
          'x-opt-partition-key': amqpTypes.wrap_symbol('sym'),
        }),
        body(5),
      ]),
    ],
    ['empty', Buffer.alloc(0)],
  ];

  it.each([undefined, 'envelope-key'])(
    'stores the same bytes as prepareEvent + append (envelope key %s)',
    (envelopeKey) => {
      const reference = new PartitionLog();
      const fast = new PartitionLog();
      const envelope = Buffer.concat([
        header,
        annotations(
          0x72,
          envelopeKey ? { 'x-opt-partition-key': envelopeKey } : {},
        ),
        section(0x73, Buffer.from([0x45])),
        ...messages.map(([, m]) => section(0x75, binary(m))),
      ]);
      const ranges: number[] = [];
      expect(envelopeRanges(envelope, ranges)).toBe(envelopeKey);
      const plan: number[] = [];
      planEvents(envelope, ranges, plan);
      expect(fast.appendPlanned(envelope, plan, envelopeKey, 1234)).toBe(
        messages.length,
      );
      for (const [, m] of messages)
        reference.append(prepareEvent(m, envelopeKey), 1234);
      for (let seq = 0; seq < messages.length; seq++) {
        const a = reference.get(seq);
        const b = fast.get(seq);
        expect([messages[seq]![0], b.bytes.toString('hex')]).toEqual([
          messages[seq]![0],
          a.bytes.toString('hex'),
        ]);
        expect([b.offset, b.insertAt]).toEqual([a.offset, a.insertAt]);
      }
      expect(fast.bytes).toBe(reference.bytes);
    },
  );

  it('refuses a malformed event before storing anything of the batch', () => {
    const good = body(1);
    const bad = Buffer.concat([good.subarray(0, good.length - 3)]);
    const envelope = Buffer.concat([
      section(0x75, binary(good)),
      section(0x75, binary(bad)),
    ]);
    const ranges: number[] = [];
    envelopeRanges(envelope, ranges);
    expect(() => planEvents(envelope, ranges, [])).toThrow(/truncated/);
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
