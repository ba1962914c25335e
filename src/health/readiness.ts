import type { HealthDto } from './health.dto.js';

/** Longer than any healthy round trip; a readiness probe must answer even when the pool is stuck. */
export const READINESS_TIMEOUT_MS = 2000;

/**
 * The health answer from one database round trip. A failure's text is
 * handed to `onError` (the log), never put in the answer: driver messages
 * name hosts, users and databases.
 */
export async function readiness(
  ping: () => Promise<unknown>,
  onError: (err: unknown) => void,
  timeoutMs = READINESS_TIMEOUT_MS,
): Promise<HealthDto> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ping(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`no answer from the database in ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return {
      status: 'ok',
      database: {
        ready: true,
        latencyMs: Math.round((performance.now() - started) * 10) / 10,
      },
    };
  } catch (err) {
    onError(err);
    return { status: 'unavailable', database: { ready: false } };
  } finally {
    clearTimeout(timer);
  }
}
