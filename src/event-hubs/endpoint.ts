import type { EndpointPolicy } from '../config/endpoint-policy.js';

export type { EndpointPolicy };

export interface EventHubsCredentials {
  namespace: string;
  sasKeyName: string;
  sasKey: string;
}

export interface ResolvedEndpoint {
  host: string;
  port?: number;
  /** A `host:port` endpoint is a development emulator: plain AMQP, no TLS. */
  emulator: boolean;
}

export type NamespaceResolution =
  { ok: true; endpoint: ResolvedEndpoint } | { ok: false; reason: string };

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * What a base connection's namespace names, or why it may not be used. No
 * I/O: it decides before anything connects, so a namespace can never point
 * the connection test or the runner at an arbitrary host or port.
 *
 * - `name` → `name.servicebus.windows.net`;
 * - `name<suffix>` for an allowed suffix (one DNS label before it);
 * - `host:port` only for an allowed endpoint, as a development emulator.
 */
export function resolveNamespace(
  namespace: string,
  policy: EndpointPolicy,
): NamespaceResolution {
  const ns = namespace.trim().toLowerCase();
  const hostPort = /^(.+):(\d{1,5})$/.exec(ns);
  if (hostPort) {
    const host = hostPort[1] as string;
    const port = Number(hostPort[2]);
    const allowed =
      policy.endpoints.includes(host) ||
      policy.endpoints.includes(`${host}:${port}`);
    if (!allowed || port < 1 || port > 65535)
      return {
        ok: false,
        reason:
          'a host:port namespace must be an allowed development endpoint (EVENTHUBS_ALLOWED_ENDPOINTS); use the Event Hubs namespace name instead',
      };
    return { ok: true, endpoint: { host, port, emulator: true } };
  }
  if (DNS_LABEL.test(ns))
    return {
      ok: true,
      endpoint: { host: `${ns}.servicebus.windows.net`, emulator: false },
    };
  for (const suffix of policy.hostSuffixes) {
    if (ns.endsWith(suffix) && DNS_LABEL.test(ns.slice(0, -suffix.length)))
      return { ok: true, endpoint: { host: ns, emulator: false } };
  }
  return {
    ok: false,
    reason: `must be an Event Hubs namespace name, or a host ending in ${policy.hostSuffixes.join(', ')}`,
  };
}

/** A stored namespace the current policy no longer allows (the runner and the probe refuse it). */
export class NamespaceNotAllowedError extends Error {
  constructor(readonly reason: string) {
    super(`The namespace is not allowed: ${reason}.`);
    this.name = 'NamespaceNotAllowedError';
  }
}

/**
 * Builds the SDK connection string for a base connection's namespace; the
 * emulator is plain TCP, which the SDK only does with UseDevelopmentEmulator=true.
 * Throws NamespaceNotAllowedError for a namespace the policy refuses.
 */
export function connectionStringFor(
  creds: EventHubsCredentials,
  eventHubName: string,
  policy: EndpointPolicy,
): string {
  const resolved = resolveNamespace(creds.namespace, policy);
  if (!resolved.ok) throw new NamespaceNotAllowedError(resolved.reason);
  const { host, port, emulator } = resolved.endpoint;
  const authority = host.includes(':') ? `[${host}]` : host;
  return [
    `Endpoint=sb://${authority}${port ? `:${port}` : ''}/`,
    `SharedAccessKeyName=${creds.sasKeyName}`,
    `SharedAccessKey=${creds.sasKey}`,
    `EntityPath=${eventHubName}`,
    ...(emulator ? ['UseDevelopmentEmulator=true'] : []),
  ].join(';');
}
