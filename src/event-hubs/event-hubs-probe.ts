import { EventHubProducerClient } from '@azure/event-hubs';
import { Injectable } from '@nestjs/common';
import { connectionStringFor, type EventHubsCredentials } from './endpoint.js';

export interface ProbeResult {
  result: boolean;
  reason?: string;
}

/** A real SAS-authenticated management call through the SDK (CONTRACT A6). */
@Injectable()
export class EventHubsProbe {
  async probe(
    creds: EventHubsCredentials,
    eventHubName: string,
  ): Promise<ProbeResult> {
    let client: EventHubProducerClient | undefined;
    try {
      // The SDK's default retry policy waits 30–90 s before reporting failure.
      client = new EventHubProducerClient(
        connectionStringFor(creds, eventHubName),
        {
          retryOptions: {
            maxRetries: 1,
            retryDelayInMs: 200,
            timeoutInMs: 5000,
          },
        },
      );
      const props = await client.getEventHubProperties();
      if (props.partitionIds.length === 0) {
        return {
          result: false,
          reason: `Event hub '${eventHubName}' has no partitions.`,
        };
      }
      return { result: true };
    } catch (err) {
      return { result: false, reason: describe(err, eventHubName) };
    } finally {
      await client?.close().catch(() => undefined);
    }
  }
}

function describe(err: unknown, hub: string): string {
  // Connection failures surface as an AggregateError of per-address errors.
  const first =
    err instanceof AggregateError && err.errors.length
      ? (err.errors[0] as unknown)
      : err;
  const e = first as { code?: string; name?: string; message?: string };
  if (e.code === 'ECONNREFUSED')
    return `Cannot reach the Event Hubs namespace: connection refused (${e.message ?? ''}).`;
  const code = e.code ?? e.name ?? 'Error';
  if (code === 'UnauthorizedError')
    return `Authentication failed for event hub '${hub}': check the SAS key name and key.`;
  if (
    code === 'MessagingEntityNotFoundError' ||
    code === 'ResourceNotFoundError'
  )
    return `Event hub '${hub}' does not exist in the namespace.`;
  // SDK messages can echo the connection string's host but never the key.
  return `${code}: ${(e.message ?? '').replace(/SharedAccessKey=[^;]*/g, 'SharedAccessKey=***').slice(0, 300)}`;
}
