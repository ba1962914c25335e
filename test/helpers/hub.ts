import {
  EventHubConsumerClient,
  earliestEventPosition,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import { eventually } from './wait.js';

export interface ReceivedExport {
  partitionId: string;
  body: Record<string, unknown>;
  messageId: string;
  properties: Record<string, unknown>;
  contentType?: string;
}

/**
 * Consumes a hub with the SDK's EventHubConsumerClient, the way a customer
 * would; exports are proven by what arrives here.
 */
export class HubCollector {
  readonly events: ReceivedExport[] = [];
  private readonly client: EventHubConsumerClient;
  private subscription?: Subscription;

  constructor(connectionString: string, eventHubName: string) {
    this.client = new EventHubConsumerClient(
      '$default',
      connectionString,
      eventHubName,
      {
        retryOptions: { maxRetries: 3, retryDelayInMs: 100, timeoutInMs: 5000 },
      },
    );
  }

  start(): void {
    this.subscription = this.client.subscribe(
      {
        processEvents: async (events: ReceivedEventData[], context) => {
          for (const e of events) {
            this.events.push({
              partitionId: context.partitionId,
              body: e.body as Record<string, unknown>,
              messageId: String(e.messageId),
              properties: e.properties ?? {},
              contentType: e.contentType,
            });
          }
          return Promise.resolve();
        },
        processError: async () => Promise.resolve(),
      },
      {
        startPosition: earliestEventPosition,
        maxWaitTimeInSeconds: 0.05,
        maxBatchSize: 200,
      },
    );
  }

  /**
   * Delivery is at-least-once: a step retried after an acknowledged send
   * resends with the same messageId. Counting exports means counting ids.
   */
  unique(): ReceivedExport[] {
    const seen = new Set<string>();
    return this.events.filter((e) =>
      seen.has(e.messageId) ? false : (seen.add(e.messageId), true),
    );
  }

  forProfile(profileId: string): ReceivedExport[] {
    return this.events.filter((e) => e.properties.profileId === profileId);
  }

  /** Waits until `predicate` holds over the received events. */
  async waitFor(
    predicate: (events: ReceivedExport[]) => boolean,
    timeoutMs = 20_000,
  ): Promise<void> {
    await eventually(
      () => predicate(this.events),
      () =>
        `the hub; received ${this.events.length} events: ${JSON.stringify(this.events.map((e) => e.properties))}`,
      { timeoutMs },
    );
  }

  async close(): Promise<void> {
    await this.subscription?.close();
    await this.client.close();
  }
}
