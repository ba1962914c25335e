/**
 * Byte-level handling of AMQP 1.0 messages. The emulator never decodes and re-encodes a producer's
 * event: a round trip through a generic codec would change the AMQP types of application
 * properties (short → int, …), and the consumer must see exactly what was sent. Sections are
 * located and spliced instead.
 */

export const SECTION_HEADER = 0x70;
export const SECTION_DELIVERY_ANNOTATIONS = 0x71;
export const SECTION_MESSAGE_ANNOTATIONS = 0x72;
export const SECTION_DATA = 0x75;

/** message-format of the SDK's batch envelope (Microsoft's `0x80013700`). */
export const BATCH_MESSAGE_FORMAT = 0x80013700;

export class AmqpDecodeError extends Error {}

/** End position of the encoded value starting at `pos`. */
export function skipValue(buf: Buffer, pos: number): number {
  const code = buf[pos];
  if (code === undefined) throw new AmqpDecodeError('truncated AMQP value');
  if (code === 0x00) return skipValue(buf, skipValue(buf, pos + 1));
  switch (code >> 4) {
    case 0x4:
      return pos + 1;
    case 0x5:
      return pos + 2;
    case 0x6:
      return pos + 3;
    case 0x7:
      return pos + 5;
    case 0x8:
      return pos + 9;
    case 0x9:
      return pos + 17;
    case 0xa:
    case 0xc:
    case 0xe:
      return pos + 2 + readByte(buf, pos + 1);
    case 0xb:
    case 0xd:
    case 0xf:
      if (pos + 5 > buf.length)
        throw new AmqpDecodeError('truncated AMQP value');
      return pos + 5 + buf.readUInt32BE(pos + 1);
    default:
      throw new AmqpDecodeError(
        `unknown AMQP type code 0x${code.toString(16)}`,
      );
  }
}

function readByte(buf: Buffer, pos: number): number {
  const b = buf[pos];
  if (b === undefined) throw new AmqpDecodeError('truncated AMQP value');
  return b;
}

export interface Section {
  /** Section descriptor code (0x70 header … 0x78 footer). */
  code: number;
  start: number;
  /** Where the section's value starts (after the descriptor). */
  valueStart: number;
  end: number;
}

export function splitSections(buf: Buffer): Section[] {
  const sections: Section[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] !== 0x00)
      throw new AmqpDecodeError('section is not a described type');
    let code: number;
    let valueStart: number;
    const descriptorCode = buf[pos + 1];
    if (descriptorCode === 0x53) {
      code = readByte(buf, pos + 2);
      valueStart = pos + 3;
    } else if (descriptorCode === 0x80) {
      if (pos + 10 > buf.length) throw new AmqpDecodeError('truncated section');
      code = buf.readUInt32BE(pos + 6);
      valueStart = pos + 10;
    } else {
      throw new AmqpDecodeError('unsupported section descriptor');
    }
    const end = skipValue(buf, valueStart);
    if (end > buf.length) throw new AmqpDecodeError('truncated section');
    sections.push({ code, start: pos, valueStart, end });
    pos = end;
  }
  return sections;
}

/** Decodes a symbol/string key or value; undefined for any other type. */
export function stringValue(buf: Buffer, pos: number): string | undefined {
  const code = buf[pos];
  if (code === 0xa1 || code === 0xa3) {
    return buf.toString('utf8', pos + 2, pos + 2 + readByte(buf, pos + 1));
  }
  if (code === 0xb1 || code === 0xb3) {
    const len = buf.readUInt32BE(pos + 1);
    return buf.toString('utf8', pos + 5, pos + 5 + len);
  }
  return undefined;
}

export interface MapEntry {
  key: string | undefined;
  valueStart: number;
  /** Raw bytes of key and value, spliced unchanged into re-written maps. */
  raw: Buffer;
}

/**
 * An annotations map's element count (keys and values) and first element;
 * null for an encoded null (no annotations).
 */
