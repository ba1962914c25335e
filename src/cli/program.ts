import { Command, CommanderError } from 'commander';
import { registerApplyCommands } from './commands/apply.commands.js';
import { registerFlowsCommands } from './commands/flows.commands.js';
import { registerProfilesCommands } from './commands/profiles.commands.js';
import { registerTenancyCommands } from './commands/tenancy.commands.js';
import type { CliContext } from './context.js';

/** Adds a group of subcommands; commands get everything they need from the context. */
export type CommandRegistrar = (program: Command, ctx: CliContext) => void;

/**
 * Every command group of `npm run cli`. To add one (e.g. `profiles import`,
 * `apply`), write `registerXCommands(program, ctx)` in src/cli/commands/ and
 * append it here.
 */
export const COMMANDS: CommandRegistrar[] = [
  registerTenancyCommands,
  registerProfilesCommands,
  registerApplyCommands,
  registerFlowsCommands,
];

export function buildProgram(
  ctx: CliContext,
  registrars: CommandRegistrar[] = COMMANDS,
): Command {
  const program = new Command('flowservice')
    .description(
      'flowservice-eventhubs administration. Uses DATABASE_URL, or the embedded PostgreSQL in DATA_DIR (joining a running `npm start`).',
    )
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.out(s.trimEnd()),
      writeErr: (s) => ctx.io.err(s.trimEnd()),
    });
  for (const register of registrars) register(program, ctx);
  // Subcommands inherit the output and exit behaviour.
  const configure = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().configureOutput({
        writeOut: (s) => ctx.io.out(s.trimEnd()),
        writeErr: (s) => ctx.io.err(s.trimEnd()),
      });
      sub.showHelpAfterError();
      configure(sub);
    }
  };
  configure(program);
  return program;
}

/**
 * Runs one command line (`argv` without node and script) and returns the
 * exit code; the caller closes the context.
 */
export async function runCli(
  args: string[],
  ctx: CliContext,
  registrars: CommandRegistrar[] = COMMANDS,
): Promise<number> {
  const program = buildProgram(ctx, registrars);
  try {
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    ctx.io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
