import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Lets long CPU work share the event loop: `maybeYield()` gives other
 * callbacks (health checks, other tenants' requests) a turn once `sliceMs`
 * of work has passed since the last turn. Evaluating many segments over a
 * batch of profiles is bounded per evaluation, not in total; this bounds how
 * long it holds the loop without a break.
 */
export class TimeSlice {
  private last = performance.now();

  constructor(private readonly sliceMs = 10) {}

  async maybeYield(): Promise<void> {
    if (performance.now() - this.last < this.sliceMs) return;
    await nextTurn();
    this.last = performance.now();
  }
}
