export interface EventuallyOptions {
  /** Give up after this long (default 20 s). */
  timeoutMs?: number;
  /** Pause between probes (default 50 ms). */
  intervalMs?: number;
}

/**
 * Polls `probe` until it returns something other than `undefined`, `null` or
 * `false`, and returns that. Fixed sleeps make tests flaky on a loaded
 * machine; this waits exactly as long as needed. `what` names the condition
 * in the timeout error (a function is called then, to show the last state).
 */
export async function eventually<T>(
  probe: () =>
    T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string | (() => string),
  { timeoutMs = 20_000, intervalMs = 50 }: EventuallyOptions = {},
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > end)
      throw new Error(
        `timed out waiting for ${typeof what === 'string' ? what : what()}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
