import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { Writable } from 'node:stream';
import { logContextFields } from './log-context.js';

/** Paths never written to logs: credentials in bodies, headers and errors. */
const REDACT_PATHS = [
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

/** Keys whose values are secrets wherever they appear in a logged object (any depth). */
const SECRET_KEYS = new Set(
  [
    'authorization',
    'cookie',
    'set-cookie',
    'sasKey',
    'sas_key',
    'client_secret',
    'clientSecret',
    'access_token',
    'accessToken',
    'token',
    'password',
    'secret',
    'connectionString',
    'encryptionKey',
    'tokenSigningKey',
  ].map((k) => k.toLowerCase()),
);
const CENSOR = '[REDACTED]';
const MAX_DEPTH = 8;

/** The app's one pino logger, shared by Nest (PinoNestLogger) and the access log. */
export const APP_LOGGER = Symbol('APP_LOGGER');

export type LogFormat = 'json' | 'pretty';

/** `LOG_FORMAT`: `auto` is pretty on a terminal and JSON when stdout is piped or collected. */
export function resolveLogFormat(
  setting: string,
  isTty = process.stdout.isTTY === true,
): LogFormat {
  if (setting === 'json' || setting === 'pretty') return setting;
  return isTty ? 'pretty' : 'json';
}

/**
 * Human-readable lines, formatted in-process (pino-pretty as a stream, not a
 * worker transport) from the JSON line pino has already redacted.
 */
function prettyStream(
  destination: DestinationStream | undefined,
): DestinationStream {
  // pino-pretty writes to a file descriptor or a full stream; pino's
  // destinations (tests' captures) need only `write`.
  const target =
    destination === undefined
      ? 1
      : new Writable({
          write(chunk: Buffer, _encoding, done): void {
            destination.write(chunk.toString());
            done();
          },
        });
  return PinoPretty({
    destination: target,
    sync: true,
    colorize: destination === undefined && process.stdout.isTTY === true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,context',
    messageFormat: '{if context}[{context}] {end}{msg}',
  });
}

/**
 * The one pino logger. Every line written while a request is handled carries
 * its request id (and client id once authenticated) through the log context;
 * secrets are removed by key at any depth and scrubbed from every string,
 * messages included, whatever the format. `destination` lets tests capture
 * the output.
 */
export function createLogger(
  level: string,
  destination?: DestinationStream,
  format: LogFormat = 'json',
): Logger {
  return pino(
    {
      level,
      base: { service: 'flowservice-eventhubs' },
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: logContextFields,
      formatters: { log: (obj) => sanitize(obj, 0) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((a: unknown) =>
              typeof a === 'string' ? scrub(a) : a,
            ) as Parameters<typeof method>,
          );
        },
      },
    },
    format === 'pretty' ? prettyStream(destination) : destination,
  );
}

/**
 * Nest's start-up chatter (a line per module and per route) is for debugging
 * the wiring, not for the first screen.
 */
const START_UP_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
]);

/** SAS keys, signatures, bearer tokens and client secrets are scrubbed from any logged text. */
export function scrub(text: string): string {
  return text
    .replace(/SharedAccessKey=[^;"\s]*/gi, 'SharedAccessKey=[REDACTED]')
    .replace(/sig=[^&"\s]*/g, 'sig=[REDACTED]')
    .replace(/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, 'Bearer [REDACTED]')
    .replace(
      /("?(?:sasKey|client_secret|clientSecret|access_token|password)"?\s*[:=]\s*"?)[^"&,\s}]+/gi,
      '$1[REDACTED]',
    );
}

/** A copy of a logged value without secrets; Errors become plain objects so their texts are scrubbed too. */
function sanitize(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrub(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth > MAX_DEPTH) return '[depth]';
  if (value instanceof Error) {
    const err = value as Error & { code?: unknown; cause?: unknown };
    return {
      type: err.name,
      message: scrub(err.message),
      ...(err.stack ? { stack: scrub(err.stack) } : {}),
      ...(err.code !== undefined ? { code: err.code } : {}),
      ...(err.cause !== undefined
        ? { cause: sanitize(err.cause, depth + 1) }
        : {}),
    };
  }
  if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1));
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEYS.has(k.toLowerCase()) ? CENSOR : sanitize(v, depth + 1);
  }
  return out;
}

/** Nest's logger interface on top of pino, so framework logs are structured JSON too. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.write(
      context !== undefined && START_UP_CONTEXTS.has(context)
        ? 'debug'
        : 'info',
      message,
      context,
    );
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
