import {
  ANNOTATION_ENQUEUED_TIME,
  ANNOTATION_OFFSET,
  ANNOTATION_PARTITION_KEY,
  ANNOTATION_SEQUENCE_NUMBER,
  SECTION_MESSAGE_ANNOTATIONS,
  encodeAnnotationValue,
  encodeSymbol,
  type PreparedEvent,
} from './amqp-codec.js';

const SYM_SEQ = encodeSymbol(ANNOTATION_SEQUENCE_NUMBER);
const SYM_OFFSET = encodeSymbol(ANNOTATION_OFFSET);
const SYM_TIME = encodeSymbol(ANNOTATION_ENQUEUED_TIME);
const SYM_KEY = encodeSymbol(ANNOTATION_PARTITION_KEY);

/**
 * The message-annotations section written at ingest. Hand-assembled into one buffer: this runs
 * once per stored event and dominated ingest CPU when built from small concatenated parts.
 */
function encodeServiceAnnotations(
  seq: number,
  offset: number,
  time: number,
  event: PreparedEvent,
): Buffer {
  const offsetText = String(offset);
  const key =
    event.partitionKey === undefined
      ? undefined
      : encodeAnnotationValue({ type: 'string', value: event.partitionKey });
  let extraBytes = 0;
  for (const e of event.otherAnnotations) extraBytes += e.length;
  const body =
    SYM_SEQ.length +
    9 +
    SYM_OFFSET.length +
    2 +
    offsetText.length +
    SYM_TIME.length +
    9 +
    (key ? SYM_KEY.length + key.length : 0) +
    extraBytes;
  const out = Buffer.allocUnsafe(12 + body);
  out[0] = 0x00;
  out[1] = 0x53;
  out[2] = SECTION_MESSAGE_ANNOTATIONS;
  out[3] = 0xd1;
  out.writeUInt32BE(body + 4, 4);
  out.writeUInt32BE((3 + (key ? 1 : 0) + event.otherAnnotations.length) * 2, 8);
  let p = 12;
  p += SYM_SEQ.copy(out, p);
  out[p] = 0x81;
  writeInt64(out, p + 1, seq);
  p += 9;
  p += SYM_OFFSET.copy(out, p);
  out[p] = 0xa1;
  out[p + 1] = offsetText.length;
  p += 2 + out.write(offsetText, p + 2, 'latin1');
  p += SYM_TIME.copy(out, p);
  out[p] = 0x83;
  writeInt64(out, p + 1, time);
  p += 9;
  if (key) {
    p += SYM_KEY.copy(out, p);
    p += key.copy(out, p);
  }
  for (const e of event.otherAnnotations) p += e.copy(out, p);
  return out;
}

/** Non-negative integers below 2^53 without a BigInt allocation. */
function writeInt64(buf: Buffer, pos: number, value: number): void {
  writeUint32(buf, pos, Math.floor(value / 0x100000000));
  writeUint32(buf, pos + 4, value >>> 0);
}

function writeUint32(buf: Buffer, pos: number, value: number): void {
  buf[pos] = value >>> 24;
  buf[pos + 1] = value >>> 16;
  buf[pos + 2] = value >>> 8;
  buf[pos + 3] = value;
}

/** Symbols plus fixed-size values of the service annotations (the offset's digits vary). */
const FIXED_ANNOTATION_BYTES =
  SYM_SEQ.length + 9 + SYM_OFFSET.length + 2 + SYM_TIME.length + 9;

/**
 * Copies `src[start, end)` to `dst` at `at`. Small ranges byte by byte, larger ones through a plain
 * Uint8Array view: `Buffer#copy` and `subarray` allocate a Buffer per call, which cost more
 * than the copying itself at ingest rates.
 */
function copyRange(
  src: Buffer,
  start: number,
  end: number,
  dst: Buffer,
  at: number,
): number {
  const n = end - start;
  if (n <= 32) {
    for (let i = 0; i < n; i++) dst[at + i] = src[start + i]!;
  } else {
    dst.set(new Uint8Array(src.buffer, src.byteOffset + start, n), at);
  }
  return n;
}

