import { Module, type Type } from '@nestjs/common';
import { loadEnv } from '../../src/config/env.js';
import { createLogger } from '../../src/logging/logger.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

/** One sample of a metric in Prometheus text, or undefined when the series is absent. */
export function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^([^{\s]+)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      if (k !== undefined && v !== undefined) found[k] = v;
    if (Object.entries(labels).every(([k, v]) => found[k] === v))
      return Number(m[3]);
  }
  return undefined;
}

export async function scrape(t: TestApp): Promise<string> {
  const res = await t.http.get('/metrics').expect(200);
  return res.text;
}

/** Log lines captured from a pino destination, parsed. */
export class LogCapture {
  readonly raw: string[] = [];
  write(line: string): void {
    this.raw.push(line);
  }
  get lines(): Record<string, unknown>[] {
    return this.raw.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

/**
 * The shared test app with a pino logger writing to `capture` (also used for
 * Nest's own loggers) and optional extra controllers.
 */
export async function createLoggedApp(opts: {
  capture: LogCapture;
  env?: Record<string, string>;
  controllers?: Type[];
}): Promise<TestApp> {
  const env = { LOG_LEVEL: 'info', ...opts.env };
  @Module({ controllers: opts.controllers ?? [] })
  class ExtraModule {}
  return createTestApp({
    env,
    imports: [ExtraModule],
    logger: createLogger(loadEnv(env).LOG_LEVEL, opts.capture),
  });
}
