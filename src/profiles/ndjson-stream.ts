import { jsonDepth } from '../common/json-body-shape.js';
import { MAX_RECORD_BYTES } from './profile-merge.js';
import { type RawRecord, parseNdjsonLine } from './ingest-body.js';

const NEWLINE = 0x0a;
/** BODY_MAX_DEPTH's default. */
const DEFAULT_MAX_DEPTH = 64;

/**
 * NDJSON records from a byte stream (an HTTP request, a file), one per
 * non-blank line, as they arrive. Memory is bounded by the longest line it
 * keeps, `maxLineBytes`: a longer line is skipped to its end (its bytes are
 * counted, not kept) and becomes a rejected record. Lines are decoded whole,
 * so a UTF-8 character split across chunks is read correctly. `bytesRead`
 * tells progress.
 */
export async function* ndjsonRecords(
  source: AsyncIterable<Buffer | string>,
  opts: { maxLineBytes?: number; maxDepth?: number } = {},
): AsyncGenerator<RawRecord & { bytesRead: number }> {
  const maxLineBytes = opts.maxLineBytes ?? MAX_RECORD_BYTES;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  let parts: Buffer[] = [];
  let kept = 0;
  /** Bytes of an over-long line being skipped (0: not skipping). */
  let skipped = 0;
  let lineNo = 0;
  let index = 0;
  let bytesRead = 0;

  function* endLine(): Generator<RawRecord & { bytesRead: number }> {
    lineNo++;
    if (skipped > 0) {
      const bytes = skipped;
      skipped = 0;
      yield {
        index: index++,
        line: lineNo,
        error: `the record is ${bytes} bytes, more than the limit of ${maxLineBytes}`,
        bytesRead,
      };
      return;
    }
    const bytes = Buffer.concat(parts, kept);
    parts = [];
    kept = 0;
    // Checked on the bytes, before JSON.parse and the recursive code after it.
    if (jsonDepth(bytes, maxDepth) > maxDepth) {
      yield {
        index: index++,
        line: lineNo,
        error: `line ${lineNo} is nested deeper than ${maxDepth} levels`,
        bytesRead,
      };
      return;
    }
    const text = bytes.toString('utf8');
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (line.trim() === '') return;
    yield { ...parseNdjsonLine(line, index++, lineNo), bytesRead };
  }

  for await (const chunk of source) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    bytesRead += buf.length;
    let from = 0;
    while (from < buf.length) {
      const nl = buf.indexOf(NEWLINE, from);
      const end = nl === -1 ? buf.length : nl;
      const piece = end - from;
      if (skipped > 0 || kept + piece > maxLineBytes) {
        // Over the limit: drop what was kept and count the rest of the line.
        skipped += kept + piece;
        parts = [];
        kept = 0;
      } else if (piece > 0) {
        parts.push(buf.subarray(from, end));
        kept += piece;
      }
      if (nl === -1) break;
      yield* endLine();
      from = nl + 1;
    }
  }
  if (kept > 0 || skipped > 0) yield* endLine();
}

/** Thrown by `untilAborted` when its signal fires: the rest of the body stays unread. */
export class ReadingStopped extends Error {
  constructor() {
    super('reading stopped');
    this.name = 'ReadingStopped';
  }
}

/**
 * `source` until `signal` fires, even while a chunk is awaited (a client
 * that sends slowly, or not at all). It throws ReadingStopped rather than
 * ending, so a line cut off mid-way is never parsed as a record; and it
 * does not destroy the source, so the response can still be written.
 */
export async function* untilAborted<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal,
): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new ReadingStopped());
  });
  aborted.catch(() => undefined);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const next = await Promise.race([it.next(), aborted]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
