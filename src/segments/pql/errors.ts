/** 1-based line and column of a 0-based offset in `text`. */
export function lineAndColumn(
  text: string,
  position: number,
): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(position, 0), text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * A PQL syntax error or an unsupported construct. `message` ends with the
 * location (`… at line 1, column 12`); `reason` is the same text without it.
 */
export class PqlError extends Error {
  override readonly name = 'PqlError';
  /** 0-based character offset into the PQL text. */
  readonly position: number;
  /** 1-based line. */
  readonly line: number;
  /** 1-based column (UTF-16 code units). */
  readonly column: number;
  /** The message without the location suffix. */
  readonly reason: string;

  constructor(reason: string, text: string, position: number) {
    const { line, column } = lineAndColumn(text, position);
    super(`${reason} at line ${line}, column ${column}`);
    this.reason = reason;
    this.position = Math.min(Math.max(position, 0), text.length);
    this.line = line;
    this.column = column;
  }
}
