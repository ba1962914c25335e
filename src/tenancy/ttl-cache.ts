/**
 * A bounded map whose entries expire after `ttlMs`, with a generation that
 * every invalidation advances. No I/O here.
 *
 * The generation closes a race a plain cache has: a load that read the
 * database before an invalidation must not store its (now stale) row after
 * it. Callers take `generation()` before they load and pass it to `set`,
 * which drops the value when an invalidation happened in between.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  private gen = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  generation(): number {
    return this.gen;
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Stores `value` unless the cache was invalidated since `generation` was taken. */
  set(key: string, value: V, generation: number): void {
    if (generation !== this.gen || this.ttlMs <= 0 || this.maxEntries <= 0)
      return;
    this.entries.delete(key);
    // Map iteration is insertion order: the first key is the oldest stored.
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expires: this.now() + this.ttlMs });
  }

  delete(key: string): void {
    this.gen++;
    this.entries.delete(key);
  }

  clear(): void {
    this.gen++;
    this.entries.clear();
  }
}