function mapHeader(
  buf: Buffer,
  pos: number,
): { count: number; first: number } | null {
  const code = buf[pos];
  if (code === 0xc1) return { count: readByte(buf, pos + 2), first: pos + 3 };
  if (code === 0xd1)
    return { count: buf.readUInt32BE(pos + 5), first: pos + 9 };
  if (code === 0x40) return null;
  throw new AmqpDecodeError('annotations are not a map');
}

export function mapEntries(buf: Buffer, pos: number): MapEntry[] {
  const header = mapHeader(buf, pos);
  if (!header) return [];
  const { count } = header;
  let p = header.first;
  const entries: MapEntry[] = [];
  for (let i = 0; i < count; i += 2) {
    const keyStart = p;
    const valueStart = skipValue(buf, keyStart);
    const end = skipValue(buf, valueStart);
    entries.push({
      key: stringValue(buf, keyStart),
      valueStart,
      raw: buf.subarray(keyStart, end),
    });
    p = end;
  }
  return entries;
}

// ---- encoding of the few values the emulator writes itself ----

export type AnnotationValue =
  | { type: 'long'; value: number }
  | { type: 'string'; value: string }
  | { type: 'timestamp'; value: number };

export function encodeSymbol(s: string): Buffer {
  const bytes = Buffer.from(s, 'ascii');
  if (bytes.length < 256)
    return Buffer.concat([Buffer.from([0xa3, bytes.length]), bytes]);
  const head = Buffer.alloc(5);
  head[0] = 0xb3;
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

export function encodeAnnotationValue(v: AnnotationValue): Buffer {
  if (v.type === 'string') {
    const bytes = Buffer.from(v.value, 'utf8');
    if (bytes.length < 256)
      return Buffer.concat([Buffer.from([0xa1, bytes.length]), bytes]);
    const head = Buffer.alloc(5);
    head[0] = 0xb1;
    head.writeUInt32BE(bytes.length, 1);
    return Buffer.concat([head, bytes]);
  }
  const out = Buffer.alloc(9);
  out[0] = v.type === 'long' ? 0x81 : 0x83;
  out.writeBigInt64BE(BigInt(Math.trunc(v.value)), 1);
  return out;
}

/** A described section holding a map32 of symbol keys: our entries first, then `extra` unchanged. */
export function encodeAnnotationsSection(
  sectionCode: number,
  entries: ReadonlyArray<readonly [string, AnnotationValue]>,
  extra: readonly Buffer[] = [],
): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of entries)
    parts.push(encodeSymbol(k), encodeAnnotationValue(v));
  parts.push(...extra);
  const body = Buffer.concat(parts);
  const out = Buffer.alloc(3 + 9 + body.length);
  out[0] = 0x00;
  out[1] = 0x53;
  out[2] = sectionCode;
  out[3] = 0xd1;
  out.writeUInt32BE(body.length + 4, 4);
  out.writeUInt32BE((entries.length + extra.length) * 2, 8);
  body.copy(out, 12);
  return out;
}

// ---- the batch envelope ----

export const ANNOTATION_PARTITION_KEY = 'x-opt-partition-key';
export const ANNOTATION_SEQUENCE_NUMBER = 'x-opt-sequence-number';
export const ANNOTATION_OFFSET = 'x-opt-offset';
export const ANNOTATION_ENQUEUED_TIME = 'x-opt-enqueued-time';

function partitionKeyOf(buf: Buffer, s: Section): string | undefined {
  for (const e of mapEntries(buf, s.valueStart)) {
    if (e.key === ANNOTATION_PARTITION_KEY)
      return stringValue(buf, e.valueStart);
  }
  return undefined;
}

const SERVICE_ANNOTATIONS = new Set([
  ANNOTATION_PARTITION_KEY,
  ANNOTATION_SEQUENCE_NUMBER,
  ANNOTATION_OFFSET,
  ANNOTATION_ENQUEUED_TIME,
]);

/**
 * The straightforward form of {@link planEvents} (one object and views per event), kept as the
 * reference the fast path is checked against and for callers outside the ingest hot path.
 * An inner event prepared for storage: `head` (the header section) + service annotations +
 * `tail` (everything else except old delivery/message annotations, which would be stale).
 * Delivery annotations for runtime metrics are inserted between head and annotations later.
 */
