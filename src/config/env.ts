import { availableParallelism } from 'node:os';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';
import {
  DEFAULT_HOST_SUFFIXES,
  type EndpointPolicy,
  LOOPBACK_ENDPOINTS,
} from './endpoint-policy.js';

import { DEFAULT_PQL_LIMITS } from '../segments/pql/index.js';

const toBool = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
};
const toList = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((v) => v.trim().toLowerCase())
        .filter((v) => v !== '')
    : value;
const toSuffixList = (arg: { value: unknown }): unknown => {
  const list = toList(arg);
  return Array.isArray(list)
    ? list.map((s: string) => (s.startsWith('.') ? s : `.${s}`))
    : list;
};
const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim())
    ? Number(value.trim())
    : value;

/**
 * Every setting the service reads. This class is the only place that looks at
 * process.env, and it is validated once at boot so a bad value fails fast with
 * every problem listed rather than surfacing later as a runtime error.
 */
export class Env {
  @IsOptional()
  @IsString()
  @Matches(/^postgres(ql)?:\/\//)
  DATABASE_URL?: string;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(200)
  DB_POOL_SIZE = 10;

  /**
   * How long a query waits for a pooled connection (a new one, or a free one
   * when the pool is full) before it fails with a 503. Kept below
   * REQUEST_TIMEOUT_MS so a request that could not start is answered as not
   * done. 0 waits without limit.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  DB_CONNECT_TIMEOUT_MS = 15_000;

  /** Directory for embedded Postgres data and generated development secrets. */
  @IsString()
  @MinLength(1)
  DATA_DIR = '.data';

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65535)
  EMBEDDED_PG_PORT = 54329;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 8080;

  @IsString()
  HOST = '0.0.0.0';

  /** HMAC key for access tokens (>= 32 chars). Generated under DATA_DIR in the embedded default. */
  @IsOptional()
  @IsString()
  @MinLength(32)
  TOKEN_SIGNING_KEY?: string;

  /** Key for secrets at rest: 64 hex chars (AES-256). Generated under DATA_DIR in the embedded default. */
  @IsOptional()
  @Matches(/^[0-9a-fA-F]{64}$/, {
    message: 'ENCRYPTION_KEY must be 64 hex characters (32 bytes)',
  })
  ENCRYPTION_KEY?: string;

  /** Identifier stored with each encrypted secret so keys can be rotated. */
  @IsString()
  @Matches(/^[A-Za-z0-9_.-]{1,32}$/)
  ENCRYPTION_KEY_ID = 'k1';

  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(7 * 86400)
  TOKEN_TTL_SECONDS = 86400;

  /**
   * How long authentication keeps a client and a sandbox in memory. Changes
   * (a rotated secret, a deleted client, a sandbox) are dropped from every
   * replica's cache by a NOTIFY within milliseconds; this bounds what a lost
   * notification could cost. 0 reads the database on every request.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  AUTH_CACHE_TTL_MS = 60_000;

  /** How many clients (and, separately, sandboxes) the auth cache holds; the oldest stored go first. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(10_000_000)
  AUTH_CACHE_MAX_ENTRIES = 10_000;

  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_.@-]{3,128}$/)
  DEV_CLIENT_ID?: string;

  @IsOptional()
  @IsString()
  @MinLength(16)
  DEV_CLIENT_SECRET?: string;

  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_.@-]{3,128}$/)
  DEV_ORG_ID?: string;

  /** Start the local Event Hubs emulator with the app (embedded default only unless set). */
  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  EMULATOR_ENABLED?: boolean;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  EMULATOR_PORT = 5673;

  @Transform(toBool)
  @IsBoolean()
  RUNNER_ENABLED = true;

  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  RUNNER_INTERVAL_MS = 1000;

  /** How long a replica owns a flow before another may take it over (after a crash). */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(600_000)
  RUNNER_LEASE_MS = 15_000;

