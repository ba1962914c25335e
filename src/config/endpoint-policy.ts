/**
 * Which hosts an Event Hubs namespace may name: configuration, read by the
 * namespace check (event-hubs/endpoint.ts `resolveNamespace`).
 */
/** Which hosts a namespace may name (EVENTHUBS_ALLOWED_HOST_SUFFIXES, EVENTHUBS_ALLOWED_ENDPOINTS). */
export interface EndpointPolicy {
  /** Lower-case, with their leading dot: `.servicebus.windows.net`. */
  hostSuffixes: readonly string[];
  /** Lower-case `host` (any port) or `host:port` entries a `host:port` namespace may name. */
  endpoints: readonly string[];
}

/** Azure's public, China and US Government clouds. */
export const DEFAULT_HOST_SUFFIXES = [
  '.servicebus.windows.net',
  '.servicebus.chinacloudapi.cn',
  '.servicebus.usgovcloudapi.net',
];

/** Where the embedded development default's emulator runs. */
export const LOOPBACK_ENDPOINTS = ['127.0.0.1', 'localhost', '::1'];
