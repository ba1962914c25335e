/**
 * Where an export step's time goes, summed over every step of this process:
 * CPU time of the runner's own synchronous phases, and wall time of each
 * phase as a step sees it (waits included). Timers run per step and per SDK
 * batch, never per message.
 *
 * CPU is only taken around synchronous code: across an await it would count
 * whatever else ran meanwhile (the prefetched batch, a commit in flight). So
 * the driver's protocol parsing, socket I/O and garbage collection are in no
 * phase; the benchmark prints them as the rest of the process's CPU.
 */
export const STEP_PHASES = [
  /** Decoding the change rows and profile states the queries returned. */
  'read',
  'select',
  /** Eligibility, membership status, messageIds, properties. */
  'build',
  /** Each message's JSON text and bytes. */
  'serialize',
  /** The SDK's batch encoding (tryAdd) and the synchronous part of its sends. */
  'sdk',
  /** Starting the commit (its statements run while the next step works). */
  'commit',
] as const;

export type StepPhase = (typeof STEP_PHASES)[number];

export interface PhaseTotals {
  steps: number;
  /** Messages built (all targets). */
  messages: number;
  /** Per phase: CPU microseconds of its synchronous work. */
  cpuMicros: Record<StepPhase, number>;
  /** Per phase: wall-clock milliseconds a step spent in it (awaits included). */
  wallMs: Record<StepPhase, number>;
}

function zeros(): Record<StepPhase, number> {
  return {
    read: 0,
    select: 0,
    build: 0,
    serialize: 0,
    sdk: 0,
    commit: 0,
  };
}

export class StepTimers {
  private readonly totals: PhaseTotals = {
    steps: 0,
    messages: 0,
    cpuMicros: zeros(),
    wallMs: zeros(),
  };

  /** Runs synchronous `fn`, adding its CPU time to `phase`. */
  cpu<T>(phase: StepPhase, fn: () => T): T {
    const start = process.cpuUsage();
    try {
      return fn();
    } finally {
      this.addCpu(phase, start);
    }
  }

  /** Adds the CPU time since `start` (a process.cpuUsage() taken before synchronous work). */
  addCpu(phase: StepPhase, start: NodeJS.CpuUsage): void {
    const d = process.cpuUsage(start);
    this.totals.cpuMicros[phase] += d.user + d.system;
  }

  addCpuMicros(phase: StepPhase, micros: number): void {
    this.totals.cpuMicros[phase] += micros;
  }

  /** Adds the wall time since `startMs` (performance.now()) to `phase`. */
  addWall(phase: StepPhase, startMs: number): void {
    this.totals.wallMs[phase] += performance.now() - startMs;
  }

  countStep(messages: number): void {
    this.totals.steps++;
    this.totals.messages += messages;
  }

  snapshot(): PhaseTotals {
    return {
      steps: this.totals.steps,
      messages: this.totals.messages,
      cpuMicros: { ...this.totals.cpuMicros },
      wallMs: { ...this.totals.wallMs },
    };
  }
}
