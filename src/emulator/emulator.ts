import {
  AmqpDecodeError,
  BATCH_MESSAGE_FORMAT,
  SECTION_DELIVERY_ANNOTATIONS,
  encodeAnnotationsSection,
  envelopeRanges,
  NumberList,
  planEvents,
} from './amqp-codec.js';
import {
  DEFAULT_CONSUMER_GROUP,
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
  MAX_MESSAGE_SIZE,
  MAX_NON_EPOCH_READERS,
} from './defaults.js';
import { FaultInjector, type FaultSpec } from './faults.js';
import { PartitionLog, type RetentionOptions } from './partition-log.js';
import { partitionForKey } from './partition-key.js';
import {
  amqpMessage,
  amqpTypes,
  startAmqpServer,
  type AmqpError,
  type AmqpServer,
  type IncomingLink,
  type Message,
  type OutgoingLink,
  type PeerConnection,
  type Transfer,
} from './rhea-adapter.js';
import { audiencePath, pathCovers, validateSasToken } from './sas.js';

export interface HubConfig {
  name: string;
  /** Default 2. */
  partitionCount?: number;
  /** `$default` always exists. */
  consumerGroups?: string[];
}

export interface EventHubsEmulatorOptions {
  /** Default 127.0.0.1; the emulator is meant for loopback only. */
  host?: string;
  /** 0 (default) picks a free port; read it back from `port` after `start()`. */
  port?: number;
  hubs?: HubConfig[];
  /** SAS key name → key. Default `{ RootManageSharedAccessKey: DEFAULT_EMULATOR_KEY }`. */
  keys?: Record<string, string>;
  /** Create unknown hubs on first use (2 partitions) instead of answering "not found". */
  autoCreateHubs?: boolean;
  /** `sas` validates every token; `any` accepts every token, like Azure's mock-hub. */
  authMode?: 'sas' | 'any';
  retention?: RetentionOptions;
}

export interface PartitionProperties {
  hub: string;
  partitionId: string;
  beginningSequenceNumber: number;
  lastEnqueuedSequenceNumber: number;
  lastEnqueuedOffset: string;
  lastEnqueuedTimeUtc: Date;
  isEmpty: boolean;
  retainedEvents: number;
  retainedBytes: number;
}

export interface HubInfo {
  name: string;
  partitionIds: string[];
  consumerGroups: string[];
  createdAt: Date;
}

export interface EmulatorCounters {
  connections: number;
  published: number;
  delivered: number;
  cbsOk: number;
  cbsFailed: number;
  managementRequests: number;
}

/** A stored event as a test sees it (decoded by the same codec rhea uses for the SDK). */
export interface StoredEventView {
  sequenceNumber: number;
  offset: string;
  enqueuedTime: Date;
  partitionKey: string | undefined;
  /** A data section's bytes parsed as JSON when they are JSON, else the bytes; an amqp-value as is. */
  body: unknown;
  properties: Record<string, unknown> | undefined;
  message: Message;
}

interface Partition {
  id: string;
  log: PartitionLog;
  readers: Set<Reader>;
}

interface Hub {
  name: string;
  createdAt: Date;
  partitions: Partition[];
  /** lower-case name → configured spelling */
  consumerGroups: Map<string, string>;
  roundRobin: number;
}

interface Reader {
  link: OutgoingLink;
  hub: Hub;
  partition: Partition;
  consumerGroup: string;
  epoch: number | undefined;
  cursor: number;
  runtimeMetric: boolean;
  retryTimer: NodeJS.Timeout | undefined;
}

const CBS = '$cbs';
const MANAGEMENT = '$management';
const CAP_RUNTIME_METRIC = 'com.microsoft:enable-receiver-runtime-metric';
const FILTER_RE =
  /^amqp\.annotation\.x-opt-(offset|sequence-number|enqueued-time)\s*(>=|>)\s*'([^']*)'$/;

const notFound = (entity: string): AmqpError => ({
  condition: 'amqp:not-found',
  // The SDK reports MessagingEntityNotFoundError only for this wording.
  description: `The messaging entity '${entity}' could not be found.`,
});