export interface RetentionOptions {
  maxEventsPerPartition?: number;
  maxBytesPerPartition?: number;
  maxAgeMs?: number;
}

/**
 * Offsets are byte positions in a notional log file where every record has this header, so the
 * first offset is 16 and an offset can never equal its sequence number: code that confuses the
 * two fails against the emulator as it would against the service.
 */
const RECORD_HEADER_BYTES = 16;
const SEGMENT_BYTES = 1024 * 1024;
const SEGMENT_EVENTS = 8192;
const INITIAL_INDEX = 256;

/**
 * Events live packed in ~1 MB buffers with typed-array indexes: one JS object per segment instead
 * of one per event keeps memory close to the wire size.
 */
class Segment {
  readonly data: Buffer;
  used = 0;
  count = 0;
  // Index arrays grow by doubling: a fixed SEGMENT_EVENTS size would cost more than the data
  // itself for segments of ~600-byte events.
  starts = new Uint32Array(INITIAL_INDEX);
  lengths = new Uint32Array(INITIAL_INDEX);
  /** Where delivery annotations go: right after the header section. */
  insertAt = new Uint32Array(INITIAL_INDEX);
  times = new Float64Array(INITIAL_INDEX);
  offsets = new Float64Array(INITIAL_INDEX);

  constructor(
    readonly baseSeq: number,
    capacity: number,
  ) {
    this.data = Buffer.allocUnsafeSlow(capacity);
  }

  fits(bytes: number): boolean {
    return this.count < SEGMENT_EVENTS && this.used + bytes <= this.data.length;
  }

  reserve(): void {
    if (this.count < this.starts.length) return;
    const size = Math.min(this.starts.length * 2, SEGMENT_EVENTS);
    const grow = <T extends Uint32Array | Float64Array>(
      a: T,
      make: (n: number) => T,
    ): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.starts = grow(this.starts, (n) => new Uint32Array(n));
    this.lengths = grow(this.lengths, (n) => new Uint32Array(n));
    this.insertAt = grow(this.insertAt, (n) => new Uint32Array(n));
    this.times = grow(this.times, (n) => new Float64Array(n));
    this.offsets = grow(this.offsets, (n) => new Float64Array(n));
  }
}

export interface StoredEvent {
  seq: number;
  offset: number;
  enqueuedTime: number;
  bytes: Buffer;
  insertAt: number;
}

export class PartitionLog {
  private segments: Segment[] = [];
  private begin = 0;
  private next = 0;
  private nextOffset = RECORD_HEADER_BYTES;
  private lastTime = 0;
  private retainedBytes = 0;
  private lastAppendedOffset = -1;

  constructor(private readonly retention: RetentionOptions = {}) {}

  get beginSeq(): number {
    return this.begin;
  }
  get nextSeq(): number {
    return this.next;
  }
  get size(): number {
    return this.next - this.begin;
  }
  get bytes(): number {
    return this.retainedBytes;
  }

  /** Appends one event; all events of one envelope are given the same `enqueuedTime`. */
  append(event: PreparedEvent, enqueuedTime: number): number {
    // The service's enqueued times never go backwards within a partition; binary search relies on it.
    const time = Math.max(enqueuedTime, this.lastTime);
    const seq = this.next;
    const offset = this.nextOffset;
    const annotations = encodeServiceAnnotations(seq, offset, time, event);
    let length = event.head.length + annotations.length;
    for (const t of event.tail) length += t.length;

    const seg = this.segmentFor(seq, length);
    const start = seg.used;
    let p = start;
    p += event.head.copy(seg.data, p);
    p += annotations.copy(seg.data, p);
    for (const t of event.tail) p += t.copy(seg.data, p);
    this.commit(seg, start, length, event.head.length, time, offset);
    this.enforceRetention(time);
    return seq;
  }

