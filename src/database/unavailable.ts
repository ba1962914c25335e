/**
 * Whether an error means the database could not be reached (or went away
 * mid-query) rather than that a statement was wrong. Such a failure says
 * nothing about the request: the client may retry it once the database is
 * back (HTTP 503), and background work backs off and resumes.
 *
 * TypeORM hands these over in several shapes: the pg error itself (a refused
 * connect from the pool), a QueryFailedError whose `driverError` is it, and
 * Node's AggregateError when a host name resolves to several addresses; all
 * of them are looked through.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || seen.has(e)) continue;
    seen.add(e);
    if (matches(e as ErrorLike)) return true;
    const { driverError, cause, errors } = e as ErrorLike;
    queue.push(driverError, cause, ...(Array.isArray(errors) ? errors : []));
  }
  return false;
}

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  driverError?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** Socket-level failures Node reports while connecting to or talking with the server. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a server that is going away or not accepting work:
 * class 08 (connection exception), 57P01 admin_shutdown, 57P02
 * crash_shutdown, 57P03 cannot_connect_now (starting up, shutting down,
 * in recovery), 53300 too_many_connections.
 */
function isUnavailableSqlState(code: string): boolean {
  return (
    /^08[0-9A-Z]{3}$/.test(code) ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '53300'
  );
}

/**
 * node-postgres reports a lost socket and a pool or connect timeout with
 * plain Errors that carry no code; their messages are its API here.
 */
const PG_MESSAGES = [
  /^Connection terminated/i,
  /^timeout exceeded when trying to connect$/i,
  /is not queryable/i,
  /^Client network socket disconnected/i,
];

function matches(e: ErrorLike): boolean {
  if (typeof e.code === 'string') {
    if (NETWORK_CODES.has(e.code)) return true;
    if (isUnavailableSqlState(e.code)) return true;
  }
  return (
    typeof e.message === 'string' &&
    PG_MESSAGES.some((re) => re.test(e.message as string))
  );
}