export class EventHubsEmulator {
  readonly host: string;
  private requestedPort: number;
  private server: AmqpServer | undefined;
  private readonly hubs = new Map<string, Hub>();
  private readonly keys: Record<string, string>;
  private readonly authMode: 'sas' | 'any';
  private readonly autoCreateHubs: boolean;
  private readonly retention: RetentionOptions;
  private readonly readers = new Set<Reader>();
  private acceptingAfter = 0;
  private readonly counters: EmulatorCounters = {
    connections: 0,
    published: 0,
    delivered: 0,
    cbsOk: 0,
    cbsFailed: 0,
    managementRequests: 0,
  };
  private readonly eventWaiters = new Set<() => void>();
  /** Reused per publish: the envelope's event ranges and their storage plan (no per-event objects). */
  private readonly scratchRanges = new NumberList();
  private readonly scratchPlan = new NumberList();

  readonly faults: FaultInjector;

  constructor(options: EventHubsEmulatorOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.requestedPort = options.port ?? 0;
    this.keys = options.keys ?? { [DEFAULT_KEY_NAME]: DEFAULT_EMULATOR_KEY };
    this.authMode = options.authMode ?? 'sas';
    this.autoCreateHubs = options.autoCreateHubs ?? false;
    this.retention = options.retention ?? {};
    for (const hub of options.hubs ?? []) this.addHub(hub);
    this.faults = new FaultInjector({
      detach: (spec) => this.forceDetach(spec),
      connection: (effect) => this.endConnections(effect),
      stopAccepting: (ms) => {
        // A restarting service also loses its live connections.
        this.acceptingAfter = Date.now() + ms;
        this.endConnections('drop');
      },
    });
  }

  // ---------------------------------------------------------------- lifecycle

  get port(): number {
    if (!this.server) throw new Error('EventHubsEmulator is not started');
    return this.server.port;
  }

