import {
  EventHubProducerClient,
  type EventDataBatch,
  RetryMode,
} from '@azure/event-hubs';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { createHash, hash } from 'node:crypto';
import { scrub } from '../logging/logger.js';
import { ENV, type Env, endpointPolicy } from '../config/env.js';
import {
  connectionStringFor,
  type EndpointPolicy,
  type EventHubsCredentials,
  NamespaceNotAllowedError,
} from './endpoint.js';

export interface OutboundEvent {
  /** Partitioning key (the profile id): one profile's messages stay on one partition, in order. */
  key: string;
  /** The body as published: UTF-8 JSON text, sent as is (content type application/json). */
  bytes: Uint8Array;
  /** Stable across retries of the same export. */
  messageId: string;
  properties: Record<string, string>;
}

export interface PublishTarget {
  credentials: EventHubsCredentials;
  eventHubName: string;
}

export interface RejectedEvent {
  event: OutboundEvent;
  code: string;
  message: string;
}

export interface PublishResult {
  sent: number;
  bytes: number;
  /** Events that can never be sent (e.g. over the hub's size limit); recorded as failed, not retried. */
  rejected: RejectedEvent[];
  /** CPU time (µs) of the SDK's synchronous work: batch encoding (tryAdd) and starting the sends. */
  sdkCpuMicros: number;
}

/** A send that failed as a whole; `retryable` false means fixing configuration is needed (e.g. wrong key). */
export class PublishError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

/** Where an event would go and whether it fits the hub's message size (nothing is sent). */
export interface PlannedEvent {
  partitionId: string;
  fits: boolean;
  maxSizeInBytes: number;
}

/** The port the runner publishes through; the adapter below uses the unmodified SDK. */
export abstract class EventPublisher {
  abstract publish(
    target: PublishTarget,
    events: OutboundEvent[],
  ): Promise<PublishResult>;

  /** What publish would do with each event, without sending (the export preview). */
  abstract plan(
    target: PublishTarget,
    events: OutboundEvent[],
  ): Promise<PlannedEvent[]>;
}

interface CachedProducer {
  client: EventHubProducerClient;
  partitionIds?: string[];
  lastUsed: number;
}

const IDLE_MS = 5 * 60_000;

/** Stable partition for a key over the hub's partition ids, sorted once for a whole batch of keys. */
export function partitioner(partitionIds: string[]): (key: string) => string {
  const sorted = [...partitionIds].sort(
    (a, b) => Number(a) - Number(b) || a.localeCompare(b),
  );
  return (key) => {
    // One-shot hash: no Hash object per key (same digest as createHash).
    const h = hash('sha1', key, 'buffer').readUInt32BE(0);
    return sorted[h % sorted.length] as string;
  };
}