  /**
   * Appends a batch laid out by {@link planEvents}: each event is written straight into the
   * segment (header, service annotations, the rest), the same bytes {@link append} stores, with no
   * per-event objects. `envelopeKey` overrides the events' own keys. Returns the number appended.
   */
  appendPlanned(
    payload: Buffer,
    plan: readonly number[],
    envelopeKey: string | undefined,
    enqueuedTime: number,
  ): number {
    const time = Math.max(enqueuedTime, this.lastTime);
    const envelopeKeyBytes =
      envelopeKey === undefined
        ? undefined
        : encodeAnnotationValue({ type: 'string', value: envelopeKey });
    let count = 0;
    let k = 0;
    while (k < plan.length) {
      const headStart = plan[k]!;
      const headEnd = plan[k + 1]!;
      const keyStart = plan[k + 2]!;
      const keyEnd = plan[k + 3]!;
      const nOther = plan[k + 4]!;
      const othersAt = k + 5;
      const nTailAt = othersAt + nOther * 2;
      const nTail = plan[nTailAt]!;
      const tailsAt = nTailAt + 1;
      k = tailsAt + nTail * 2;

      const keyBytes = envelopeKeyBytes
        ? envelopeKeyBytes.length
        : keyStart >= 0
          ? keyEnd - keyStart
          : 0;
      let otherBytes = 0;
      for (let i = othersAt; i < nTailAt; i += 2)
        otherBytes += plan[i + 1]! - plan[i]!;
      let tailBytes = 0;
      for (let i = tailsAt; i < k; i += 2) tailBytes += plan[i + 1]! - plan[i]!;

      const seq = this.next;
      const offset = this.nextOffset;
      const offsetText = String(offset);
      const body =
        FIXED_ANNOTATION_BYTES +
        offsetText.length +
        (keyBytes > 0 ? SYM_KEY.length + keyBytes : 0) +
        otherBytes;
      const headLength = headEnd - headStart;
      const length = headLength + 12 + body + tailBytes;
      const seg = this.segmentFor(seq, length);
      const out = seg.data;
      let p = seg.used;
      const start = p;

      p += copyRange(payload, headStart, headEnd, out, p);
      out[p] = 0x00;
      out[p + 1] = 0x53;
      out[p + 2] = SECTION_MESSAGE_ANNOTATIONS;
      out[p + 3] = 0xd1;
      writeUint32(out, p + 4, body + 4);
      writeUint32(out, p + 8, (3 + (keyBytes > 0 ? 1 : 0) + nOther) * 2);
      p += 12;
      out.set(SYM_SEQ, p);
      p += SYM_SEQ.length;
      out[p] = 0x81;
      writeInt64(out, p + 1, seq);
      p += 9;
      out.set(SYM_OFFSET, p);
      p += SYM_OFFSET.length;
      out[p] = 0xa1;
      out[p + 1] = offsetText.length;
      p += 2;
      for (let i = 0; i < offsetText.length; i++)
        out[p++] = offsetText.charCodeAt(i);
      out.set(SYM_TIME, p);
      p += SYM_TIME.length;
      out[p] = 0x83;
      writeInt64(out, p + 1, time);
      p += 9;
      if (keyBytes > 0) {
        out.set(SYM_KEY, p);
        p += SYM_KEY.length;
        if (envelopeKeyBytes) {
          out.set(envelopeKeyBytes, p);
          p += envelopeKeyBytes.length;
        } else {
          const typeAt = p;
          p += copyRange(payload, keyStart, keyEnd, out, p);
          // A symbol key is stored as a string, as prepareEvent does (same length layout).
          if (out[typeAt] === 0xa3) out[typeAt] = 0xa1;
          else if (out[typeAt] === 0xb3) out[typeAt] = 0xb1;
        }
      }
      for (let i = othersAt; i < nTailAt; i += 2)
        p += copyRange(payload, plan[i]!, plan[i + 1]!, out, p);
      for (let i = tailsAt; i < k; i += 2)
        p += copyRange(payload, plan[i]!, plan[i + 1]!, out, p);

      this.commit(seg, start, length, headLength, time, offset);
      count++;
    }
    this.enforceRetention(time);
    return count;
  }

  private segmentFor(seq: number, length: number): Segment {
    let seg = this.segments.at(-1);
    if (!seg || !seg.fits(length)) {
      seg = new Segment(seq, Math.max(SEGMENT_BYTES, length));
      this.segments.push(seg);
    }
    seg.reserve();
    return seg;
  }

