import { DomainError, ErrorCode, validationFailed } from '../common/errors.js';
import { MAX_RECORD_BYTES, isPlainObject } from './profile-merge.js';

/** Most fragments in one `{"profiles": [...]}` request. */
export const MAX_JSON_RECORDS = 1000;

/** A record as received: parsed value or a parse error, with its position. */
export interface RawRecord {
  index: number;
  /** 1-based NDJSON line, for bulk loads. */
  line?: number;
  value?: unknown;
  /** Serialized size when known (NDJSON line length). */
  bytes?: number;
  error?: string;
}

/**
 * Splits an ingestion body into records. JSON: exactly `{"profiles": [..]}`
 * with 1..1000 entries (anything else is a 400 for the whole request).
 * NDJSON: one record per non-blank line; a line that is not JSON or is over
 * the size limit becomes a rejected record, not a failed request.
 */
export function parseIngestBody(body: unknown): RawRecord[] {
  if (typeof body === 'string') return parseNdjson(body);
  if (body === undefined || body === null || body === '') {
    throw new DomainError(
      ErrorCode.BodyEmpty,
      'The request body cannot be null or empty.',
    );
  }
  if (!isPlainObject(body)) {
    throw validationFailed(
      'Invalid request: the body must be {"profiles": [...]}',
      [{ path: '', message: 'must be an object with a profiles array' }],
    );
  }
  const extra = Object.keys(body).filter((k) => k !== 'profiles');
  if (extra.length) {
    throw validationFailed(
      `Invalid request: property ${extra[0]} should not exist`,
      [
        {
          path: extra[0] as string,
          message: `property ${extra[0]} should not exist`,
        },
      ],
    );
  }
  const profiles = body.profiles;
  if (!Array.isArray(profiles)) {
    throw validationFailed('Invalid request: profiles must be an array', [
      { path: 'profiles', message: 'profiles must be an array' },
    ]);
  }
  if (profiles.length === 0 || profiles.length > MAX_JSON_RECORDS) {
    throw validationFailed(
      `Invalid request: profiles must contain between 1 and ${MAX_JSON_RECORDS} records (use application/x-ndjson for bulk loads)`,
      [
        {
          path: 'profiles',
          message: `must contain 1 to ${MAX_JSON_RECORDS} records`,
        },
      ],
    );
  }
  return profiles.map((value: unknown, index) => ({ index, value }));
}

export function parseNdjson(text: string): RawRecord[] {
  const out: RawRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    if (line.trim() === '') continue;
    out.push(parseNdjsonLine(line, out.length, i + 1));
  }
  if (out.length === 0) {
    throw new DomainError(
      ErrorCode.BodyEmpty,
      'The request body cannot be null or empty.',
    );
  }
  return out;
}

/** One NDJSON line as a record (used by the HTTP endpoint and the CLI). */
export function parseNdjsonLine(
  line: string,
  index: number,
  lineNo: number,
): RawRecord {
  const bytes = Buffer.byteLength(line, 'utf8');
  if (bytes > MAX_RECORD_BYTES) {
    return {
      index,
      line: lineNo,
      error: `the record is ${bytes} bytes, more than the limit of ${MAX_RECORD_BYTES}`,
    };
  }
  try {
    return { index, line: lineNo, value: JSON.parse(line) as unknown, bytes };
  } catch (err) {
    return {
      index,
      line: lineNo,
      error: `line ${lineNo} is not valid JSON: ${err instanceof Error ? err.message : 'parse error'}`,
    };
  }
}
