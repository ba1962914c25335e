import { describe, expect, it } from 'vitest';
import { readiness } from './readiness.js';

describe('readiness', () => {
  it('reports a failed ping without its text, and hands the error to the log', async () => {
    const logged: unknown[] = [];
    const failure = new Error(
      'password authentication failed for user "svc" at db.internal:5432',
    );
    const health = await readiness(
      () => Promise.reject(failure),
      (err) => logged.push(err),
    );
    expect(health).toEqual({
      status: 'unavailable',
      database: { ready: false },
    });
    expect(JSON.stringify(health)).not.toContain('svc');
    expect(logged).toEqual([failure]);
  });

  it('gives up on a ping that never answers', async () => {
    const logged: unknown[] = [];
    const started = Date.now();
    const health = await readiness(
      () => new Promise(() => undefined),
      (err) => logged.push(err),
      50,
    );
    expect(health.database.ready).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(logged).toHaveLength(1);
  });

  it('reports the latency of a ping that answers', async () => {
    const health = await readiness(
      () => Promise.resolve(),
      () => undefined,
    );
    expect(health).toEqual({
      status: 'ok',
      database: { ready: true, latencyMs: expect.any(Number) },
    });
  });
});
