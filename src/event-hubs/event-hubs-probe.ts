import { EventHubProducerClient } from '@azure/event-hubs';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { ENV, type Env, endpointPolicy } from '../config/env.js';
import { APP_LOGGER } from '../logging/logger.js';
import {
  connectionStringFor,
  type EndpointPolicy,
  type EventHubsCredentials,
  NamespaceNotAllowedError,
} from './endpoint.js';
import { describeProbeFailure } from './probe-failure.js';

export interface ProbeResult {
  result: boolean;
  reason?: string;
}

/** A real SAS-authenticated management call through the SDK (CONTRACT A6). */
@Injectable()
export class EventHubsProbe {
  private readonly policy: EndpointPolicy;

  constructor(
    @Inject(ENV) env: Env,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {
    this.policy = endpointPolicy(env);
  }

  async probe(
    creds: EventHubsCredentials,
    eventHubName: string,
  ): Promise<ProbeResult> {
    let client: EventHubProducerClient | undefined;
    try {
      // The SDK's default retry policy waits 30–90 s before reporting failure.
      client = new EventHubProducerClient(
        connectionStringFor(creds, eventHubName, this.policy),
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
      if (err instanceof NamespaceNotAllowedError)
        return { result: false, reason: err.message };
      // The caller gets what to fix; socket and protocol details stay in the log.
      this.logger.warn({ err, eventHubName }, 'connection test failed');
      return {
        result: false,
        reason: describeProbeFailure(err, creds.namespace, eventHubName),
      };
    } finally {
      await client?.close().catch(() => undefined);
    }
  }
}