export interface PreparedEvent {
  head: Buffer;
  otherAnnotations: Buffer[];
  tail: Buffer[];
  partitionKey: string | undefined;
}

export function prepareEvent(
  msg: Buffer,
  envelopeKey: string | undefined,
): PreparedEvent {
  let head = msg.subarray(0, 0);
  const tail: Buffer[] = [];
  const otherAnnotations: Buffer[] = [];
  let partitionKey = envelopeKey;
  for (const s of splitSections(msg)) {
    if (s.code === SECTION_HEADER) {
      head = msg.subarray(s.start, s.end);
    } else if (s.code === SECTION_MESSAGE_ANNOTATIONS) {
      for (const e of mapEntries(msg, s.valueStart)) {
        if (e.key === ANNOTATION_PARTITION_KEY) {
          partitionKey ??= stringValue(msg, e.valueStart);
        } else if (e.key === undefined || !SERVICE_ANNOTATIONS.has(e.key)) {
          otherAnnotations.push(e.raw);
        }
      }
    } else if (s.code !== SECTION_DELIVERY_ANNOTATIONS) {
      tail.push(msg.subarray(s.start, s.end));
    }
  }
  return { head, otherAnnotations, tail, partitionKey };
}

// ---- the ingest fast path: byte ranges instead of per-event objects ----

/**
 * A list of numbers reused from batch to batch. Clearing keeps the storage: `array.length = 0`
 * frees it, and re-growing a plan of thousands of entries took fresh memory (and page faults)
 * on every batch.
 */
export class NumberList {
  readonly items: number[] = [];
  length = 0;

  clear(): void {
    this.length = 0;
  }

  push(value: number): void {
    this.items[this.length++] = value;
  }
}

/**
 * Finds the inner events of a batch envelope without copying them or allocating per event: each
 * event's `[start, end)` in `payload` is appended to `ranges` (cleared first). Returns the
 * envelope's partition key.
 */
export function envelopeRanges(
  payload: Buffer,
  ranges: NumberList,
): string | undefined {
  ranges.clear();
  let partitionKey: string | undefined;
  let pos = 0;
  while (pos < payload.length) {
    const valueStart = sectionValueStart(payload, pos);
    const code = sectionCode(payload, pos);
    const end = skipValue(payload, valueStart);
    if (end > payload.length) throw new AmqpDecodeError('truncated section');
    if (code === SECTION_MESSAGE_ANNOTATIONS) {
      partitionKey = partitionKeyOf(payload, {
        code,
        start: pos,
        valueStart,
        end,
      });
    } else if (code === SECTION_DATA) {
      const type = payload[valueStart];
      if (type === 0xa0) {
        ranges.push(valueStart + 2);
        ranges.push(end);
      } else if (type === 0xb0) {
        ranges.push(valueStart + 5);
        ranges.push(end);
      } else {
        throw new AmqpDecodeError('data section does not hold binary');
      }
    }
    pos = end;
  }
  return partitionKey;
}

function sectionValueStart(buf: Buffer, pos: number): number {
  if (buf[pos] !== 0x00)
    throw new AmqpDecodeError('section is not a described type');
  const descriptorCode = buf[pos + 1];
  if (descriptorCode === 0x53) return pos + 3;
  if (descriptorCode === 0x80) return pos + 10;
  throw new AmqpDecodeError('unsupported section descriptor');
}

function sectionCode(buf: Buffer, pos: number): number {
  if (buf[pos + 1] === 0x53) return readByte(buf, pos + 2);
  if (pos + 10 > buf.length) throw new AmqpDecodeError('truncated section');
  return buf.readUInt32BE(pos + 6);
}

const NAME_PARTITION_KEY = Buffer.from(ANNOTATION_PARTITION_KEY, 'ascii');
const SERVICE_NAMES = [
  ANNOTATION_SEQUENCE_NUMBER,
  ANNOTATION_OFFSET,
  ANNOTATION_ENQUEUED_TIME,
].map((n) => Buffer.from(n, 'ascii'));

