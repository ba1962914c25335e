import {
  ANNOTATION_ENQUEUED_TIME,
  ANNOTATION_OFFSET,
  ANNOTATION_SEQUENCE_NUMBER,
  SECTION_MESSAGE_ANNOTATIONS,
  encodeAnnotationsSection,
  partitionKeyAnnotation,
  type AnnotationValue,
  type PreparedEvent,
} from './amqp-codec.js';

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

/**
 * Events live packed in ~1 MB buffers with typed-array indexes: one JS object per segment instead
 * of one per event keeps memory close to the wire size.
 */
class Segment {
  readonly data: Buffer;
  used = 0;
  count = 0;
  readonly starts = new Uint32Array(SEGMENT_EVENTS);
  readonly lengths = new Uint32Array(SEGMENT_EVENTS);
  /** Where delivery annotations go: right after the header section. */
  readonly insertAt = new Uint32Array(SEGMENT_EVENTS);
  readonly times = new Float64Array(SEGMENT_EVENTS);
  readonly offsets = new Float64Array(SEGMENT_EVENTS);

  constructor(
    readonly baseSeq: number,
    capacity: number,
  ) {
    this.data = Buffer.allocUnsafeSlow(capacity);
  }

  fits(bytes: number): boolean {
    return this.count < SEGMENT_EVENTS && this.used + bytes <= this.data.length;
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
    const entries: Array<readonly [string, AnnotationValue]> = [
      [ANNOTATION_SEQUENCE_NUMBER, { type: 'long', value: seq }],
      [ANNOTATION_OFFSET, { type: 'string', value: String(offset) }],
      [ANNOTATION_ENQUEUED_TIME, { type: 'timestamp', value: time }],
    ];
    if (event.partitionKey !== undefined)
      entries.push(partitionKeyAnnotation(event.partitionKey));
    const annotations = encodeAnnotationsSection(
      SECTION_MESSAGE_ANNOTATIONS,
      entries,
      event.otherAnnotations,
    );
    let length = event.head.length + annotations.length;
    for (const t of event.tail) length += t.length;

    let seg = this.segments.at(-1);
    if (!seg || !seg.fits(length)) {
      seg = new Segment(seq, Math.max(SEGMENT_BYTES, length));
      this.segments.push(seg);
    }
    const i = seg.count;
    const start = seg.used;
    let p = start;
    p += event.head.copy(seg.data, p);
    p += annotations.copy(seg.data, p);
    for (const t of event.tail) p += t.copy(seg.data, p);
    seg.starts[i] = start;
    seg.lengths[i] = length;
    seg.insertAt[i] = event.head.length;
    seg.times[i] = time;
    seg.offsets[i] = offset;
    seg.used = p;
    seg.count++;

    this.next++;
    this.nextOffset += RECORD_HEADER_BYTES + length;
    this.lastTime = time;
    this.lastAppendedOffset = offset;
    this.retainedBytes += length;
    this.enforceRetention(time);
    return seq;
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
