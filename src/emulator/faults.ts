/**
 * Fault injection. Each fault has a selector and a count and is consumed when a matching operation
 * happens; every firing is recorded so a test can assert that the failure it provoked really
 * happened (and was not, say, masked by a retry that never ran).
 */

export type PublishFaultEffect =
  'server-busy' | 'message-size-exceeded' | 'internal-error' | 'never-settle';
export type CbsFaultEffect = 'unauthorized' | 'server-busy' | 'timeout';
export type ManagementFaultEffect = 'server-busy' | 'timeout';
export type LinkKind = 'producer' | 'consumer';

interface Selector {
  hub?: string;
  /** Partition id; for publish faults the partition the events would go to. */
  partition?: string;
  consumerGroup?: string;
  /** How many times the fault fires; default 1, `Infinity` (or null over HTTP) for always. */
  count?: number;
}

export type FaultSpec =
  | ({ kind: 'publish'; effect: PublishFaultEffect } & Selector)
  | ({ kind: 'cbs'; effect: CbsFaultEffect; keyName?: string } & Selector)
  | ({ kind: 'management'; effect: ManagementFaultEffect } & Selector)
  /** Refuse new links (default condition `com.microsoft:server-busy`). */
  | ({
      kind: 'attach';
      effect: 'refuse';
      link?: LinkKind;
      condition?: string;
      description?: string;
    } & Selector)
  /** Immediately detach matching live links (default `amqp:link:detach-forced`). */
  | ({
      kind: 'detach';
      link?: LinkKind;
      condition?: string;
      description?: string;
    } & Selector)
  /** Immediately end every client connection: `drop` cuts TCP, `close-forced` sends AMQP close. */
  | { kind: 'connection'; effect: 'drop' | 'close-forced' }
  /** Refuse (cut) new TCP connections for `durationMs`, like a restarting service. */
  | { kind: 'stop-accepting'; durationMs: number };

export type FaultKind = FaultSpec['kind'];

export interface FaultRecord {
  id: number;
  spec: FaultSpec;
  remaining: number;
  firedCount: number;
}

export interface FiredFault {
  id: number;
  kind: FaultKind;
  effect: string;
  at: number;
  /** What the fault hit: hub, partition, link name … */
  target: string;
}

export interface FaultContext {
  hub?: string;
  partition?: string;
  consumerGroup?: string;
  link?: LinkKind;
  keyName?: string;
}

export interface ImmediateFaultActions {
  detach(spec: Extract<FaultSpec, { kind: 'detach' }>): string[];
  connection(effect: 'drop' | 'close-forced'): number;
  stopAccepting(durationMs: number): void;
}

export class FaultInjector {
  private nextId = 1;
  private active: FaultRecord[] = [];
  private log: FiredFault[] = [];

  constructor(private readonly actions: ImmediateFaultActions) {}

  /**
   * Arms a fault. `detach`, `connection` and `stop-accepting` act at once and are recorded as
   * fired (once per link or connection hit); the others wait for a matching operation.
   */
  add(spec: FaultSpec): FaultRecord {
    validate(spec);
    const id = this.nextId++;
    const count =
      'count' in spec && spec.count !== undefined
        ? (spec.count ?? Infinity)
        : 1;
    const record: FaultRecord = { id, spec, remaining: count, firedCount: 0 };
    switch (spec.kind) {
      case 'detach':
        for (const target of this.actions.detach(spec))
          this.record(record, target);
        break;
      case 'connection': {
        const n = this.actions.connection(spec.effect);
        for (let i = 0; i < n; i++) this.record(record, 'connection');
        break;
      }
      case 'stop-accepting':
        this.actions.stopAccepting(spec.durationMs);
        this.record(record, `${spec.durationMs}ms`);
        break;
      default:
        this.active.push(record);
    }
    return record;
  }

  /** Consumes one matching armed fault of `kind`, if any. */
  take<K extends 'publish' | 'cbs' | 'management' | 'attach'>(
    kind: K,
    ctx: FaultContext,
    target: string,
  ): Extract<FaultSpec, { kind: K }> | undefined {
    for (const record of this.active) {
      const spec = record.spec;
      if (spec.kind !== kind || record.remaining <= 0 || !matches(spec, ctx))
        continue;
      record.remaining--;
      this.record(record, target);
      if (record.remaining <= 0)
        this.active = this.active.filter((r) => r !== record);
      return spec as Extract<FaultSpec, { kind: K }>;
    }
    return undefined;
  }

  /** Every firing so far, oldest first; optionally only those of one kind. */
  fired(kind?: FaultKind): FiredFault[] {
    return kind ? this.log.filter((f) => f.kind === kind) : [...this.log];
  }

  /** Armed faults that have not fired their full count. */
  pending(): FaultRecord[] {
    return [...this.active];
  }

  clear(): void {
    this.active = [];
    this.log = [];
  }

  private record(record: FaultRecord, target: string): void {
    record.firedCount++;
    const spec = record.spec;
    this.log.push({
      id: record.id,
      kind: spec.kind,
      effect: 'effect' in spec ? spec.effect : spec.kind,
      at: Date.now(),
      target,
    });
  }
}

function matches(spec: FaultSpec, ctx: FaultContext): boolean {
  const eq = (want: string | undefined, got: string | undefined): boolean =>
    want === undefined ||
    (got !== undefined && want.toLowerCase() === got.toLowerCase());
  if ('hub' in spec && !eq(spec.hub, ctx.hub)) return false;
  if ('partition' in spec && !eq(spec.partition, ctx.partition)) return false;
  if ('consumerGroup' in spec && !eq(spec.consumerGroup, ctx.consumerGroup))
    return false;
  if ('link' in spec && spec.link !== undefined && spec.link !== ctx.link)
    return false;
  if ('keyName' in spec && !eq(spec.keyName, ctx.keyName)) return false;
  return true;
}

const EFFECTS: Record<string, readonly string[]> = {
  publish: [
    'server-busy',
    'message-size-exceeded',
    'internal-error',
    'never-settle',
  ],
  cbs: ['unauthorized', 'server-busy', 'timeout'],
  management: ['server-busy', 'timeout'],
  attach: ['refuse'],
  connection: ['drop', 'close-forced'],
};

export class InvalidFaultError extends Error {}

function validate(spec: FaultSpec): void {
  if (spec === null || typeof spec !== 'object')
    throw new InvalidFaultError('fault must be an object');
  const kind: string = spec.kind;
  if (spec.kind === 'detach') return;
  if (spec.kind === 'stop-accepting') {
    if (typeof spec.durationMs !== 'number' || !(spec.durationMs >= 0)) {
      throw new InvalidFaultError('stop-accepting needs durationMs >= 0');
    }
    return;
  }
  const effects = EFFECTS[kind];
  if (!effects) throw new InvalidFaultError(`unknown fault kind '${kind}'`);
  const effect = 'effect' in spec ? spec.effect : undefined;
  if (effect === undefined || !effects.includes(effect)) {
    throw new InvalidFaultError(
      `fault kind '${kind}' needs effect ${effects.join('|')}`,
    );
  }
}