/** Whether the string/symbol at `pos` equals `name` (any other type never does). */
function keyEquals(buf: Buffer, pos: number, name: Buffer): boolean {
  const code = buf[pos];
  let start: number;
  let length: number;
  if (code === 0xa1 || code === 0xa3) {
    length = readByte(buf, pos + 1);
    start = pos + 2;
  } else if (code === 0xb1 || code === 0xb3) {
    length = buf.readUInt32BE(pos + 1);
    start = pos + 5;
  } else {
    return false;
  }
  if (length !== name.length || start + length > buf.length) return false;
  for (let i = 0; i < length; i++) if (buf[start + i] !== name[i]) return false;
  return true;
}

/**
 * The storage plan of events: for each `[start, end)` in `ranges`, a record of byte ranges of
 * `payload` appended to `plan` (cleared first):
 * `headStart, headEnd, keyStart, keyEnd, nOther, (start, end) × nOther, nTail, (start, end) × nTail`.
 * It says the same as {@link prepareEvent} (head = the header section; key = the raw value of the
 * event's own `x-opt-partition-key`, or -1; other = producer annotations that are kept; tail =
 * every other section except delivery annotations, adjacent ranges merged) without allocating per
 * event. Throws {@link AmqpDecodeError} for a malformed event, before anything is stored.
 */
export function planEvents(
  payload: Buffer,
  ranges: NumberList,
  plan: NumberList,
): void {
  plan.clear();
  const bounds = ranges.items;
  const others = scratchOthers;
  const tails = scratchTails;
  for (let r = 0; r < ranges.length; r += 2) {
    const start = bounds[r]!;
    const end = bounds[r + 1]!;
    let headStart = start;
    let headEnd = start;
    const key = scratchKey;
    key[0] = -1;
    key[1] = -1;
    others.length = 0;
    tails.length = 0;
    let pos = start;
    while (pos < end) {
      const valueStart = sectionValueStart(payload, pos);
      const code = sectionCode(payload, pos);
      const sectionEnd = skipValue(payload, valueStart);
      if (sectionEnd > end) throw new AmqpDecodeError('truncated section');
      if (code === SECTION_HEADER) {
        headStart = pos;
        headEnd = sectionEnd;
      } else if (code === SECTION_MESSAGE_ANNOTATIONS) {
        planAnnotations(payload, valueStart, sectionEnd, key, others);
      } else if (code !== SECTION_DELIVERY_ANNOTATIONS) {
        if (tails.length > 0 && tails[tails.length - 1] === pos) {
          tails[tails.length - 1] = sectionEnd;
        } else {
          tails.push(pos, sectionEnd);
        }
      }
      pos = sectionEnd;
    }
    plan.push(headStart);
    plan.push(headEnd);
    plan.push(key[0]!);
    plan.push(key[1]!);
    plan.push(others.length / 2);
    for (const x of others) plan.push(x);
    plan.push(tails.length / 2);
    for (const x of tails) plan.push(x);
  }
}

const scratchOthers: number[] = [];
const scratchTails: number[] = [];
const scratchKey: number[] = [-1, -1];

function planAnnotations(
  buf: Buffer,
  pos: number,
  end: number,
  key: number[],
  others: number[],
): void {
  const header = mapHeader(buf, pos);
  if (!header) return;
  const { count } = header;
  let p = header.first;
  for (let i = 0; i < count; i += 2) {
    const keyStart = p;
    const valueStart = skipValue(buf, keyStart);
    const entryEnd = skipValue(buf, valueStart);
    if (entryEnd > end) throw new AmqpDecodeError('truncated annotations');
    if (keyEquals(buf, keyStart, NAME_PARTITION_KEY)) {
      // The first key that is a string wins, as in prepareEvent.
      const type = buf[valueStart];
      if (
        key[0] === -1 &&
        (type === 0xa1 || type === 0xa3 || type === 0xb1 || type === 0xb3)
      ) {
        key[0] = valueStart;
        key[1] = entryEnd;
      }
    } else if (!SERVICE_NAMES.some((n) => keyEquals(buf, keyStart, n))) {
      others.push(keyStart, entryEnd);
    }
    p = entryEnd;
  }
}