  get isRunning(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<number> {
    if (this.server) return this.server.port;
    this.server = await startAmqpServer(this.host, this.requestedPort, {
      incomingLink: (link) => this.onIncomingLink(link),
      outgoingLink: (link) => this.onOutgoingLink(link),
      transfer: (link, t) => this.onTransfer(link, t),
      sendable: (link) => this.onSendable(link),
      linkClosed: (link) => this.onLinkClosed(link),
      connectionClosed: (conn) => this.onConnectionClosed(conn),
      accepting: () => this.onNewConnection(),
    });
    // A restart keeps the port so connection strings handed out stay valid.
    this.requestedPort = this.server.port;
    return this.server.port;
  }

  /** Closes every connection and the listener; nothing of the emulator keeps the process alive. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const reader of this.readers) this.removeReader(reader);
    await server.close();
    for (const wake of this.eventWaiters) wake();
  }

  /**
   * `Endpoint=sb://host:port;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true`
   * (+ `;EntityPath=` when a hub is given).
   */
  connectionString(hubName?: string, keyName?: string): string {
    const name = keyName ?? Object.keys(this.keys)[0] ?? DEFAULT_KEY_NAME;
    const key = this.keys[name];
    if (key === undefined) throw new Error(`unknown key name '${name}'`);
    const entity = hubName ? `;EntityPath=${hubName}` : '';
    return `Endpoint=sb://${this.host}:${this.port};SharedAccessKeyName=${name};SharedAccessKey=${key};UseDevelopmentEmulator=true${entity}`;
  }

  // ---------------------------------------------------------------- entities

  addHub(config: HubConfig): HubInfo {
    const key = config.name.toLowerCase();
    if (this.hubs.has(key))
      throw new Error(`hub '${config.name}' already exists`);
    const count = config.partitionCount ?? 2;
    if (!Number.isInteger(count) || count < 1 || count > 1024) {
      throw new Error(`hub '${config.name}': partitionCount must be 1..1024`);
    }
    const consumerGroups = new Map<string, string>([
      [DEFAULT_CONSUMER_GROUP, DEFAULT_CONSUMER_GROUP],
    ]);
    for (const cg of config.consumerGroups ?? [])
      consumerGroups.set(cg.toLowerCase(), cg);
    const hub: Hub = {
      name: config.name,
      createdAt: new Date(),
      partitions: Array.from({ length: count }, (_, i) => ({
        id: String(i),
        log: new PartitionLog(this.retention),
        readers: new Set<Reader>(),
      })),
      consumerGroups,
      roundRobin: 0,
    };
    this.hubs.set(key, hub);
    return this.describe(hub);
  }

  listHubs(): HubInfo[] {
    return [...this.hubs.values()].map((h) => this.describe(h));
  }

  /** Forgets every event (sequence numbers and offsets continue) and all faults. */
  reset(): void {
    for (const hub of this.hubs.values())
      for (const p of hub.partitions) p.log.clear();
    this.faults.clear();
  }

  stats(): EmulatorCounters {
    return { ...this.counters };
  }

  partitionProperties(
    hubName: string,
    partitionId: string,
  ): PartitionProperties {
    const hub = this.requireHub(hubName);
    const p = this.requirePartition(hub, partitionId);
    p.log.enforceRetention();
    const last = p.log.lastEnqueued();
    return {
      hub: hub.name,
      partitionId: p.id,
      beginningSequenceNumber: p.log.beginSeq,
      lastEnqueuedSequenceNumber: last.seq,
      lastEnqueuedOffset: String(last.offset),
      lastEnqueuedTimeUtc: new Date(last.time),
      isEmpty: p.log.size === 0,
      retainedEvents: p.log.size,
      retainedBytes: p.log.bytes,
    };
  }

  /** The retained events of a partition, decoded, for assertions. */
  getEvents(hubName: string, partitionId: string): StoredEventView[] {
    const p = this.requirePartition(this.requireHub(hubName), partitionId);
    const out: StoredEventView[] = [];
    for (let seq = p.log.beginSeq; seq < p.log.nextSeq; seq++) {
      const e = p.log.get(seq);
      const message = amqpMessage.decode(e.bytes) as unknown as Message;
      const key: unknown = message.message_annotations?.['x-opt-partition-key'];
      out.push({
        sequenceNumber: e.seq,
        offset: String(e.offset),
        enqueuedTime: new Date(e.enqueuedTime),
        partitionKey: typeof key === 'string' ? key : undefined,
        body: decodeBody(message.body),
        properties: message.application_properties as
          Record<string, unknown> | undefined,
        message,
      });
    }
    return out;
  }

  /** Open consumer links, e.g. to wait until a "latest" receiver is attached before sending. */
  readerCount(
    hubName: string,
    partitionId?: string,
    consumerGroup?: string,
  ): number {
    let n = 0;
    for (const r of this.readers) {
      if (r.hub.name.toLowerCase() !== hubName.toLowerCase()) continue;
      if (partitionId !== undefined && r.partition.id !== partitionId) continue;
      if (
        consumerGroup !== undefined &&
        r.consumerGroup.toLowerCase() !== consumerGroup.toLowerCase()
      )
        continue;
      n++;
    }
    return n;
  }

  /** Number of events ever published to a hub (or a partition), retained or not. */
  publishedCount(hubName: string, partitionId?: string): number {
    const hub = this.requireHub(hubName);
    const parts =
      partitionId === undefined
        ? hub.partitions
        : [this.requirePartition(hub, partitionId)];
    return parts.reduce((n, p) => n + p.log.nextSeq, 0);
  }

  /** Resolves once `count` events have been published to the hub/partition (or rejects on timeout). */
  async waitForEvents(
    hubName: string,
    count: number,
    options: { partitionId?: string; timeoutMs?: number } = {},
  ): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    while (this.publishedCount(hubName, options.partitionId) < count) {
      const left = deadline - Date.now();
      if (left <= 0 || !this.server) {
        throw new Error(
          `timed out waiting for ${count} events on ${hubName}; have ${this.publishedCount(hubName, options.partitionId)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        const waiters = this.eventWaiters;
        waiters.add(done);
      });
    }
  }

  /** Seeds a partition without a producer: each body is sent as a JSON data section. */
  publishDirect(
    hubName: string,
    partitionId: string,
    events: Array<{
      body: unknown;
      properties?: Record<string, unknown>;
      partitionKey?: string;
    }>,
  ): void {
    const hub = this.requireHub(hubName);
    const p = this.requirePartition(hub, partitionId);
    const now = Date.now();
    for (const e of events) {
      const bytes = amqpMessage.encode({
        application_properties: e.properties,
        body: amqpMessage.data_section(
          Buffer.from(JSON.stringify(e.body), 'utf8'),
        ),
      });
      this.scratchRanges.clear();
      this.scratchRanges.push(0);
      this.scratchRanges.push(bytes.length);
      planEvents(bytes, this.scratchRanges, this.scratchPlan);
      p.log.appendPlanned(bytes, this.scratchPlan, e.partitionKey, now);
    }
    this.afterAppend(p, events.length);
  }

  private describe(hub: Hub): HubInfo {
    return {
      name: hub.name,
      partitionIds: hub.partitions.map((p) => p.id),
      consumerGroups: [...hub.consumerGroups.values()],
      createdAt: hub.createdAt,
    };
  }

  private findHub(name: string): Hub | undefined {
    const key = name.toLowerCase();
    let hub = this.hubs.get(key);
    if (!hub && this.autoCreateHubs && name !== '' && !name.startsWith('$')) {
      this.addHub({ name });
      hub = this.hubs.get(key);
    }
    return hub;
  }

  private requireHub(name: string): Hub {
    const hub = this.hubs.get(name.toLowerCase());
    if (!hub) throw new Error(`unknown hub '${name}'`);
    return hub;
  }

  private requirePartition(hub: Hub, id: string): Partition {
    const p = hub.partitions.find((x) => x.id === id);
    if (!p) throw new Error(`hub '${hub.name}' has no partition '${id}'`);
    return p;
  }

  // ---------------------------------------------------------------- connections

  private onNewConnection(): boolean {
    if (Date.now() < this.acceptingAfter) return false;
    this.counters.connections++;
    return true;
  }

  private onConnectionClosed(conn: PeerConnection): void {
    for (const reader of this.readers) {
      if (reader.link.connection === conn) this.removeReader(reader);
    }
  }

  private endConnections(effect: 'drop' | 'close-forced'): number {
    const conns = [...(this.server?.connections ?? [])];
    for (const conn of conns) {
      if (effect === 'drop') conn.abort();
      else
        conn.close({
          condition: 'amqp:connection:forced',
          description: 'Injected forced close.',
        });
    }
    return conns.length;
  }

  private forceDetach(spec: Extract<FaultSpec, { kind: 'detach' }>): string[] {
    const error: AmqpError = {
      condition: spec.condition ?? 'amqp:link:detach-forced',
      description: spec.description ?? 'Injected forced detach.',
    };
    const hit: string[] = [];
    const eq = (want: string | undefined, got: string): boolean =>
      want === undefined || want.toLowerCase() === got.toLowerCase();
    if (spec.link !== 'producer') {
      for (const r of this.readers) {
        if (!eq(spec.hub, r.hub.name) || !eq(spec.partition, r.partition.id))
          continue;
        if (!eq(spec.consumerGroup, r.consumerGroup)) continue;
        if (hit.length >= (spec.count ?? Infinity)) break;
        this.removeReader(r);
        r.link.detach(error);
        hit.push(r.link.name);
      }
    }
    if (spec.link !== 'consumer') {
      for (const p of this.producers) {
        if (
          !eq(spec.hub, p.hub.name) ||
          (spec.partition !== undefined && p.partition?.id !== spec.partition)
        )
          continue;
        if (hit.length >= (spec.count ?? Infinity)) break;
        this.producers.delete(p);
        p.link.detach(error);
        hit.push(p.link.name);
      }
    }
    return hit;
  }

  private readonly producers = new Set<{
    link: IncomingLink;
    hub: Hub;
    partition: Partition | undefined;
  }>();
  private readonly producerByLink = new Map<
    IncomingLink,
    { link: IncomingLink; hub: Hub; partition: Partition | undefined }
  >();

  // ---------------------------------------------------------------- links

  private claimCovers(conn: PeerConnection, path: string): boolean {
    if (this.authMode === 'any') return true;
    const now = Date.now();
    return conn.claims.some(
      (c) => c.expiresAt > now && pathCovers(c.path, path),
    );
  }

  private onIncomingLink(link: IncomingLink): void {
    link.open(MAX_MESSAGE_SIZE);
    const address = link.targetAddress ?? '';
    if (address === CBS || address === MANAGEMENT) return;
    const parts = address.split('/');
    const hub = this.findHub(parts[0] ?? '');
    if (!hub) return link.refuse(notFound(address));
    let partition: Partition | undefined;
    if (parts.length === 3 && parts[1]?.toLowerCase() === 'partitions') {
      partition = hub.partitions.find((p) => p.id === parts[2]);
      if (!partition) return link.refuse(outOfRange(hub, parts[2] ?? ''));
    } else if (parts.length !== 1) {
      return link.refuse(notFound(address));
    }
    if (!this.claimCovers(link.connection, audiencePath(address))) {
      return link.refuse({
        condition: 'amqp:unauthorized-access',
        description: `Unauthorized access. No valid claim covers '${address}'; send put-token to $cbs first.`,
      });
    }
    const fault = this.faults.take(
      'attach',
      { hub: hub.name, partition: partition?.id, link: 'producer' },
      link.name,
    );
    if (fault) return link.refuse(attachFaultError(fault));
    const producer = { link, hub, partition };
    this.producers.add(producer);
    this.producerByLink.set(link, producer);
  }

  private onOutgoingLink(link: OutgoingLink): void {
    const address = link.sourceAddress ?? '';
    if (address === CBS || address === MANAGEMENT || !address.includes('/')) {
      // Reply links of $cbs/$management; their address is whatever the client chose.
      link.open([]);
      return;
    }
    const runtimeMetric = link.desiredCapabilities.includes(CAP_RUNTIME_METRIC);
    link.open(runtimeMetric ? [CAP_RUNTIME_METRIC] : []);
    const m = /^([^/]+)\/consumergroups\/([^/]+)\/partitions\/([^/]+)$/i.exec(
      address,
    );
    if (!m) return link.refuse(notFound(address));
    const [, hubName = '', cgName = '', partitionId = ''] = m;
    const hub = this.findHub(hubName);
    if (!hub) return link.refuse(notFound(address));
    const consumerGroup = hub.consumerGroups.get(cgName.toLowerCase());
    if (consumerGroup === undefined) {
      return link.refuse(notFound(`${hub.name}/ConsumerGroups/${cgName}`));
    }
    const partition = hub.partitions.find((p) => p.id === partitionId);
    if (!partition) return link.refuse(outOfRange(hub, partitionId));
    if (!this.claimCovers(link.connection, audiencePath(address))) {
      return link.refuse({
        condition: 'amqp:unauthorized-access',
        description: `Unauthorized access. No valid claim covers '${address}'; send put-token to $cbs first.`,
      });
    }
    const fault = this.faults.take(
      'attach',
      {
        hub: hub.name,
        partition: partition.id,
        consumerGroup,
        link: 'consumer',
      },
      link.name,
    );
    if (fault) return link.refuse(attachFaultError(fault));

    const start = this.startPosition(partition, link);
    if (typeof start !== 'number') return link.refuse(start);

    const epochValue = link.properties['com.microsoft:epoch'];
    const epoch =
      epochValue === undefined || epochValue === null
        ? undefined
        : Number(epochValue);
    const rivals = [...partition.readers].filter(
      (r) => r.consumerGroup === consumerGroup,
    );
    const maxEpoch = rivals.reduce<number | undefined>(
      (max, r) =>
        r.epoch !== undefined && (max === undefined || r.epoch > max)
          ? r.epoch
          : max,
      undefined,
    );
    if (epoch !== undefined) {
      if (maxEpoch !== undefined && epoch < maxEpoch) {
        return link.refuse({
          condition: 'amqp:link:stolen',
          description: `Receiver with epoch ${epoch} refused: a receiver with the higher epoch ${maxEpoch} exists.`,
        });
      }
      for (const r of rivals) {
        this.removeReader(r);
        r.link.detach({
          condition: 'amqp:link:stolen',
          description: `New receiver with epoch ${epoch} was opened; this receiver is disconnected.`,
        });
      }
    } else if (maxEpoch !== undefined) {
      return link.refuse({
        condition: 'amqp:link:stolen',
        description: `A receiver with epoch ${maxEpoch} already exists; non-epoch receivers are refused.`,
      });
    } else if (rivals.length >= MAX_NON_EPOCH_READERS) {
      return link.refuse({
        condition: 'amqp:resource-limit-exceeded',
        description: `Exceeded the maximum number of allowed receivers per partition in a consumer group, which is ${MAX_NON_EPOCH_READERS}.`,
      });
    }
    const reader: Reader = {
      link,
      hub,
      partition,
      consumerGroup,
      epoch,
      cursor: start,
      runtimeMetric,
      retryTimer: undefined,
    };
    partition.readers.add(reader);
    this.readers.add(reader);
    this.pump(reader);
  }

  /** The first sequence number a new reader gets, or the error for a filter we do not know. */
  private startPosition(
    partition: Partition,
    link: OutgoingLink,
  ): number | AmqpError {
    const log = partition.log;
    log.enforceRetention();
    const expression = link.filterExpression;
    if (expression === undefined) {
      // No filter at all: the service starts at the beginning of the partition.
      return link.hasFilter
        ? argumentError('unsupported filter type')
        : log.beginSeq;
    }
    const m = FILTER_RE.exec(expression.trim());
    if (!m)
      return argumentError(`unsupported filter expression "${expression}"`);
    const [, field, op, value = ''] = m;
    const inclusive = op === '>=';
    if (field === 'offset') {
      if (value === '@latest') return log.nextSeq;
      const offset = Number(value);
      if (!Number.isFinite(offset))
        return argumentError(`invalid offset '${value}'`);
      if (offset < 0) return log.beginSeq;
      return log.seqAfterOffset(offset, inclusive);
    }
    const n = Number(value);
    if (!Number.isFinite(n)) return argumentError(`invalid value '${value}'`);
    if (field === 'sequence-number') {
      const seq = inclusive ? n : n + 1;
      return Math.min(Math.max(seq, log.beginSeq), log.nextSeq);
    }
    return log.seqAfterTime(n);
  }

  private onLinkClosed(link: IncomingLink | OutgoingLink): void {
    const producer = this.producerByLink.get(link as IncomingLink);
    if (producer) {
      this.producers.delete(producer);
      this.producerByLink.delete(producer.link);
      return;
    }
    for (const r of this.readers) {
      if (r.link === link) {
        this.removeReader(r);
        break;
      }
    }
  }

  private removeReader(reader: Reader): void {
    clearTimeout(reader.retryTimer);
    reader.retryTimer = undefined;
    reader.partition.readers.delete(reader);
    this.readers.delete(reader);
  }

  // ---------------------------------------------------------------- delivery

  private onSendable(link: OutgoingLink): void {
    for (const r of this.readers) {
      if (r.link === link) {
        this.pump(r);
        return;
      }
    }
  }

  private pump(reader: Reader): void {
    if (!this.readers.has(reader) || !reader.link.isOpen) return;
    const log = reader.partition.log;
    if (reader.cursor < log.beginSeq) reader.cursor = log.beginSeq;
    let sent = 0;
    while (reader.cursor < log.nextSeq && reader.link.sendable()) {
      if (reader.runtimeMetric) {
        const e = log.get(reader.cursor);
        reader.link.sendRaw(this.withRuntimeMetric(e.bytes, e.insertAt, log));
      } else {
        reader.link.sendRaw(log.view(reader.cursor));
      }
      reader.cursor++;
      sent++;
    }
    reader.link.flush();
    this.counters.delivered += sent;
    // Credit left but rhea's session buffer (or the client's session window) is full. rhea emits
    // no event when that frees up, so poll gently; an immediate re-pump would spin the CPU.
    if (
      reader.cursor < log.nextSeq &&
      reader.link.credit > 0 &&
      reader.retryTimer === undefined
    ) {
      reader.retryTimer = setTimeout(() => {
        reader.retryTimer = undefined;
        this.pump(reader);
      }, 1);
    }
  }

  private withRuntimeMetric(
    bytes: Buffer,
    insertAt: number,
    log: PartitionLog,
  ): Buffer {
    const last = log.lastEnqueued();
    const da = encodeAnnotationsSection(SECTION_DELIVERY_ANNOTATIONS, [
      ['last_enqueued_sequence_number', { type: 'long', value: last.seq }],
      ['last_enqueued_offset', { type: 'string', value: String(last.offset) }],
      ['last_enqueued_time_utc', { type: 'timestamp', value: last.time }],
      [
        'runtime_info_retrieval_time_utc',
        { type: 'timestamp', value: Date.now() },
      ],
    ]);
    return Buffer.concat([
      bytes.subarray(0, insertAt),
      da,
      bytes.subarray(insertAt),
    ]);
  }

  private afterAppend(partition: Partition, count: number): void {
    this.counters.published += count;
    for (const r of partition.readers) this.pump(r);
    for (const wake of this.eventWaiters) wake();
  }

  // ---------------------------------------------------------------- transfers

  private onTransfer(link: IncomingLink, t: Transfer): void {
    const address = link.targetAddress;
    if (address === CBS) {
      t.accept();
      this.onCbsRequest(link.connection, t.message);
      return;
    }
    if (address === MANAGEMENT) {
      t.accept();
      this.onManagementRequest(link.connection, t.message);
      return;
    }
    const producer = this.producerByLink.get(link);
    if (!producer) {
      t.reject(notFound(address ?? ''));
      return;
    }
    this.onPublish(producer.hub, producer.partition, t);
  }

  private onPublish(
    hub: Hub,
    pinned: Partition | undefined,
    t: Transfer,
  ): void {
    if (t.size > MAX_MESSAGE_SIZE) {
      t.reject({
        condition: 'amqp:link:message-size-exceeded',
        description: `The received message (size ${t.size} bytes) exceeds the limit (${MAX_MESSAGE_SIZE} bytes).`,
      });
      return;
    }
    let partitionKey: string | undefined;
    let source: Buffer;
    const ranges = this.scratchRanges;
    try {
      if (t.payload && t.format === BATCH_MESSAGE_FORMAT) {
        source = t.payload;
        partitionKey = envelopeRanges(source, ranges);
      } else if (t.message) {
        // A foreign client sent one plain message; rhea already decoded it, so re-encode it.
        const key: unknown =
          t.message.message_annotations?.['x-opt-partition-key'];
        partitionKey = typeof key === 'string' ? key : undefined;
        source = amqpMessage.encode(t.message);
        ranges.clear();
        ranges.push(0);
        ranges.push(source.length);
      } else {
        throw new AmqpDecodeError(`unsupported message format ${t.format}`);
      }
    } catch (err) {
      t.reject({
        condition: 'amqp:decode-error',
        description: (err as Error).message,
      });
      return;
    }
    const partition =
      pinned ??
      (partitionKey !== undefined
        ? hub.partitions[partitionForKey(partitionKey, hub.partitions.length)]!
        : hub.partitions[hub.roundRobin++ % hub.partitions.length]!);

    const fault = this.faults.take(
      'publish',
      { hub: hub.name, partition: partition.id },
      `${hub.name}/${partition.id}`,
    );
    if (fault) {
      switch (fault.effect) {
        case 'never-settle':
          return;
        case 'server-busy':
          return t.reject({
            condition: 'com.microsoft:server-busy',
            description:
              'The request was terminated because the namespace is being throttled (injected).',
          });
        case 'message-size-exceeded':
          return t.reject({
            condition: 'amqp:link:message-size-exceeded',
            description: 'The received message exceeds the limit (injected).',
          });
        case 'internal-error':
          return t.reject({
            condition: 'amqp:internal-error',
            description: 'Internal server error (injected).',
          });
      }
    }

    const plan = this.scratchPlan;
    try {
      planEvents(source, ranges, plan);
    } catch (err) {
      t.reject({
        condition: 'amqp:decode-error',
        description: (err as Error).message,
      });
      return;
    }
    const count = partition.log.appendPlanned(
      source,
      plan,
      partitionKey,
      Date.now(),
    );
    t.accept();
    this.afterAppend(partition, count);
  }

  // ---------------------------------------------------------------- $cbs

  private reply(
    conn: PeerConnection,
    request: Message,
    status: number,
    description: string,
    condition?: string,
    body?: unknown,
  ): void {
    const replyTo = request.reply_to;
    if (!replyTo) return;
    const link = conn.findReplyLink(replyTo);
    if (!link) return;
    const properties: Record<string, unknown> = {
      'status-code': amqpTypes.wrap_int(status),
      'status-description': description,
    };
    if (condition) properties['error-condition'] = condition;
    link.sendMessage({
      correlation_id: request.message_id,
      application_properties: properties,
      body,
    });
  }

  private onCbsRequest(
    conn: PeerConnection,
    request: Message | undefined,
  ): void {
    if (!request) return;
    const props = (request.application_properties ?? {}) as Record<
      string,
      unknown
    >;
    const audience = asText(props.name);
    const path = audiencePath(audience);
    const hubName = path.split('/')[1] ?? '';
    const token =
      typeof request.body === 'string'
        ? request.body
        : String(request.body ?? '');
    const keyName = /[?&\s]skn=([^&]*)/.exec(token)?.[1];
    const fail = (
      status: number,
      condition: string,
      description: string,
    ): void => {
      this.counters.cbsFailed++;
      this.reply(conn, request, status, description, condition);
    };
    if (props.operation !== 'put-token') {
      return fail(
        400,
        'com.microsoft:argument-error',
        `Unsupported $cbs operation '${String(props.operation)}'.`,
      );
    }
    const fault = this.faults.take(
      'cbs',
      { hub: hubName, keyName: keyName && decodeURIComponent(keyName) },
      audience,
    );
    if (fault) {
      if (fault.effect === 'timeout') return;
      if (fault.effect === 'server-busy') {
        return fail(
          503,
          'com.microsoft:server-busy',
          'The server is busy (injected).',
        );
      }
      return fail(
        401,
        'amqp:unauthorized-access',
        'InvalidSignature: The token has an invalid signature (injected).',
      );
    }
    let expiresAt = Date.now() + 3_600_000;
    const isJwt = props.type === 'jwt';
    if (this.authMode === 'sas' && !isJwt) {
      const check = validateSasToken(token, audience, this.keys);
      if (!check.ok)
        return fail(401, 'amqp:unauthorized-access', check.description);
      expiresAt = check.expiresAt;
    }
    if (hubName !== '' && !this.findHub(hubName)) {
      return fail(404, 'amqp:not-found', notFound(audience).description);
    }
    const existing = conn.claims.find((c) => c.path === path);
    if (existing) existing.expiresAt = Math.max(existing.expiresAt, expiresAt);
    else conn.claims.push({ path, expiresAt });
    this.counters.cbsOk++;
    this.reply(conn, request, 202, 'Accepted');
  }

  // ---------------------------------------------------------------- $management

  private onManagementRequest(
    conn: PeerConnection,
    request: Message | undefined,
  ): void {
    if (!request) return;
    this.counters.managementRequests++;
    const props = (request.application_properties ?? {}) as Record<
      string,
      unknown
    >;
    const hubName = asText(props.name);
    const fault = this.faults.take(
      'management',
      { hub: hubName, partition: props.partition as string | undefined },
      hubName,
    );
    if (fault) {
      if (fault.effect === 'timeout') return;
      return this.reply(
        conn,
        request,
        503,
        'The server is busy (injected).',
        'com.microsoft:server-busy',
      );
    }
    if (props.operation !== 'READ') {
      return this.reply(
        conn,
        request,
        400,
        `Unsupported operation '${String(props.operation)}'.`,
        'com.microsoft:argument-error',
      );
    }
    const securityToken = props.security_token;
    if (
      this.authMode === 'sas' &&
      typeof securityToken === 'string' &&
      securityToken.startsWith('SharedAccessSignature')
    ) {
      const check = validateSasToken(securityToken, `/${hubName}`, this.keys);
      if (!check.ok)
        return this.reply(
          conn,
          request,
          401,
          check.description,
          'amqp:unauthorized-access',
        );
    }
    const hub = this.findHub(hubName);
    if (!hub) {
      const e = notFound(hubName);
      return this.reply(conn, request, 404, e.description, e.condition);
    }
    if (props.type === 'com.microsoft:eventhub') {
      return this.reply(conn, request, 200, 'OK', undefined, {
        name: hub.name,
        type: 'com.microsoft:eventhub',
        created_at: hub.createdAt,
        partition_count: amqpTypes.wrap_int(hub.partitions.length),
        partition_ids: hub.partitions.map((p) => p.id),
      });
    }
    if (props.type === 'com.microsoft:partition') {
      const id = asText(props.partition);
      const partition = hub.partitions.find((p) => p.id === id);
      if (!partition) {
        const e = outOfRange(hub, id);
        return this.reply(conn, request, 400, e.description, e.condition);
      }
      const info = this.partitionProperties(hub.name, id);
      return this.reply(conn, request, 200, 'OK', undefined, {
        name: hub.name,
        type: 'com.microsoft:partition',
        partition: id,
        begin_sequence_number: amqpTypes.wrap_long(
          info.beginningSequenceNumber,
        ),
        last_enqueued_sequence_number: amqpTypes.wrap_long(
          info.lastEnqueuedSequenceNumber,
        ),
        last_enqueued_offset: info.lastEnqueuedOffset,
        last_enqueued_time_utc: info.lastEnqueuedTimeUtc,
        is_partition_empty: info.isEmpty,
      });
    }
    return this.reply(
      conn,
      request,
      400,
      `Unsupported type '${String(props.type)}'.`,
      'com.microsoft:argument-error',
    );
  }
}

function asText(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

function decodeBody(body: unknown): unknown {
  const section = body as { typecode?: number; content?: unknown } | undefined;
  if (section?.typecode === 0x75 && Buffer.isBuffer(section.content)) {
    try {
      return JSON.parse(section.content.toString('utf8')) as unknown;
    } catch {
      return section.content;
    }
  }
  return section?.typecode !== undefined ? section.content : body;
}

function outOfRange(hub: Hub, partitionId: string): AmqpError {
  return {
    condition: 'com.microsoft:argument-out-of-range',
    description: `The specified partition '${partitionId}' is invalid for Event Hub '${hub.name}'. It should be one of ${hub.partitions.map((p) => p.id).join(', ')}.`,
  };
}

function argumentError(description: string): AmqpError {
  return { condition: 'com.microsoft:argument-error', description };
}

function attachFaultError(
  fault: Extract<FaultSpec, { kind: 'attach' }>,
): AmqpError {
  return {
    condition: fault.condition ?? 'com.microsoft:server-busy',
    description: fault.description ?? 'The link was refused (injected).',
  };
}
