/** What a failed connection test means to the user; no I/O here. */
export type ProbeFailure =
  'unreachable' | 'not-event-hubs' | 'key-refused' | 'hub-not-found' | 'busy';

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'OperationTimeoutError',
  'ServiceCommunicationError',
]);

/**
 * Classifies an SDK or socket error. Anything not recognised is "not an
 * Event Hubs endpoint": something answered, but not as Event Hubs would.
 */
export function classifyProbeError(err: unknown): ProbeFailure {
  // Connection failures surface as an AggregateError of per-address errors.
  const first =
    err instanceof AggregateError && err.errors.length
      ? (err.errors[0] as unknown)
      : err;
  const e = (first ?? {}) as { code?: unknown; name?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const name = typeof e.name === 'string' ? e.name : undefined;
  const is = (...values: string[]): boolean =>
    values.some((v) => v === code || v === name);
  if (is('UnauthorizedError')) return 'key-refused';
  if (is('MessagingEntityNotFoundError', 'ResourceNotFoundError'))
    return 'hub-not-found';
  if (is('ServerBusyError', 'ServiceUnavailableError')) return 'busy';
  if ([code, name].some((v) => v !== undefined && UNREACHABLE.has(v)))
    return 'unreachable';
  return 'not-event-hubs';
}

/** The connection test's `reason`: what to check, never the socket's or protocol's own words. */
export function describeProbeFailure(
  err: unknown,
  namespace: string,
  hub: string,
): string {
  const failure = classifyProbeError(err);
  switch (failure) {
    case 'unreachable':
      return `Cannot reach the namespace '${namespace}': check its name and that it accepts connections from this service.`;
    case 'not-event-hubs':
      return `The namespace '${namespace}' is not an Event Hubs endpoint: check its name.`;
    case 'key-refused':
      return `The key was refused for event hub '${hub}': check the SAS key name and key.`;
    case 'hub-not-found':
      return `Event hub '${hub}' does not exist in the namespace.`;
    case 'busy':
      return `The namespace '${namespace}' is busy or unavailable: try again later.`;
    default:
      return assertUnreachable(failure);
  }
}

function assertUnreachable(x: never): never {
  throw new Error(`Unclassified probe failure ${String(x)}`);
}
