import { Command, InvalidArgumentError } from 'commander';
import { pathToFileURL } from 'node:url';
import { startAdminServer } from './admin-server.js';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
  DEFAULT_PORT,
} from './defaults.js';
import { EventHubsEmulator, type HubConfig } from './emulator.js';

/** `name[:partitions[:cg1,cg2]]` */
export function parseHub(
  value: string,
  previous: HubConfig[] = [],
): HubConfig[] {
  const [name, count, groups] = value.split(':');
  if (!name) throw new InvalidArgumentError(`hub '${value}' needs a name`);
  const partitionCount =
    count === undefined || count === '' ? 2 : Number(count);
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new InvalidArgumentError(
      `hub '${value}': partition count must be a positive integer`,
    );
  }
  const consumerGroups = groups
    ? groups.split(',').filter((g) => g !== '')
    : [];
  return [...previous, { name, partitionCount, consumerGroups }];
}

/** `keyName=key` */
export function parseKey(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0)
    throw new InvalidArgumentError(`key '${value}' must look like name=key`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('not a port');
  return n;
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('eventhubs-emulator')
    .description(
      'Local Azure Event Hubs emulator (AMQP 1.0) for development and tests. Listens on 127.0.0.1 only.',
    )
    .option(
      '--port <port>',
      'AMQP port (0 = any free port)',
      parsePort,
      DEFAULT_PORT,
    )
    .option(
      '--hub <name:partitions:cg1,cg2>',
      'hub to create (repeatable)',
      parseHub,
    )
    .option(
      '--key <name=key>',
      `SAS key (repeatable; default ${DEFAULT_KEY_NAME}=<development key>)`,
      parseKey,
    )
    .option('--auto-create-hubs', 'create unknown hubs on first use', false)
    .option('--auth <mode>', 'sas (validate tokens) or any', 'sas')
    .option(
      '--admin-port <port>',
      'loopback HTTP admin endpoint (faults, hubs, reset)',
      parsePort,
    )
    .parse(argv);
  const opts = program.opts<{
    port: number;
    hub?: HubConfig[];
    key?: Record<string, string>;
    autoCreateHubs: boolean;
    auth: string;
    adminPort?: number;
  }>();
  if (opts.auth !== 'sas' && opts.auth !== 'any')
    program.error('--auth must be sas or any');

  const emulator = new EventHubsEmulator({
    host: '127.0.0.1',
    port: opts.port,
    hubs: opts.hub ?? [],
    keys: opts.key ?? { [DEFAULT_KEY_NAME]: DEFAULT_EMULATOR_KEY },
    autoCreateHubs: opts.autoCreateHubs,
    authMode: opts.auth === 'any' ? 'any' : 'sas',
  });
  await emulator.start();
  const admin =
    opts.adminPort === undefined
      ? undefined
      : await startAdminServer(emulator, opts.adminPort);

  const out = process.stdout;
  out.write(`Event Hubs emulator listening on 127.0.0.1:${emulator.port}\n`);
  out.write(`Connection string: ${emulator.connectionString()}\n`);
  for (const hub of emulator.listHubs()) {
    out.write(
      `  hub ${hub.name}: partitions ${hub.partitionIds.join(',')}; consumer groups ${hub.consumerGroups.join(',')}\n`,
    );
  }
  if (admin) out.write(`Admin endpoint: http://127.0.0.1:${admin.port}/\n`);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await admin?.close();
  await emulator.stop();
  out.write('Event Hubs emulator stopped\n');
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
