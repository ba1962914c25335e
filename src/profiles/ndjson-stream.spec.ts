import { describe, expect, it } from 'vitest';
import {
  ReadingStopped,
  ndjsonRecords,
  untilAborted,
} from './ndjson-stream.js';

async function collect(chunks: (string | Buffer)[], max?: number) {
  const out = [];
  async function* source() {
    for (const c of chunks) yield c;
  }
  for await (const r of ndjsonRecords(source(), { maxLineBytes: max }))
    out.push(r);
  return out;
}

describe('ndjsonRecords', () => {
  it('splits lines across chunks, keeps multi-byte characters whole, skips blank lines, takes CRLF and a last line without newline', async () => {
    const text = '{"a":"é€😀"}\r\n\n  \n{"b":2}\n{"c":3}';
    const bytes = Buffer.from(text, 'utf8');
    // Split inside the multi-byte characters, one byte at a time.
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    const records = await collect(chunks);
    expect(records.map((r) => [r.index, r.line, r.value])).toEqual([
      [0, 1, { a: 'é€😀' }],
      [1, 4, { b: 2 }],
      [2, 5, { c: 3 }],
    ]);
    expect(records.at(-1)?.bytesRead).toBe(bytes.length);
  });

  it('skips an over-long line without keeping it and rejects it with its size; its neighbours are read', async () => {
    const long = `{"x":"${'y'.repeat(200)}"}`;
    const records = await collect(
      ['{"a":1}\n', long.slice(0, 50), long.slice(50), '\n{"b":2}\n'],
      100,
    );
    expect(records.map((r) => r.value ?? r.error)).toEqual([
      { a: 1 },
      `the record is ${long.length} bytes, more than the limit of 100`,
      { b: 2 },
    ]);
    expect(records.map((r) => r.line)).toEqual([1, 2, 3]);
  });

  it('reports a line that is not JSON as that record', async () => {
    const [r] = await collect(['{"a":\n']);
    expect(r?.error).toMatch(/^line 1 is not valid JSON/);
  });

  it('rejects a line nested deeper than the limit before parsing it', async () => {
    const deep = '['.repeat(70) + ']'.repeat(70);
    const records = [];
    async function* source() {
      yield `${deep}\n{"ok":1}\n`;
    }
    for await (const r of ndjsonRecords(source(), { maxDepth: 64 }))
      records.push(r);
    expect(records.map((r) => r.value ?? r.error)).toEqual([
      'line 1 is nested deeper than 64 levels',
      { ok: 1 },
    ]);
  });
});

describe('untilAborted', () => {
  it('stops a source that is waiting for its next chunk, and never yields the line cut off mid-way', async () => {
    const controller = new AbortController();
    let release = (): void => undefined;
    async function* trickle(): AsyncGenerator<string> {
      yield '{"a":1}\n{"b":';
      // A client that stops sending: this chunk never comes.
      await new Promise<void>((r) => (release = r));
      yield '2}\n';
    }
    const seen: unknown[] = [];
    const reading = (async () => {
      for await (const r of ndjsonRecords(
        untilAborted(trickle(), controller.signal),
      ))
        seen.push(r.value);
    })();
    await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    await expect(reading).rejects.toBeInstanceOf(ReadingStopped);
    expect(seen).toEqual([{ a: 1 }]);
    release();
  });

  it('passes a source through whole when the signal never fires', async () => {
    async function* source(): AsyncGenerator<string> {
      yield '{"a":1}\n';
      yield '{"b":2}';
    }
    const seen: unknown[] = [];
    for await (const r of ndjsonRecords(
      untilAborted(source(), new AbortController().signal),
    ))
      seen.push(r.value);
    expect(seen).toEqual([{ a: 1 }, { b: 2 }]);
  });
});
