import type { DynamicModule } from '@nestjs/common';
import { type Env, isEmbedded } from './config/env.js';
import { DEFAULT_EMULATOR_KEY, DEFAULT_KEY_NAME } from './emulator/defaults.js';
import { EventHubsEmulatorModule } from './emulator/emulator.module.js';
import { RunnerModule } from './runner/runner.module.js';

/** The local emulator runs in the embedded default unless EMULATOR_ENABLED=false. */
export function emulatorEnabled(env: Env): boolean {
  return env.EMULATOR_ENABLED ?? isEmbedded(env);
}

/** Modules that depend on configuration: the local Event Hubs emulator and the runner. */
export function optionalModules(
  env: Env,
  databaseUrl: string,
): DynamicModule[] {
  const modules: DynamicModule[] = [RunnerModule.forRoot(databaseUrl)];
  if (emulatorEnabled(env)) {
    modules.push(
      EventHubsEmulatorModule.forRoot({
        host: '127.0.0.1',
        port: env.EMULATOR_PORT,
        // Development convenience: any eventHubName in a target connection just works.
        autoCreateHubs: true,
        keys: { [DEFAULT_KEY_NAME]: DEFAULT_EMULATOR_KEY },
      }),
    );
  }
  return modules;
}

export function describeOptionalModules(env: Env): string[] {
  const lines = [
    `  Runner:       ${env.RUNNER_ENABLED ? `enabled (every ${env.RUNNER_INTERVAL_MS} ms and on change notifications)` : 'disabled (RUNNER_ENABLED=false: API-only replica)'}`,
  ];
  if (emulatorEnabled(env)) {
    lines.push(
      '',
      'Local Event Hubs emulator (AMQP on loopback; hubs are created on first use):',
      `  namespace:     127.0.0.1:${env.EMULATOR_PORT}`,
      `  sasKeyName:    ${DEFAULT_KEY_NAME}`,
      `  sasKey:        ${DEFAULT_EMULATOR_KEY}`,
      `  watch a hub:   npm run hub:tail -- --namespace 127.0.0.1:${env.EMULATOR_PORT} --hub <eventHubName>`,
    );
  }
  return lines;
}
