import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { DEFAULT_DEV_CLIENT_ID, DEFAULT_DEV_ORG_ID } from '../../dev-client.js';
import type { CliContext } from '../context.js';
import {
  applyProvisionFile,
  formatResult,
  formatSummary,
  parseProvisionFile,
  PlatformClient,
} from '../provisioning.js';

interface ApplyOpts {
  baseUrl: string;
  clientId: string;
  clientSecret?: string;
  org: string;
  sandbox: string;
  dryRun?: boolean;
  rotateKey?: boolean;
  json?: boolean;
}

/**
 * `apply FILE.json`: creates or updates an Event Hubs destination (connection,
 * target and source connections, segments, flow) through the HTTP API, like
 * an infrastructure script written for Adobe would. It needs no database.
 */
export function registerApplyCommands(program: Command, ctx: CliContext): void {
  program
    .command('apply')
    .description(
      'create or update what a provisioning file describes, through the HTTP API (idempotent; see examples/provision.json)',
    )
    .argument('<file>', 'provisioning JSON file')
    // The only place the FSE_* variables are read: commander's option `env()`.
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
    )
    .option('--dry-run', 'print the plan and change nothing')
    .option(
      '--rotate-key',
      'send the sasKey even when namespace and key name are unchanged (the API never returns it, so a new key cannot be detected)',
    )
    .option('--json', 'print the results as JSON')
    .action(async (file: string, opts: ApplyOpts) => {
      if (!opts.clientSecret)
        throw new Error(
          'a client secret is required: --client-secret or FSE_CLIENT_SECRET',
        );
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(file, 'utf8'));
      } catch (err) {
        throw new Error(
          `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
      const description = parseProvisionFile(raw);
      const client = new PlatformClient({
        baseUrl: opts.baseUrl,
        clientId: opts.clientId,
        clientSecret: opts.clientSecret,
        orgId: opts.org,
        sandbox: opts.sandbox.toLowerCase(),
      });
      const dryRun = opts.dryRun ?? false;
      const results = await applyProvisionFile(client, description, {
        dryRun,
        rotateKey: opts.rotateKey,
        onResult: opts.json
          ? undefined
          : (r) => ctx.io.out(formatResult(r, dryRun)),
      });
      if (opts.json) {
        ctx.io.out(JSON.stringify({ dryRun, results }, null, 2));
        return;
      }
      ctx.io.out(formatSummary(results, dryRun));
    });
}
