import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import {
  addPlatformOptions,
  platformClientOf,
  type PlatformOpts,
} from '../platform-options.js';
import type { PlatformClient } from '../provisioning.js';
import { table } from '../table.js';

const FS = '/data/foundation/flowservice';

interface JsonOpt {
  json?: boolean;
}

interface TargetPreview {
  targetConnectionId: string;
  eventHubName: string;
  outcome: string;
  trigger: string | null;
  reason: { code: string; message: string } | null;
  message: {
    messageId: string;
    partitionId: string | null;
    applicationProperties: Record<string, string>;
    body: string;
  } | null;
}

interface RecordItem {
  createdAt: number;
  profileId: string;
  status: string;
  reasonCode: string;
  trigger: string;
  replayedAt: number | null;
  message: string;
}

interface RunItem {
  id: string;
  state: string;
  metrics?: {
    recordSummary?: {
      inputRecordCount?: number;
      outputRecordCount?: number;
      failedRecordCount?: number;
    };
  };
}

/**
 * `flows preview|records|replay|resync`: the delivery operations (issue 17)
 * through the HTTP API, like any client of the service.
 */
export function registerFlowsCommands(program: Command, ctx: CliContext): void {
  const flows = program
    .command('flows')
    .description('delivery operations on a dataflow, through the HTTP API');

  addPlatformOptions(
    flows
      .command('preview')
      .description(
        'what the flow would send for one profile now, per target (sends nothing)',
      )
      .argument('<flowId>', 'dataflow id')
      .argument('<entityId>', 'identity value, or a profile id without --ns'),
  )
    .option('--ns <namespace>', 'identity namespace of entityId, e.g. email')
    .option('--json', 'print the API answer as JSON')
    .action(
      async (
        flowId: string,
        entityId: string,
        opts: PlatformOpts & JsonOpt & { ns?: string },
      ) => {
        const query = new URLSearchParams({ entityId });
        if (opts.ns) query.set('entityIdNS', opts.ns);
        const res = await platformClientOf(opts).call<{
          profileId: string;
          targets: TargetPreview[];
        }>('GET', `${FS}/flows/${flowId}/preview?${query.toString()}`);
        if (opts.json) return ctx.io.out(JSON.stringify(res, null, 2));
        ctx.io.out(`profile ${res.profileId}`);
        for (const t of res.targets) {
          ctx.io.out(
            `\ntarget ${t.targetConnectionId} (hub ${t.eventHubName}): ${t.outcome}` +
              (t.trigger ? `, trigger ${t.trigger}` : '') +
              (t.reason ? ` — ${t.reason.code}: ${t.reason.message}` : ''),
          );
          if (t.message) {
            ctx.io.out(
              `messageId ${t.message.messageId}, partition ${t.message.partitionId ?? '?'}`,
            );
            ctx.io.out(t.message.body);
          }
        }
      },
    );

  addPlatformOptions(
    flows
      .command('records')
      .description("a run's failed and excluded records, with their reasons")
      .argument('<runId>', 'run id (GET /runs?property=flowId==<id>)'),
  )
    .option('--status <status>', 'failed or excluded')
    .option('--json', 'print the records as JSON')
    .action(
      async (
        runId: string,
        opts: PlatformOpts & JsonOpt & { status?: string },
      ) => {
        const query = new URLSearchParams({ limit: '100' });
        if (opts.status) query.set('status', opts.status);
        const items = (await platformClientOf(opts).listAll(
          `${FS}/runs/${runId}/records?${query.toString()}`,
        )) as unknown as RecordItem[];
        if (opts.json) return ctx.io.out(JSON.stringify(items, null, 2));
        ctx.io.out(
          table(
            [
              'TIME',
              'PROFILE',
              'STATUS',
              'REASON',
              'TRIGGER',
              'REPLAYED',
              'MESSAGE',
            ],
            items.map((r) => [
              new Date(r.createdAt).toISOString(),
              r.profileId,
              r.status,
              r.reasonCode,
              r.trigger,
              r.replayedAt ? new Date(r.replayedAt).toISOString() : '',
              r.message,
            ]),
          ),
        );
      },
    );

  for (const op of ['replay', 'resync'] as const) {
    const cmd = addPlatformOptions(
      flows
        .command(op)
        .description(
          op === 'replay'
            ? 'send the stored failed and excluded records again (all of the flow, or of --run)'
            : 'send every current member of the mapped segments again',
        )
        .argument('<flowId>', 'dataflow id'),
    );
    if (op === 'replay') cmd.option('--run <runId>', "only this run's records");
    cmd
      .option('--no-wait', 'start it and return without following its progress')
      .option('--interval <ms>', 'progress poll interval', '1000')
      .action(
        async (
          flowId: string,
          opts: PlatformOpts & {
            run?: string;
            wait: boolean;
            interval: string;
          },
        ) => {
          const client = platformClientOf(opts);
          const query = new URLSearchParams({ op });
          if (opts.run) query.set('runId', opts.run);
          const started = await client.call<{ runId: string }>(
            'POST',
            `${FS}/flows/${flowId}/action?${query.toString()}`,
          );
          ctx.io.out(`${op} started: run ${started.runId}`);
          if (!opts.wait) return;
          const run = await follow(
            client,
            ctx,
            started.runId,
            Number(opts.interval),
          );
          ctx.io.out(`${op} ${run.state}: ${progressOf(run)}`);
          if (run.state === 'failed')
            throw new Error(`${op} run ${run.id} failed`);
        },
      );
  }
}

function progressOf(run: RunItem): string {
  const r = run.metrics?.recordSummary ?? {};
  return `${r.inputRecordCount ?? 0} profiles read, ${r.outputRecordCount ?? 0} sent, ${r.failedRecordCount ?? 0} failed`;
}

/** Polls the run until it is no longer processing, printing progress (stderr) when it moves. */
async function follow(
  client: PlatformClient,
  ctx: CliContext,
  runId: string,
  intervalMs: number,
): Promise<RunItem> {
  let last = '';
  for (;;) {
    const page = await client.call<{ items: RunItem[] }>(
      'GET',
      `${FS}/runs/${runId}`,
    );
    const run = page.items[0];
    if (!run) throw new Error(`run ${runId} not found`);
    if (run.state !== 'processing') return run;
    const line = progressOf(run);
    if (line !== last) ctx.io.err(`… ${line}`);
    last = line;
    await new Promise((r) => setTimeout(r, Math.max(50, intervalMs)));
  }
}
