import {
  ANNOTATION_ENQUEUED_TIME,
  ANNOTATION_OFFSET,
  ANNOTATION_PARTITION_KEY,
  ANNOTATION_SEQUENCE_NUMBER,
  SECTION_MESSAGE_ANNOTATIONS,
  encodeAnnotationValue,
  encodeSymbol,
  type NumberList,
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
  loopBelow = 32,
): number {
  const n = end - start;
  if (n <= loopBelow) {
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
/** Arena chunks hold service annotations, and whole events copied from small payloads. */
const ARENA_BYTES = 256 * 1024;
const SEGMENT_EVENTS = 8192;
const INITIAL_INDEX = 256;
/**
 * A received payload at least this big that fills most of its memory is kept as it is, and its
 * events are stored as views of it. Copying a 1 MB batch into fresh memory cost more in page
 * faults than all the rest of ingest. Smaller payloads (or slices of bigger socket chunks) are
 * copied, so that a retained event never pins much more memory than its own bytes.
 */
const VIEW_MIN_BYTES = 16 * 1024;

const EMPTY = Buffer.alloc(0);

/** Per event in {@link Segment.pieces}: head, middle and tail `[start, end)` bounds. */
const PIECES = 6;

/**
 * A run of events that share one body buffer (a retained payload, or an arena chunk) and one
 * arena chunk for their middle piece. A stored event is three pieces: the header section
 * (`body`), the service message-annotations (`mid`) and the rest of the message (`body`). An
 * event copied whole into the arena has its header as head, everything else as middle, and an
 * empty tail. Typed-array indexes keep one JS object per segment instead of one per event.
 */
class Segment {
  count = 0;
  pieces: Uint32Array;
  /** Enqueued time and offset per event. */
  meta: Float64Array;

  constructor(
    readonly baseSeq: number,
    readonly body: Buffer,
    readonly mid: Buffer,
    capacity: number,
  ) {
    this.pieces = new Uint32Array(capacity * PIECES);
    this.meta = new Float64Array(capacity * 2);
  }

  reserve(): void {
    const capacity = this.meta.length / 2;
    if (this.count < capacity) return;
    // Grows by doubling: a fixed SEGMENT_EVENTS size would cost more than small events themselves.
    const size = Math.min(capacity * 2, SEGMENT_EVENTS);
    const pieces = new Uint32Array(size * PIECES);
    pieces.set(this.pieces);
    this.pieces = pieces;
    const meta = new Float64Array(size * 2);
    meta.set(this.meta);
    this.meta = meta;
  }

  lengthAt(i: number): number {
    const x = i * PIECES;
    const p = this.pieces;
    return p[x + 1]! - p[x]! + p[x + 3]! - p[x + 2]! + p[x + 5]! - p[x + 4]!;
  }
}

/**
 * One stored event's bytes as pieces, written out by {@link writeTo} (the delivery path encodes
 * transfer frames itself and writes the pieces straight into its output buffer).
 */
export class EventView {
  body: Buffer = EMPTY;
  mid: Buffer = EMPTY;
  headStart = 0;
  headEnd = 0;
  midStart = 0;
  midEnd = 0;
  tailStart = 0;
  tailEnd = 0;
  length = 0;

  /** Where delivery annotations go: right after the header section. */
  get insertAt(): number {
    return this.headEnd - this.headStart;
  }

  writeTo(dst: Buffer, at: number): void {
    let p = at;
    p += copyRange(this.body, this.headStart, this.headEnd, dst, p);
    // The service annotations (~100 bytes) byte by byte: one view allocation less per delivery.
    p += copyRange(this.mid, this.midStart, this.midEnd, dst, p, 160);
    copyRange(this.body, this.tailStart, this.tailEnd, dst, p);
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
  private arena: Buffer = EMPTY;
  private arenaUsed = 0;
  private lastLocated: Segment | undefined;
  private readonly cursor = new EventView();

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
  /** Bytes of the retained events as they are delivered (without delivery annotations). */
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

    const start = this.reserveArena(length);
    const out = this.arena;
    let p = start;
    p += event.head.copy(out, p);
    const mid = p;
    p += annotations.copy(out, p);
    for (const t of event.tail) p += t.copy(out, p);
    const seg = this.segmentFor(seq, out, out, 1);
    this.commit(seg, start, mid, mid, start + length, 0, 0, time, offset);
    this.enforceRetention(time);
    return seq;
  }

  /**
   * Appends a batch laid out by {@link planEvents}, the same bytes {@link append} stores, with no
   * per-event objects. A big payload is kept and its events are stored as views of it (only the
   * service annotations are written, into the arena); a small one is copied event by event into
   * the arena. `envelopeKey` overrides the events' own keys. Returns the number appended.
   */
  appendPlanned(
    payload: Buffer,
    planned: NumberList,
    envelopeKey: string | undefined,
    enqueuedTime: number,
  ): number {
    const plan = planned.items;
    const planEnd = planned.length;
    const time = Math.max(enqueuedTime, this.lastTime);
    const envelopeKeyBytes =
      envelopeKey === undefined
        ? undefined
        : encodeAnnotationValue({ type: 'string', value: envelopeKey });
    const asView =
      payload.length >= VIEW_MIN_BYTES &&
      payload.length * 4 >= payload.buffer.byteLength * 3;
    let remaining = 0;
    for (let k = 0; k < planEnd; remaining++) {
      const nTailAt = k + 5 + plan[k + 4]! * 2;
      k = nTailAt + 1 + plan[nTailAt]! * 2;
    }
    let count = 0;
    let k = 0;
    while (k < planEnd) {
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
      // A view keeps header and tail in the payload unless the tail is in several pieces.
      const viewTail = asView && nTail === 1;
      const headInArena = !asView;
      const arenaLength =
        (headInArena ? headLength : 0) + 12 + body + (viewTail ? 0 : tailBytes);
      const start = this.reserveArena(arenaLength);
      const out = this.arena;
      let p = start;
      if (headInArena) p += copyRange(payload, headStart, headEnd, out, p);
      const mid = p;

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
      if (!viewTail) {
        for (let i = tailsAt; i < k; i += 2)
          p += copyRange(payload, plan[i]!, plan[i + 1]!, out, p);
      }

      const seg = this.segmentFor(
        seq,
        asView ? payload : out,
        out,
        remaining - count,
      );
      if (asView) {
        this.commit(
          seg,
          headStart,
          headEnd,
          mid,
          p,
          viewTail ? plan[tailsAt]! : 0,
          viewTail ? plan[tailsAt + 1]! : 0,
          time,
          offset,
        );
      } else {
        this.commit(seg, start, mid, mid, p, 0, 0, time, offset);
      }
      count++;
    }
    this.enforceRetention(time);
    return count;
  }

  /** Room for `size` bytes in the current arena chunk, or a new one; returns where. */
  private reserveArena(size: number): number {
    if (this.arenaUsed + size > this.arena.length) {
      this.arena = Buffer.allocUnsafeSlow(Math.max(ARENA_BYTES, size));
      this.arenaUsed = 0;
    }
    const at = this.arenaUsed;
    this.arenaUsed += size;
    return at;
  }

  private segmentFor(
    seq: number,
    body: Buffer,
    mid: Buffer,
    expected: number,
  ): Segment {
    let seg = this.segments.at(-1);
    if (
      !seg ||
      seg.body !== body ||
      seg.mid !== mid ||
      seg.count >= SEGMENT_EVENTS
    ) {
      // A segment of a retained payload takes exactly its events; arena segments grow.
      const capacity = Math.min(
        SEGMENT_EVENTS,
        body === mid ? Math.max(INITIAL_INDEX, expected) : expected,
      );
      seg = new Segment(seq, body, mid, capacity);
      this.segments.push(seg);
    }
    seg.reserve();
    return seg;
  }

  private commit(
    seg: Segment,
    headStart: number,
    headEnd: number,
    midStart: number,
    midEnd: number,
    tailStart: number,
    tailEnd: number,
    time: number,
    offset: number,
  ): void {
    const i = seg.count;
    const x = i * PIECES;
    const pieces = seg.pieces;
    pieces[x] = headStart;
    pieces[x + 1] = headEnd;
    pieces[x + 2] = midStart;
    pieces[x + 3] = midEnd;
    pieces[x + 4] = tailStart;
    pieces[x + 5] = tailEnd;
    seg.meta[i * 2] = time;
    seg.meta[i * 2 + 1] = offset;
    seg.count++;
    const length =
      headEnd - headStart + midEnd - midStart + tailEnd - tailStart;
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
      const [seg, i] = this.locate(this.begin);
      this.retainedBytes -= seg.lengthAt(i);
      this.begin++;
    }
    // A segment (and with it a retained payload) is freed once all its events are dropped.
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
    this.lastLocated = undefined;
    this.arena = EMPTY;
    this.arenaUsed = 0;
    this.begin = this.next;
    this.retainedBytes = 0;
  }

  private locate(seq: number): [Segment, number] {
    const seg = this.segmentOf(seq);
    return [seg, seq - seg.baseSeq];
  }

  private segmentOf(seq: number): Segment {
    const cached = this.lastLocated;
    if (cached && seq >= cached.baseSeq && seq < cached.baseSeq + cached.count)
      return cached;
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
    this.lastLocated = seg;
    return seg;
  }

  private timeAt(seq: number): number {
    const seg = this.segmentOf(seq);
    return seg.meta[(seq - seg.baseSeq) * 2]!;
  }
  private offsetAt(seq: number): number {
    const seg = this.segmentOf(seq);
    return seg.meta[(seq - seg.baseSeq) * 2 + 1]!;
  }

  /**
   * The stored bytes of an event as pieces, without copying. The returned object is reused by
   * the next call: write it out (or copy what is needed) before calling again.
   */
  view(seq: number): EventView {
    if (seq < this.begin)
      throw new RangeError(`sequence number ${seq} is not retained`);
    const [seg, i] = this.locate(seq);
    const v = this.cursor;
    const x = i * PIECES;
    const p = seg.pieces;
    v.body = seg.body;
    v.mid = seg.mid;
    v.headStart = p[x]!;
    v.headEnd = p[x + 1]!;
    v.midStart = p[x + 2]!;
    v.midEnd = p[x + 3]!;
    v.tailStart = p[x + 4]!;
    v.tailEnd = p[x + 5]!;
    v.length = seg.lengthAt(i);
    return v;
  }

  /** An event with its bytes assembled into a new Buffer (for assertions and runtime metrics). */
  get(seq: number): StoredEvent {
    const v = this.view(seq);
    const [seg, i] = this.locate(seq);
    const bytes = Buffer.allocUnsafe(v.length);
    v.writeTo(bytes, 0);
    return {
      seq,
      offset: seg.meta[i * 2 + 1]!,
      enqueuedTime: seg.meta[i * 2]!,
      bytes,
      insertAt: v.insertAt,
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
