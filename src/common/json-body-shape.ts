/**
 * Checks raw JSON (or NDJSON) bytes before they are parsed: nesting deeper
 * than `maxDepth` would overflow the stack of the recursive code that walks
 * parsed bodies (class-transformer, validation), so it is refused here,
 * once, in one linear pass. No I/O here.
 *
 * The scan works on UTF-8 bytes: the bytes it looks for (`"`, `\`, brackets)
 * never occur inside a multi-byte character.
 */
export type BodyShapeProblem = 'too-deep' | 'string';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const NEWLINE = 0x0a;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/**
 * The deepest nesting of objects and arrays, or more than `maxDepth` as soon
 * as it is exceeded. `lines`: NDJSON, where each line is a document of its
 * own (JSON text never holds a raw newline), so a broken line's unclosed
 * brackets do not count against the next.
 */
export function jsonDepth(
  bytes: Uint8Array,
  maxDepth: number,
  lines = false,
): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (lines && b === NEWLINE) {
      depth = 0;
      inString = false;
      continue;
    }
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
      continue;
    }
    if (b === QUOTE) inString = true;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > maxDepth) return deepest;
      }
    } else if ((b === CLOSE_BRACE || b === CLOSE_BRACKET) && depth > 0) depth--;
  }
  return deepest;
}

/**
 * Why a JSON request body may not be parsed, if it may not: too deep, or a
 * bare string (the JSON routes take objects and arrays; a string would be
 * taken for NDJSON text by the ingestion route).
 */
export function jsonBodyProblem(
  bytes: Uint8Array,
  maxDepth: number,
): BodyShapeProblem | undefined {
  let i = 0;
  while (i < bytes.length && isSpace(bytes[i] as number)) i++;
  if (bytes[i] === QUOTE) return 'string';
  return jsonDepth(bytes, maxDepth) > maxDepth ? 'too-deep' : undefined;
}
