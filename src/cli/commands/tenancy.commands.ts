import { type Command, InvalidArgumentError } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../table.js';

const ORG_ID = /^[A-Za-z0-9_.@-]{3,128}$/;
/** Adobe sandbox names: lower-case letters, digits and hyphens. */
const SANDBOX_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

function orgId(value: string): string {
  if (!ORG_ID.test(value)) {
    throw new InvalidArgumentError(
      'an IMS org id is 3-128 letters, digits or _.@- (e.g. 0123456789ABCDEF01234567@AdobeOrg)',
    );
  }
  return value;
}

function sandboxName(value: string): string {
  const name = value.toLowerCase();
  if (!SANDBOX_NAME.test(name)) {
    throw new InvalidArgumentError(
      'a sandbox name is lower-case letters, digits and hyphens (e.g. prod, dev-1)',
    );
  }
  return name;
}

function collect(parse: (v: string) => string) {
  return (value: string, previous: string[] = []): string[] => [
    ...previous,
    parse(value),
  ];
}

/** `clients create|rotate-secret|list`, `sandboxes create|list`. */
export function registerTenancyCommands(
  program: Command,
  ctx: CliContext,
): void {
  const clients = program
    .command('clients')
    .description('API clients (client id + secret for POST /ims/token/v3)');

  clients
    .command('create')
    .description(
      'create a client; its secret is printed once and stored hashed',
    )
    .requiredOption('--org <orgId>', 'IMS org of the client', orgId)
    .option('--name <name>', 'display name')
    .option(
      '--sandbox <name>',
      'sandbox the client may use (repeatable; default: every sandbox of the org)',
      collect(sandboxName),
    )
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        org: string;
        name?: string;
        sandbox?: string[];
        json?: boolean;
      }) => {
        const tenancy = await ctx.tenancy();
        const created = await tenancy.createClient({
          orgId: opts.org,
          name: opts.name,
          sandboxes: opts.sandbox,
        });
        if (opts.json) {
          ctx.io.out(JSON.stringify(created, null, 2));
          return;
        }
        ctx.io.out(
          [
            'Client created. The secret is shown only this once:',
            `  client id:     ${created.clientId}`,
            `  client secret: ${created.clientSecret}`,
            `  org id:        ${created.orgId}`,
            `  sandboxes:     ${created.sandboxes.includes('*') ? '* (every sandbox of the org)' : created.sandboxes.join(', ')}`,
          ].join('\n'),
        );
      },
    );

  clients
    .command('rotate-secret')
    .description(
      'give a client a new secret (printed once); tokens issued with the old one stop working',
    )
    .argument('<clientId>', 'the client id')
    .option('--json', 'print JSON')
    .action(async (clientId: string, opts: { json?: boolean }) => {
      const tenancy = await ctx.tenancy();
      const rotated = await tenancy.rotateSecret(clientId);
      if (!rotated) throw new Error(`no client with id ${clientId}`);
      if (opts.json) {
        ctx.io.out(JSON.stringify(rotated, null, 2));
        return;
      }
      ctx.io.out(
        [
          'Secret rotated. The new secret is shown only this once:',
          `  client id:     ${rotated.clientId}`,
          `  client secret: ${rotated.clientSecret}`,
        ].join('\n'),
      );
    });

  clients
    .command('list')
    .description('list clients (never their secrets)')
    .option('--org <orgId>', 'only this org', orgId)
    .option('--json', 'print JSON')
    .action(async (opts: { org?: string; json?: boolean }) => {
      const tenancy = await ctx.tenancy();
      const rows = (await tenancy.listClients())
        .filter((c) => !opts.org || c.orgId === opts.org)
        .map((c) => ({
          clientId: c.clientId,
          orgId: c.orgId,
          name: c.name,
          sandboxes: c.sandboxes,
          createdAt: c.createdAt.toISOString(),
        }));
      if (opts.json) {
        ctx.io.out(JSON.stringify(rows, null, 2));
        return;
      }
      ctx.io.out(
        table(
          ['CLIENT ID', 'ORG', 'NAME', 'SANDBOXES', 'CREATED'],
          rows.map((r) => [
            r.clientId,
            r.orgId,
            r.name,
            r.sandboxes.join(','),
            r.createdAt,
          ]),
        ),
      );
    });

  const sandboxes = program
    .command('sandboxes')
    .description('sandboxes of an org (x-sandbox-name)');

  sandboxes
    .command('create')
    .description('create a sandbox (idempotent); `prod` exists in every org')
    .requiredOption('--org <orgId>', 'IMS org', orgId)
    .requiredOption('--name <name>', 'sandbox name', sandboxName)
    .option('--json', 'print JSON')
    .action(async (opts: { org: string; name: string; json?: boolean }) => {
      const tenancy = await ctx.tenancy();
      const existed = await tenancy.findSandbox(opts.org, opts.name);
      const sandbox =
        existed ?? (await tenancy.ensureSandbox(opts.org, opts.name));
      if (opts.json) {
        ctx.io.out(
          JSON.stringify(
            {
              id: sandbox.id,
              orgId: sandbox.orgId,
              name: sandbox.name,
              type: sandbox.type,
              created: !existed,
            },
            null,
            2,
          ),
        );
        return;
      }
      ctx.io.out(
        `${existed ? 'Sandbox already exists' : 'Sandbox created'}: ${sandbox.name} (${sandbox.type}, id ${sandbox.id}) in ${sandbox.orgId}`,
      );
    });

  sandboxes
    .command('list')
    .description('list sandboxes')
    .option('--org <orgId>', 'only this org', orgId)
    .option('--json', 'print JSON')
    .action(async (opts: { org?: string; json?: boolean }) => {
      const tenancy = await ctx.tenancy();
      const rows = (await tenancy.listSandboxes(opts.org)).map((s) => ({
        id: s.id,
        orgId: s.orgId,
        name: s.name,
        type: s.type,
        createdAt: s.createdAt.toISOString(),
      }));
      if (opts.json) {
        ctx.io.out(JSON.stringify(rows, null, 2));
        return;
      }
      ctx.io.out(
        table(
          ['ORG', 'NAME', 'TYPE', 'ID', 'CREATED'],
          rows.map((r) => [r.orgId, r.name, r.type, r.id, r.createdAt]),
        ),
      );
    });
}
