import {
  encodeAnnotationsSection,
  envelopeRanges,
  NumberList,
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
  {
    // Message annotations after the properties: the rest of the message is in two pieces.
    const b = body(6);
    const [props, ...rest] = splitSections(b);
    messages.push([
      'annotations between the properties and the rest',
      Buffer.concat([
        b.subarray(props!.start, props!.end),
        annotations(0x72, { custom: 'kept' }),
        b.subarray(rest[0]!.start),
      ]),
    ]);
  }

  const envelopeOf = (
    envelopeKey: string | undefined,
    events: Array<[string, Buffer]>,
  ): Buffer =>
    Buffer.concat([
      header,
      annotations(
        0x72,
        envelopeKey ? { 'x-opt-partition-key': envelopeKey } : {},
      ),
      section(0x73, Buffer.from([0x45])),
      ...events.map(([, m]) => section(0x75, binary(m))),
    ]);

  const appendEnvelope = (
    log: PartitionLog,
    envelope: Buffer,
    envelopeKey: string | undefined,
  ): number => {
    const ranges = new NumberList();
    expect(envelopeRanges(envelope, ranges)).toBe(envelopeKey);
    const plan = new NumberList();
    planEvents(envelope, ranges, plan);
    return log.appendPlanned(envelope, plan, envelopeKey, 1234);
  };

  // Small envelopes are copied event by event; big ones are kept and stored as views of them.
  it.each([
    [undefined, 'small'],
    ['envelope-key', 'small'],
    [undefined, 'big'],
    ['envelope-key', 'big'],
  ])(
    'stores the same bytes as prepareEvent + append (envelope key %s, %s envelope)',
    (envelopeKey, size) => {
      const events =
        size === 'big'
          ? Array.from({ length: 60 }, () => messages).flat()
          : messages;
      const reference = new PartitionLog();
      const fast = new PartitionLog();
      const envelope = envelopeOf(envelopeKey, events);
      expect(envelope.length >= 16 * 1024).toBe(size === 'big');
      expect(appendEnvelope(fast, envelope, envelopeKey)).toBe(events.length);
      for (const [, m] of events)
        reference.append(prepareEvent(m, envelopeKey), 1234);
      for (let seq = 0; seq < events.length; seq++) {
        const a = reference.get(seq);
        const b = fast.get(seq);
        expect([events[seq]![0], b.bytes.toString('hex')]).toEqual([
          events[seq]![0],
          a.bytes.toString('hex'),
        ]);
        expect([b.offset, b.insertAt]).toEqual([a.offset, a.insertAt]);
        const view = fast.view(seq);
        expect(view.length).toBe(a.bytes.length);
        const written = Buffer.alloc(view.length + 2);
        view.writeTo(written, 1);
        expect(written.subarray(1, -1).equals(a.bytes)).toBe(true);
      }
      expect(fast.bytes).toBe(reference.bytes);
      expect(fast.view(0).body === envelope).toBe(size === 'big');
    },
  );

  it('copies a big envelope that is a small part of a larger buffer', () => {
    const events = Array.from({ length: 60 }, () => messages).flat();
    const envelope = envelopeOf(undefined, events);
    const chunk = Buffer.alloc(envelope.length * 2);
    envelope.copy(chunk, 100);
    const slice = chunk.subarray(100, 100 + envelope.length);
    const log = new PartitionLog();
    appendEnvelope(log, slice, undefined);
    expect(log.view(0).body.buffer).not.toBe(chunk.buffer);
  });

  it('applies retention to events stored as views and frees their envelopes', () => {
    const events = Array.from({ length: 60 }, () => messages).flat();
    const n = events.length;
    const log = new PartitionLog({ maxEventsPerPartition: n + 5 });
    const envelopes = [1, 2, 3].map(() => envelopeOf('k', events));
    for (const e of envelopes) appendEnvelope(log, e, 'k');
    expect([log.beginSeq, log.nextSeq, log.size]).toEqual([
      2 * n - 5,
      3 * n,
      n + 5,
    ]);
    expect(() => log.get(2 * n - 6)).toThrow(RangeError);
    const reference = new PartitionLog();
    for (let i = 0; i < 3; i++)
      for (const [, m] of events) reference.append(prepareEvent(m, 'k'), 1234);
    let bytes = 0;
    for (let seq = log.beginSeq; seq < log.nextSeq; seq++) {
      expect(log.get(seq).bytes.equals(reference.get(seq).bytes)).toBe(true);
      bytes += reference.get(seq).bytes.length;
    }
    expect(log.bytes).toBe(bytes);
    // The first envelope is no longer referenced; the second still is (5 of its events remain).
    expect(log.view(log.beginSeq).body).toBe(envelopes[1]);
  });

  it('refuses a malformed event before storing anything of the batch', () => {
    const good = body(1);
    const bad = Buffer.concat([good.subarray(0, good.length - 3)]);
    const envelope = Buffer.concat([
      section(0x75, binary(good)),
      section(0x75, binary(bad)),
    ]);
    const ranges = new NumberList();
    envelopeRanges(envelope, ranges);
    expect(() => planEvents(envelope, ranges, new NumberList())).toThrow(
      /truncated/,
    );
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
