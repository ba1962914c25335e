import { type Command, Option } from 'commander';
import { DEFAULT_DEV_CLIENT_ID, DEFAULT_DEV_ORG_ID } from '../dev-client.js';
import { PlatformClient } from './provisioning.js';

/** The options of every command that works through the HTTP API. */
export interface PlatformOpts {
  baseUrl: string;
  clientId: string;
  clientSecret?: string;
  org: string;
  sandbox: string;
}

/** Adds the service address and credentials options (also read from FSE_* variables). */
export function addPlatformOptions(cmd: Command): Command {
  // The only place the FSE_* variables are read: commander's option `env()`.
  return cmd
    .addOption(
      new Option('--base-url <url>', 'service address')
        .env('FSE_BASE_URL')
        .default('http://localhost:8080'),
    )
    .addOption(
      new Option('--client-id <id>', 'API client id (x-api-key)')
        .env('FSE_CLIENT_ID')
        .default(DEFAULT_DEV_CLIENT_ID),
    )
    .addOption(
      new Option(
        '--client-secret <secret>',
        'API client secret (printed by `clients create`, or the start-up banner)',
      ).env('FSE_CLIENT_SECRET'),
    )
    .addOption(
      new Option('--org <orgId>', 'IMS org (x-gw-ims-org-id)')
        .env('FSE_ORG_ID')
        .default(DEFAULT_DEV_ORG_ID),
    )
    .addOption(
      new Option('--sandbox <name>', 'sandbox (x-sandbox-name)')
        .env('FSE_SANDBOX')
        .default('prod'),
    );
}

export function platformClientOf(
  opts: PlatformOpts,
  fetchFn?: typeof fetch,
): PlatformClient {
  if (!opts.clientSecret)
    throw new Error(
      'a client secret is required: --client-secret or FSE_CLIENT_SECRET',
    );
  return new PlatformClient(
    {
      baseUrl: opts.baseUrl,
      clientId: opts.clientId,
      clientSecret: opts.clientSecret,
      orgId: opts.org,
      sandbox: opts.sandbox.toLowerCase(),
    },
    fetchFn,
  );
}
