import { isIP } from 'node:net';

export interface EventHubsCredentials {
  namespace: string;
  sasKeyName: string;
  sasKey: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * Builds the SDK connection string for a base connection's namespace:
 * `name` → name.servicebus.windows.net (TLS); a full host is used as is; a
 * `host:port` on loopback is the local emulator (plain TCP, which the SDK only
 * does with UseDevelopmentEmulator=true).
 */
export function connectionStringFor(
  creds: EventHubsCredentials,
  eventHubName: string,
): string {
  const ns = creds.namespace.trim();
  const [host, port] = splitHostPort(ns);
  const emulator = LOOPBACK.has(host) && port !== undefined;
  const fqdn =
    host.includes('.') || isIP(host) || LOOPBACK.has(host)
      ? host
      : `${host}.servicebus.windows.net`;
  const endpoint = `sb://${fqdn}${port ? `:${port}` : ''}/`;
  return [
    `Endpoint=${endpoint}`,
    `SharedAccessKeyName=${creds.sasKeyName}`,
    `SharedAccessKey=${creds.sasKey}`,
    `EntityPath=${eventHubName}`,
    ...(emulator ? ['UseDevelopmentEmulator=true'] : []),
  ].join(';');
}

function splitHostPort(ns: string): [string, string | undefined] {
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(ns);
  return [m?.[1] ?? ns, m?.[2]];
}
