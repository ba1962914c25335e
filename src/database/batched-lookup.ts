import { AsyncResource } from 'node:async_hooks';

interface Waiting<Key, Row> {
  key: Key;
  resolve(row: Row | undefined): void;
  reject(err: unknown): void;
}

/**
 * Lookups by key that start in the same turn of the event loop, answered
 * together by one `fetch` (one statement for all their keys). On a busy API
 * most of the CPU a one-row read costs, in Node and in PostgreSQL, is its
 * round trip — a socket write that wakes the other process, the protocol on
 * both sides — not the index lookup; lookups sharing a statement share that.
 * A lookup alone waits only for the end of the current turn (setImmediate).
 *
 * `fetch` runs outside the context of the request that happened to start the
 * batch (the batch is no one request's: its database work and its log lines
 * belong to none of them), so it must bound its own time.
 */
export class BatchedLookup<Key, Row> {
  private waiting: Waiting<Key, Row>[] = [];
  /** Created outside any request: what runs in it sees no request's context. */
  private readonly scope = new AsyncResource('BatchedLookup');

  constructor(
    /** The rows of `keys`, in their order; undefined where a key has none. */
    private readonly fetch: (keys: Key[]) => Promise<(Row | undefined)[]>,
    private readonly maxBatch = 100,
  ) {}

  load(key: Key): Promise<Row | undefined> {
    return new Promise((resolve, reject) => {
      if (this.waiting.length === 0)
        setImmediate(() => this.scope.runInAsyncScope(() => this.flush()));
      this.waiting.push({ key, resolve, reject });
    });
  }

  private flush(): void {
    const all = this.waiting;
    this.waiting = [];
    for (let i = 0; i < all.length; i += this.maxBatch)
      void this.run(all.slice(i, i + this.maxBatch));
  }

  private async run(batch: Waiting<Key, Row>[]): Promise<void> {
    let rows: (Row | undefined)[];
    try {
      rows = await this.fetch(batch.map((w) => w.key));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => w.resolve(rows[i]));
  }
}
