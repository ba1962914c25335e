import { type Command, InvalidArgumentError } from 'commander';
import { profilesImport } from '../profiles-import.js';
import type { CliContext } from '../context.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000)
    throw new InvalidArgumentError('a whole number from 1 to 10000');
  return n;
}

/** `profiles import FILE.ndjson`: bulk load through the same ingestion as the API. */
export function registerProfilesCommands(
  program: Command,
  ctx: CliContext,
): void {
  program
    .command('profiles')
    .description('profile store')
    .command('import')
    .description(
      'load an NDJSON file of profile fragments (one per line), with a progress bar',
    )
    .argument('<file>', 'NDJSON file')
    .option(
      '--org <orgId>',
      'IMS org (default: DEV_ORG_ID or the development org)',
    )
    .option('--sandbox <name>', 'sandbox', 'prod')
    .option('--batch-size <n>', 'records per transaction', positiveInt, 1000)
    .action(
      async (
        file: string,
        opts: { org?: string; sandbox: string; batchSize: number },
      ) => {
        const summary = await profilesImport({
          file,
          org: opts.org,
          sandbox: opts.sandbox.toLowerCase(),
          batchSize: opts.batchSize,
          dataSource: await ctx.dataSource(),
        });
        ctx.io.out(
          `${summary.accepted} accepted, ${summary.rejected} rejected of ${summary.records} records in ${summary.seconds.toFixed(1)} s (${summary.profilesPerSecond}/s) into ${summary.orgId}/${summary.sandboxName}`,
        );
        for (const e of summary.errors.slice(0, 20))
          ctx.io.err(`line ${e.line}: ${e.reason}`);
        if (summary.errors.length > 20)
          ctx.io.err(`… ${summary.errors.length - 20} more rejected lines`);
      },
    );
}