  /** Change-log rows read per flow per step. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000)
  RUNNER_BATCH_SIZE = 1000;

  /**
   * Lanes a new flow is split into (hash ranges of the profile id, each with
   * its own position and lease, exported in parallel). Fixed per flow when
   * its cursors are created; changing it affects new flows only.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(256)
  RUNNER_LANES = 4;

  /**
   * Runner processes `npm start` forks (each its own event loop; the API,
   * the segment worker and the emulator stay in the first process). 0 or 1:
   * the runner runs in the API's process. Default: the number of cores.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(64)
  RUNNER_WORKERS = availableParallelism();

  /** Lanes (of any flows) exported concurrently by one runner process. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(64)
  RUNNER_CONCURRENCY = 4;

  /** Longest wait between retries of a failing flow. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  RUNNER_MAX_BACKOFF_MS = 30_000;
  /**
   * Run the segment background worker (new/edited segment evaluation, the
   * time-relative sweep, membership retention). Defaults to RUNNER_ENABLED.
   */
  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  SEGMENT_WORKER_ENABLED?: boolean;

  /** How often segments with time-relative predicates are re-evaluated. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(86_400_000)
  SEGMENT_SWEEP_INTERVAL_MS = 60000;

  /** Exited memberships older than this (by lastQualificationTime) are purged. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3650)
  MEMBERSHIP_RETENTION_DAYS = 30;

  /**
   * Change-log rows every flow of their tenant has exported are deleted once
   * they are this old (a tenant without flows: all rows this old). 0 deletes
   * them as soon as they are consumed.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(87_600)
  CHANGE_LOG_RETENTION_HOURS = 24;

  /**
   * Failed and excluded records (GET /runs/{id}/records) are deleted once
   * they are this many days old.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3650)
  DELIVERY_RECORD_RETENTION_DAYS = 30;

  /** Longest PQL text (`expression.value`) a segment definition may have, in characters. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65_536)
  PQL_MAX_TEXT_LENGTH = DEFAULT_PQL_LIMITS.maxTextLength;

  /** Most nodes (conditions, values, array items) in one parsed PQL expression. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000)
  PQL_MAX_NODES = DEFAULT_PQL_LIMITS.maxNodes;

  /** Most items in one PQL array literal (`in`, `notIn`, `intersects`). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000)
  PQL_MAX_ARRAY_ITEMS = DEFAULT_PQL_LIMITS.maxArrayItems;

  /** Longest `matches` or `like` pattern, in characters. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65_536)
  PQL_MAX_PATTERN_LENGTH = DEFAULT_PQL_LIMITS.maxPatternLength;

  /** Estimated RE2 instructions all patterns of one PQL expression may compile to together. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  PQL_MAX_PATTERN_SIZE = DEFAULT_PQL_LIMITS.maxPatternSize;

  /**
   * Segment definitions one sandbox may hold. Every segment here is evaluated
   * on every ingested profile, like Adobe's streaming segments, whose
   * guardrail is 500 per sandbox.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000)
  SEGMENTS_MAX_PER_SANDBOX = 500;

  /**
   * Segment member counts (`.../segment/definitions/{id}/metrics`) are
   * reused for at least this long, and for ten times as long as counting
   * took, before a request counts again.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  SEGMENT_COUNT_CACHE_MS = 10_000;

  /**
   * Longest a member count may scan a sandbox's profiles; past it the
   * answer is the previous count (`stale`) or `unavailable`, and the next
   * try waits ten times this long.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(600_000)
  SEGMENT_COUNT_TIMEOUT_MS = 5_000;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /**
   * `json`: one JSON object per line (for log shippers); `pretty`: one
   * human-readable line per event; `auto`: pretty when stdout is a terminal,
   * JSON otherwise.
   */
  @IsIn(['auto', 'json', 'pretty'])
  LOG_FORMAT = 'auto';

  /** Largest accepted JSON request body. */
  @IsString()
  @Matches(/^\d+(kb|mb)$/i)
  BODY_LIMIT = '1mb';

  /**
   * Deepest nesting of objects and arrays accepted in a JSON or NDJSON body;
   * deeper bodies are a 400 before they are parsed.
   */
  @Transform(toInt)
  @IsInt()
  @Min(8)
  @Max(1000)
  BODY_MAX_DEPTH = 64;

  /** Bearer token /metrics requires; /metrics is open when unset. */
  @IsOptional()
  @IsString()
  @MinLength(16)
  METRICS_TOKEN?: string;

