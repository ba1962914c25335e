import 'reflect-metadata';
import { EnvValidationError, loadEnv } from '../config/env.js';
import { CliContext } from './context.js';
import { runCli } from './program.js';

/** `npm run cli -- <command>`; see `npm run cli -- --help`. */
async function main(): Promise<number> {
  let env;
  try {
    env = loadEnv();
  } catch (err) {
    if (err instanceof EnvValidationError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const ctx = new CliContext(env);
  try {
    return await runCli(process.argv.slice(2), ctx);
  } finally {
    await ctx.close();
  }
}

process.exitCode = await main();
