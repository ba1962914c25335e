import type { LoggerService } from '@nestjs/common';
import { pino, type Logger } from 'pino';

/** Paths never written to logs: credentials in bodies, headers and errors. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body.client_secret',
  'req.body.auth.params.sasKey',
  '*.sasKey',
  '*.client_secret',
  '*.clientSecret',
  '*.access_token',
  '*.authorization',
  '*.connectionString',
];

/** The app's one pino logger, shared by Nest (PinoNestLogger) and the access log. */
export const APP_LOGGER = Symbol('APP_LOGGER');

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'flowservice-eventhubs' },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** SAS keys inside connection strings are scrubbed from any logged text. */
export function scrub(text: string): string {
  return text
    .replace(/SharedAccessKey=[^;"\s]*/g, 'SharedAccessKey=[REDACTED]')
    .replace(/sig=[^&"\s]*/g, 'sig=[REDACTED]');
}

/** Nest's logger interface on top of pino, so framework logs are structured JSON too. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.write('info', message, context);
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.write('error', message, context, trace);
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.write('trace', message, context);
  }

  private write(
    level: 'info' | 'error' | 'warn' | 'debug' | 'trace',
    message: unknown,
    context?: string,
    trace?: string,
  ): void {
    if (typeof message === 'object' && message !== null) {
      this.logger[level](
        { context, ...(message as object) },
        trace ? scrub(trace) : undefined,
      );
    } else {
      this.logger[level](
        { context, ...(trace ? { trace: scrub(trace) } : {}) },
        scrub(String(message)),
      );
    }
  }
}