  /**
   * Host suffixes a base connection's namespace may end in (comma-separated):
   * Azure's public, China and US Government clouds by default.
   */
  @Transform(toSuffixList)
  @IsArray()
  @Matches(/^\.[a-z0-9-]+(\.[a-z0-9-]+)+$/, {
    each: true,
    message: 'each suffix must look like .servicebus.windows.net',
  })
  EVENTHUBS_ALLOWED_HOST_SUFFIXES: string[] = [...DEFAULT_HOST_SUFFIXES];

  /**
   * `host` or `host:port` entries a `host:port` namespace may name (comma-
   * separated; `none` for none): development emulators, spoken to in plain
   * AMQP. Default: loopback in the embedded default, none with DATABASE_URL.
   */
  @IsOptional()
  @Transform(toList)
  @IsArray()
  @Matches(/^(none|[a-z0-9.:-]+)$/, {
    each: true,
    message: 'each endpoint must be a host or host:port',
  })
  EVENTHUBS_ALLOWED_ENDPOINTS?: string[];

  /**
   * Requests per minute one API client may make to the Platform routes, counted
   * in Postgres so the limit holds across replicas. 0 disables.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(100_000_000)
  RATE_LIMIT_PER_MINUTE = 6000;

  /** Token requests per minute per client_id (slows secret guessing). 0 disables. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(100_000_000)
  TOKEN_RATE_LIMIT_PER_MINUTE = 30;

  /**
   * How often each replica adds its locally counted requests to the shared
   * counts in PostgreSQL (and learns the other replicas').
   */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(60_000)
  RATE_LIMIT_SYNC_MS = 1000;

  /**
   * The percentage of a limit one replica may admit before it must add its
   * count to PostgreSQL: across R replicas a client gets at most the limit
   * plus R × this share per minute. 0 counts every request in PostgreSQL.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(50)
  RATE_LIMIT_LOCAL_PERCENT = 2;

  /**
   * A request still unanswered after this long has its database work cancelled
   * and gets a 503 if that rolled it back (NDJSON bulk ingestion is exempt). 0 disables.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  REQUEST_TIMEOUT_MS = 30_000;

  /**
   * SIGTERM/SIGINT: the longest a shutdown takes. Requests get up to 40 % of
   * it (an NDJSON upload stops reading at once and answers what it stored),
   * export steps and segment batches finish or give up within it; then the
   * process exits with 1 regardless. Nothing acknowledged is lost either way.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(600_000)
  SHUTDOWN_TIMEOUT_MS = 25_000;

  /** How long an Idempotency-Key and the response it stored are remembered. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(24 * 30)
  IDEMPOTENCY_TTL_HOURS = 24;
}

export class EnvValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Parse and validate a raw environment; throws listing every invalid variable. */
export function loadEnv(
  raw: Record<string, string | undefined> = process.env,
): Env {
  const known = Object.keys(new Env());
  const picked: Record<string, string> = {};
  for (const key of [
    ...known,
    'DATABASE_URL',
    'TOKEN_SIGNING_KEY',
    'ENCRYPTION_KEY',
    'DEV_CLIENT_ID',
    'DEV_CLIENT_SECRET',
    'DEV_ORG_ID',
    'EMULATOR_ENABLED',
    'SEGMENT_WORKER_ENABLED',
    'METRICS_TOKEN',
    'EVENTHUBS_ALLOWED_ENDPOINTS',
  ]) {
    const v = raw[key];
    if (v !== undefined && v !== '') picked[key] = v;
  }
  const env = plainToInstance(Env, picked);
  const errors = validateSync(env, { whitelist: true });
  if (errors.length > 0) {
    throw new EnvValidationError(
      errors.map(
        (e) =>
          `${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`,
      ),
    );
  }
  return env;
}

/** True when the service runs its own embedded Postgres (no DATABASE_URL). */
export function isEmbedded(env: Env): boolean {
  return !env.DATABASE_URL;
}

/** The hosts base connections may name (see resolveNamespace). */
export function endpointPolicy(env: Env): EndpointPolicy {
  const endpoints =
    env.EVENTHUBS_ALLOWED_ENDPOINTS ??
    (isEmbedded(env) ? LOOPBACK_ENDPOINTS : []);
  return {
    hostSuffixes: env.EVENTHUBS_ALLOWED_HOST_SUFFIXES,
    endpoints: endpoints.filter((e) => e !== 'none'),
  };
}

export const ENV = Symbol('ENV');