@Injectable()
export class SdkEventPublisher
  extends EventPublisher
  implements OnApplicationShutdown
{
  private readonly logger = new Logger('EventPublisher');
  private readonly producers = new Map<string, CachedProducer>();
  private readonly policy: EndpointPolicy;

  constructor(@Inject(ENV) env: Env) {
    super();
    this.policy = endpointPolicy(env);
  }

  async publish(
    target: PublishTarget,
    events: OutboundEvent[],
  ): Promise<PublishResult> {
    const result: PublishResult = {
      sent: 0,
      bytes: 0,
      rejected: [],
      sdkCpuMicros: 0,
    };
    if (events.length === 0) return result;
    const producer = this.producerFor(target);
    try {
      producer.partitionIds ??= await producer.client.getPartitionIds();
      const cpu = process.cpuUsage();
      const byPartition = new Map<string, OutboundEvent[]>();
      const partitionOf = partitioner(producer.partitionIds);
      for (const e of events) {
        const p = partitionOf(e.key);
        const list = byPartition.get(p);
        if (list) list.push(e);
        else byPartition.set(p, [e]);
      }
      result.sdkCpuMicros += cpuSince(cpu);
      // Partitions are independent, so they are sent concurrently; within one
      // partition batches go out in order so a profile's messages stay ordered.
      await Promise.all(
        [...byPartition].map(([partitionId, list]) =>
          this.publishPartition(producer.client, partitionId, list, result),
        ),
      );
      producer.lastUsed = Date.now();
      return result;
    } catch (err) {
      producer.partitionIds = undefined;
      throw toPublishError(err);
    }
  }

  /**
   * One partition's events in as few batches as the hub's size limit
   * allows, in order. CPU is taken around the synchronous stretches only
   * (per batch, not per event).
   */
  private async publishPartition(
    client: EventHubProducerClient,
    partitionId: string,
    list: OutboundEvent[],
    result: PublishResult,
  ): Promise<void> {
    let batch = await client.createBatch({ partitionId });
    let cpu = process.cpuUsage();
    for (const e of list) {
      const data = eventDataOf(e);
      if (batch.tryAdd(data)) continue;
      if (batch.count > 0) {
        result.sdkCpuMicros += cpuSince(cpu);
        await this.send(client, batch, result);
        batch = await client.createBatch({ partitionId });
        cpu = process.cpuUsage();
        if (batch.tryAdd(data)) continue;
      }
      result.rejected.push({
        event: e,
        code: 'EVENT_TOO_LARGE',
        message: `The message for profile ${e.key} is larger than the event hub's maximum message size (${batch.maxSizeInBytes} bytes).`,
      });
    }
    result.sdkCpuMicros += cpuSince(cpu);
    if (batch.count > 0) await this.send(client, batch, result);
  }

  async plan(
    target: PublishTarget,
    events: OutboundEvent[],
  ): Promise<PlannedEvent[]> {
    if (events.length === 0) return [];
    const producer = this.producerFor(target);
    try {
      producer.partitionIds ??= await producer.client.getPartitionIds();
      const partitionOf = partitioner(producer.partitionIds);
      const out: PlannedEvent[] = [];
      for (const e of events) {
        const partitionId = partitionOf(e.key);
        // The same size test publish applies: an empty batch of that partition.
        const batch = await producer.client.createBatch({ partitionId });
        out.push({
          partitionId,
          fits: batch.tryAdd(eventDataOf(e)),
          maxSizeInBytes: batch.maxSizeInBytes,
        });
      }
      producer.lastUsed = Date.now();
      return out;
    } catch (err) {
      producer.partitionIds = undefined;
      throw toPublishError(err);
    }
  }

  private async send(
    client: EventHubProducerClient,
    batch: EventDataBatch,
    result: PublishResult,
  ): Promise<void> {
    const cpu = process.cpuUsage();
    const sent = client.sendBatch(batch);
    result.sdkCpuMicros += cpuSince(cpu);
    await sent;
    result.sent += batch.count;
    result.bytes += batch.sizeInBytes;
  }

  private producerFor(target: PublishTarget): CachedProducer {
    this.closeIdle();
    let connectionString: string;
    try {
      connectionString = connectionStringFor(
        target.credentials,
        target.eventHubName,
        this.policy,
      );
    } catch (err) {
      // A namespace stored before the policy refused it: fixing it is the user's move.
      if (err instanceof NamespaceNotAllowedError)
        throw new PublishError('NamespaceNotAllowed', err.message, false);
      throw err;
    }
    // Keyed by a digest so the key never sits in a map key in clear text; a patched key gets a new producer.
    const cacheKey = createHash('sha256')
      .update(connectionString)
      .digest('hex');
    let cached = this.producers.get(cacheKey);
    if (!cached) {
      cached = {
        client: new EventHubProducerClient(connectionString, {
          // The SDK's defaults wait 30–90 s per attempt; the runner has its own outer backoff.
          retryOptions: {
            maxRetries: 3,
            retryDelayInMs: 200,
            maxRetryDelayInMs: 5000,
            mode: RetryMode.Exponential,
            timeoutInMs: 15_000,
          },
        }),
        lastUsed: Date.now(),
      };
      this.producers.set(cacheKey, cached);
    }
    return cached;
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const [key, p] of this.producers) {
      if (now - p.lastUsed > IDLE_MS) {
        this.producers.delete(key);
        p.client
          .close()
          .catch((err: unknown) =>
            this.logger.warn(`closing idle producer: ${String(err)}`),
          );
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    const all = [...this.producers.values()];
    this.producers.clear();
    await Promise.all(all.map((p) => p.client.close().catch(() => undefined)));
  }
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

/** An event as the SDK sends it: the body is the message's JSON bytes. */
function eventDataOf(e: OutboundEvent): {
  body: Uint8Array;
  contentType: string;
  messageId: string;
  properties: Record<string, string>;
} {
  return {
    body: e.bytes,
    contentType: 'application/json',
    messageId: e.messageId,
    properties: e.properties,
  };
}

/** SDK errors to a retryable/non-retryable failure with a message free of secrets. */
export function toPublishError(err: unknown): PublishError {
  const first =
    err instanceof AggregateError && err.errors.length
      ? (err.errors[0] as unknown)
      : err;
  const e = first as {
    code?: string;
    name?: string;
    message?: string;
    retryable?: boolean;
  };
  const code = e.code ?? e.name ?? 'Error';
  const message = scrub(e.message ?? String(first));
  const permanent = [
    'UnauthorizedError',
    'MessagingEntityNotFoundError',
    'ArgumentError',
    'MessageTooLargeError',
  ];
  if (code === 'UnauthorizedError') {
    return new PublishError(
      code,
      `Authentication to the event hub failed: check the SAS key name and key (${message})`,
      false,
    );
  }
  return new PublishError(
    code,
    message,
    !permanent.includes(code) && e.retryable !== false,
  );
}
