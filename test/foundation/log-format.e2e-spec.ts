import { Controller, Get, Logger } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { EnvValidationError, loadEnv } from '../../src/config/env.js';
import { createLogger, resolveLogFormat } from '../../src/logging/logger.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { LogCapture } from '../ops/helpers.js';
import { Module } from '@nestjs/common';

const SAS_KEY = 'c2VjcmV0LXNhcy1rZXktZm9yLWZvcm1hdC10ZXN0cw==';
const CONNECTION_STRING = `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=${SAS_KEY}`;

@Controller('log-format-probe')
class ProbeController {
  private readonly logger = new Logger('FormatProbe');

  @Get()
  probe(): { ok: boolean } {
    this.logger.log(`connecting with ${CONNECTION_STRING}`);
    this.logger.warn({ auth: { params: { sasKey: SAS_KEY } }, msg: 'details' });
    return { ok: true };
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

async function appWith(
  capture: LogCapture,
  level: string,
  format: 'json' | 'pretty',
): Promise<TestApp> {
  return createTestApp({
    env: { LOG_LEVEL: level },
    imports: [ProbeModule],
    logger: createLogger(level, capture, format),
  });
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('log format', () => {
  it('LOG_FORMAT: auto is pretty on a terminal and JSON otherwise; json and pretty are forced; anything else stops the start', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
    expect(loadEnv({}).LOG_FORMAT).toBe('auto');
    expect(() => loadEnv({ LOG_FORMAT: 'yaml' })).toThrow(EnvValidationError);
    expect(() => loadEnv({ LOG_FORMAT: 'yaml' })).toThrow(/LOG_FORMAT/);
  });

  it('pretty: one human-readable line per event, still redacted', async () => {
    const capture = new LogCapture();
    const t = await appWith(capture, 'info', 'pretty');
    try {
      capture.raw.length = 0;
      await t.http
        .get('/log-format-probe')
        .set('x-request-id', 'format-test-1')
        .expect(200);
      await settle();
      const text = capture.raw.join('');
      const lines = text.split('\n').filter((l) => l.trim());
      expect(lines.length).toBeGreaterThanOrEqual(3);
      for (const line of lines) expect(() => JSON.parse(line)).toThrow();
      expect(text).toMatch(
        /INFO.*\[FormatProbe\] connecting with .*SharedAccessKey=\[REDACTED\]/,
      );
      expect(text).toMatch(/WARN.*\[FormatProbe\] details/);
      expect(text).toMatch(/INFO.*request completed.*format-test-1/);
      expect(text).not.toContain(SAS_KEY);
    } finally {
      await t.close();
    }
  });

  it("puts Nest's module and route mapping at debug, in either format", async () => {
    for (const format of ['json', 'pretty'] as const) {
      const quiet = new LogCapture();
      const atInfo = await appWith(quiet, 'info', format);
      await atInfo.close();
      const startUp = quiet.raw.join('');
      expect(startUp, format).not.toMatch(
        /RouterExplorer|InstanceLoader|RoutesResolver|Mapped \{/,
      );

      const verbose = new LogCapture();
      const atDebug = await appWith(verbose, 'debug', format);
      await atDebug.close();
      expect(verbose.raw.join(''), format).toMatch(
        /Mapped \{\/log-format-probe, GET\} route/,
      );
    }
    const json = new LogCapture();
    const app = await appWith(json, 'debug', 'json');
    await app.close();
    const mapped = json.lines.find((l) => String(l.msg).startsWith('Mapped {'));
    expect(mapped).toMatchObject({ level: 20, context: 'RouterExplorer' });
  });
});
