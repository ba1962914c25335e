import {
  EventHubConsumerClient,
  earliestEventPosition,
  latestEventPosition,
  type ReceivedEventData,
} from '@azure/event-hubs';
import { Command } from 'commander';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import {
  DEFAULT_CONSUMER_GROUP,
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
  DEFAULT_PORT,
} from './defaults.js';

/** One event as the tail prints it: a header line, properties, then the body pretty-printed. */
export function formatEvent(partitionId: string, e: ReceivedEventData): string {
  const header = `--- partition ${partitionId} seq ${e.sequenceNumber} offset ${e.offset} enqueued ${e.enqueuedTimeUtc.toISOString()}${
    e.partitionKey ? ` key ${e.partitionKey}` : ''
  }`;
  const lines = [header];
  if (e.contentType) lines.push(`content-type: ${e.contentType}`);
  if (e.messageId !== undefined)
    lines.push(`message-id: ${String(e.messageId)}`);
  if (e.properties && Object.keys(e.properties).length > 0) {
    lines.push(`properties: ${JSON.stringify(e.properties)}`);
  }
  lines.push(formatBody(e.body));
  return lines.join('\n');
}

function formatBody(body: unknown): string {
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    const text = Buffer.from(body).toString('utf8');
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  }
  if (typeof body === 'string') return body;
  try {
    return JSON.stringify(body, null, 2) ?? inspect(body);
  } catch {
    return inspect(body, { depth: 5 });
  }
}

export async function main(argv: string[]): Promise<void> {
  const opts = new Command()
    .name('eventhubs-tail')
    .description(
      'Print every event of an Event Hub as it arrives (uses the Azure SDK consumer).',
    )
    .option(
      '--namespace <host:port>',
      'emulator address',
      `127.0.0.1:${DEFAULT_PORT}`,
    )
    .requiredOption('--hub <name>', 'Event Hub name')
    .option('--key-name <name>', 'SAS key name', DEFAULT_KEY_NAME)
    .option(
      '--key <key>',
      'SAS key (default: the emulator development key)',
      DEFAULT_EMULATOR_KEY,
    )
    .option('--consumer-group <name>', 'consumer group', DEFAULT_CONSUMER_GROUP)
    .option(
      '--from-start',
      'print retained events first (default: only new ones)',
      false,
    )
    .parse(argv)
    .opts<{
      namespace: string;
      hub: string;
      keyName: string;
      key: string;
      consumerGroup: string;
      fromStart: boolean;
    }>();
  const connectionString = `Endpoint=sb://${opts.namespace};SharedAccessKeyName=${opts.keyName};SharedAccessKey=${opts.key};UseDevelopmentEmulator=true`;
  const client = new EventHubConsumerClient(
    opts.consumerGroup,
    connectionString,
    opts.hub,
    {
      retryOptions: { maxRetries: 2, retryDelayInMs: 500, timeoutInMs: 10_000 },
    },
  );
  const subscription = client.subscribe(
    {
      processEvents: async (events, ctx) => {
        for (const e of events)
          process.stdout.write(`${formatEvent(ctx.partitionId, e)}\n`);
      },
      processError: async (err, ctx) => {
        process.stderr.write(
          `error (partition ${ctx.partitionId || '-'}): ${err.message}\n`,
        );
      },
    },
    {
      startPosition: opts.fromStart
        ? earliestEventPosition
        : latestEventPosition,
      maxBatchSize: 100,
      maxWaitTimeInSeconds: 5,
    },
  );
  process.stderr.write(
    `tailing ${opts.hub} on ${opts.namespace} (consumer group ${opts.consumerGroup}); Ctrl-C to stop\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await subscription.close();
  await client.close();
}

if (
  process.argv[1] &&
  import.meta.url === pathToFileURL(process.argv[1]).href
) {
  main(process.argv).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
