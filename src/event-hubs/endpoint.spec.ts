import { describe, expect, it } from 'vitest';
import { endpointPolicy, loadEnv } from '../config/env.js';
import {
  connectionStringFor,
  NamespaceNotAllowedError,
  resolveNamespace,
} from './endpoint.js';
import {
  DEFAULT_HOST_SUFFIXES,
  type EndpointPolicy,
} from '../config/endpoint-policy.js';

const policy: EndpointPolicy = {
  hostSuffixes: DEFAULT_HOST_SUFFIXES,
  endpoints: ['127.0.0.1', 'emulator:5672'],
};

describe('resolveNamespace', () => {
  it.each([
    ['myns', 'myns.servicebus.windows.net', undefined, false],
    ['  MyNs  ', 'myns.servicebus.windows.net', undefined, false],
    [
      'ns.servicebus.windows.net',
      'ns.servicebus.windows.net',
      undefined,
      false,
    ],
    [
      'ns.servicebus.chinacloudapi.cn',
      'ns.servicebus.chinacloudapi.cn',
      undefined,
      false,
    ],
    [
      'ns.servicebus.usgovcloudapi.net',
      'ns.servicebus.usgovcloudapi.net',
      undefined,
      false,
    ],
    ['127.0.0.1:5673', '127.0.0.1', 5673, true],
    ['emulator:5672', 'emulator', 5672, true],
  ])('%s → %s', (ns, host, port, emulator) => {
    expect(resolveNamespace(ns, policy)).toEqual({
      ok: true,
      endpoint: { host, ...(port ? { port } : {}), emulator },
    });
  });

  it.each([
    'evil.example.com',
    'ns.servicebus.windows.net.evil.com',
    'a.b.servicebus.windows.net',
    '.servicebus.windows.net',
    '-ns',
    '127.0.0.1',
    '10.0.0.1:5671',
    'emulator:5673',
    '127.0.0.1:0',
    '127.0.0.1:99999',
    'ns.servicebus.windows.net:443',
    '',
  ])('%s is refused', (ns) => {
    expect(resolveNamespace(ns, policy)).toMatchObject({ ok: false });
  });

  it('connectionStringFor refuses what resolveNamespace refuses, and marks emulators', () => {
    const creds = { sasKeyName: 'k', sasKey: 'v' };
    expect(() =>
      connectionStringFor({ ...creds, namespace: 'evil.com' }, 'h', policy),
    ).toThrow(NamespaceNotAllowedError);
    expect(
      connectionStringFor({ ...creds, namespace: 'myns' }, 'h', policy),
    ).toBe(
      'Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v;EntityPath=h',
    );
    expect(
      connectionStringFor(
        { ...creds, namespace: '127.0.0.1:5673' },
        'h',
        policy,
      ),
    ).toContain('Endpoint=sb://127.0.0.1:5673/;');
    expect(
      connectionStringFor(
        { ...creds, namespace: '127.0.0.1:5673' },
        'h',
        policy,
      ),
    ).toMatch(/;UseDevelopmentEmulator=true$/);
  });
});

describe('endpointPolicy (configuration)', () => {
  it('allows loopback endpoints in the embedded default and none with DATABASE_URL', () => {
    expect(endpointPolicy(loadEnv({})).endpoints).toEqual([
      '127.0.0.1',
      'localhost',
      '::1',
    ]);
    expect(
      endpointPolicy(loadEnv({ DATABASE_URL: 'postgres://db/x' })).endpoints,
    ).toEqual([]);
    expect(
      endpointPolicy(loadEnv({ EVENTHUBS_ALLOWED_ENDPOINTS: 'none' }))
        .endpoints,
    ).toEqual([]);
  });

  it('reads suffix and endpoint lists, and refuses malformed entries at boot', () => {
    const env = loadEnv({
      DATABASE_URL: 'postgres://db/x',
      EVENTHUBS_ALLOWED_HOST_SUFFIXES: 'servicebus.windows.net, .EH.Internal',
      EVENTHUBS_ALLOWED_ENDPOINTS: 'Emulator:5672,10.0.0.5',
    });
    expect(endpointPolicy(env)).toEqual({
      hostSuffixes: ['.servicebus.windows.net', '.eh.internal'],
      endpoints: ['emulator:5672', '10.0.0.5'],
    });
    expect(() => loadEnv({ EVENTHUBS_ALLOWED_HOST_SUFFIXES: 'com' })).toThrow(
      /EVENTHUBS_ALLOWED_HOST_SUFFIXES/,
    );
    expect(() => loadEnv({ EVENTHUBS_ALLOWED_ENDPOINTS: 'http://x' })).toThrow(
      /EVENTHUBS_ALLOWED_ENDPOINTS/,
    );
  });
});