  private commit(
    seg: Segment,
    start: number,
    length: number,
    insertAt: number,
    time: number,
    offset: number,
  ): void {
    const i = seg.count;
    seg.starts[i] = start;
    seg.lengths[i] = length;
    seg.insertAt[i] = insertAt;
    seg.times[i] = time;
    seg.offsets[i] = offset;
    seg.used = start + length;
    seg.count++;
    this.next++;
    this.nextOffset += RECORD_HEADER_BYTES + length;
    this.lastTime = time;
    this.lastAppendedOffset = offset;
    this.retainedBytes += length;
  }

  /** Drops events beyond the retention limits; age is checked lazily (on append and on reads). */
  enforceRetention(now = Date.now()): void {
    const { maxEventsPerPartition, maxBytesPerPartition, maxAgeMs } =
      this.retention;
    while (this.begin < this.next) {
      const tooMany =
        maxEventsPerPartition !== undefined &&
        this.size > maxEventsPerPartition;
      const tooBig =
        maxBytesPerPartition !== undefined &&
        this.retainedBytes > maxBytesPerPartition;
      const tooOld =
        maxAgeMs !== undefined && this.timeAt(this.begin) < now - maxAgeMs;
      if (!tooMany && !tooBig && !tooOld) break;
      this.retainedBytes -= this.lengthAt(this.begin);
      this.begin++;
    }
    while (this.segments.length > 0) {
      const first = this.segments[0]!;
      if (
        first.baseSeq + first.count > this.begin ||
        first === this.segments.at(-1)
      )
        break;
      this.segments.shift();
    }
  }

  clear(): void {
    this.segments = [];
    this.begin = this.next;
    this.retainedBytes = 0;
  }

  private locate(seq: number): [Segment, number] {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid]!.baseSeq <= seq) lo = mid;
      else hi = mid - 1;
    }
    const seg = this.segments[lo];
    if (!seg || seq < seg.baseSeq || seq >= seg.baseSeq + seg.count) {
      throw new RangeError(`sequence number ${seq} is not retained`);
    }
    return [seg, seq - seg.baseSeq];
  }

  private timeAt(seq: number): number {
    const [seg, i] = this.locate(seq);
    return seg.times[i]!;
  }
  private offsetAt(seq: number): number {
    const [seg, i] = this.locate(seq);
    return seg.offsets[i]!;
  }
  private lengthAt(seq: number): number {
    const [seg, i] = this.locate(seq);
    return seg.lengths[i]!;
  }

  get(seq: number): StoredEvent {
    if (seq < this.begin)
      throw new RangeError(`sequence number ${seq} is not retained`);
    const [seg, i] = this.locate(seq);
    const start = seg.starts[i]!;
    return {
      seq,
      offset: seg.offsets[i]!,
      enqueuedTime: seg.times[i]!,
      bytes: seg.data.subarray(start, start + seg.lengths[i]!),
      insertAt: seg.insertAt[i]!,
    };
  }

  last(): StoredEvent | undefined {
    return this.next > this.begin ? this.get(this.next - 1) : undefined;
  }

  /** Offset and time of the newest event even after retention dropped it, for runtime metrics. */
  lastEnqueued(): { seq: number; offset: number; time: number } {
    return {
      seq: this.next - 1,
      offset: this.lastAppendedOffset,
      time: this.lastTime,
    };
  }

  /** First retained seq whose key is > (or >=) `value`; `nextSeq` when none. */
  private firstAfter(
    key: (seq: number) => number,
    value: number,
    inclusive: boolean,
  ): number {
    let lo = this.begin;
    let hi = this.next;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const k = key(mid);
      if (inclusive ? k >= value : k > value) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  seqAfterOffset(offset: number, inclusive: boolean): number {
    return this.firstAfter((s) => this.offsetAt(s), offset, inclusive);
  }

  seqAfterTime(time: number): number {
    return this.firstAfter((s) => this.timeAt(s), time, false);
  }
}
