import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import {
  applyProvisionFile,
  formatResult,
  formatSummary,
  parseProvisionFile,
} from '../provisioning.js';
import {
  addPlatformOptions,
  platformClientOf,
  type PlatformOpts,
} from '../platform-options.js';

interface ApplyOpts extends PlatformOpts {
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
  addPlatformOptions(
    program
      .command('apply')
      .description(
        'create or update what a provisioning file describes, through the HTTP API (idempotent; see examples/provision.json)',
      )
      .argument('<file>', 'provisioning JSON file'),
  )
    .option('--dry-run', 'print the plan and change nothing')
    .option(
      '--rotate-key',
      'send the sasKey even when namespace and key name are unchanged (the API never returns it, so a new key cannot be detected)',
    )
    .option('--json', 'print the results as JSON')
    .action(async (file: string, opts: ApplyOpts) => {
      const client = platformClientOf(opts);
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
