import { expect } from 'vitest';
import type { TestApp, TestTenant } from './app.js';

export const FS = '/data/foundation/flowservice';
export const EH_SPEC = {
  id: 'bf9f5905-92b7-48bf-bf20-455bc6b60a4e',
  version: '1.0',
};
export const PROFILE_SPEC = {
  id: '8a9c3494-9708-43d7-ae3f-cda01e5030e1',
  version: '1.0',
};
export const FLOW_SPEC = {
  id: '71471eba-b620-49e4-90fd-23f1fa0174d8',
  version: '1.0',
};
export const EH_AUTH = 'Azure EventHub authentication credentials';
export const MISSING_ID = '00000000-0000-4000-8000-000000000000';

export interface Created {
  id: string;
  etag: string;
}

/** The contract's error body (CONTRACT A2), with its catalogue code. */
export function expectError(
  body: unknown,
  code: string,
  messagePart?: string | RegExp,
): void {
  const b = body as Record<string, unknown>;
  expect(b).toMatchObject({
    code,
    message: expect.any(String),
    errorMessage: expect.any(String),
    errorDetails: expect.any(String),
    requestId: expect.any(String),
  });
  if (messagePart !== undefined) expect(b.message).toMatch(messagePart);
}

export function ehAuthParams(
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    sasKeyName: 'RootManageSharedAccessKey',
    sasKey: 'c2VjcmV0LWtleS1mb3ItdGVzdHM=',
    namespace: '127.0.0.1:1',
    ...overrides,
  };
}

export function connectionBody(
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name: 'Event Hubs namespace',
    description: 'test namespace',
    auth: { specName: EH_AUTH, params: ehAuthParams() },
    connectionSpec: EH_SPEC,
    ...overrides,
  };
}

async function post(
  t: TestApp,
  tenant: TestTenant,
  path: string,
  body: unknown,
): Promise<Created> {
  const res = await t.http
    .post(`${FS}/${path}`)
    .set(tenant.headers)
    .send(body as object);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Created;
}

export function createConnection(
  t: TestApp,
  tenant: TestTenant,
  overrides: Record<string, unknown> = {},
): Promise<Created> {
  return post(t, tenant, 'connections', connectionBody(overrides));
}

export function createProfileConnection(
  t: TestApp,
  tenant: TestTenant,
): Promise<Created> {
  return post(t, tenant, 'connections', {
    name: 'Base connection to Experience Platform',
    connectionSpec: PROFILE_SPEC,
  });
}

export function createTarget(
  t: TestApp,
  tenant: TestTenant,
  baseConnectionId: string,
  overrides: Record<string, unknown> = {},
): Promise<Created> {
  return post(t, tenant, 'targetConnections', {
    name: 'Event Hubs target connection',
    baseConnectionId,
    connectionSpec: EH_SPEC,
    data: { format: 'json' },
    params: { eventHubName: 'profiles' },
    ...overrides,
  });
}

export function createSource(
  t: TestApp,
  tenant: TestTenant,
  baseConnectionId: string,
): Promise<Created> {
  return post(t, tenant, 'sourceConnections', {
    name: 'Profile store source connection',
    baseConnectionId,
    connectionSpec: PROFILE_SPEC,
  });
}

export function flowBody(
  sourceId: string,
  targetId: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name: 'Azure Event Hubs',
    description: 'Azure Event Hubs flow',
    flowSpec: FLOW_SPEC,
    sourceConnectionIds: [sourceId],
    targetConnectionIds: [targetId],
    transformations: [
      {
        name: 'GeneralTransform',
        params: {
          profileSelectors: { selectors: [] },
          segmentSelectors: { selectors: [] },
        },
      },
    ],
    ...overrides,
  };
}

export interface Destination {
  base: Created;
  target: Created;
  profileBase: Created;
  source: Created;
}

/** Base connection + target connection + profile store base + source connection. */
export async function createDestination(
  t: TestApp,
  tenant: TestTenant,
): Promise<Destination> {
  const base = await createConnection(t, tenant);
  const target = await createTarget(t, tenant, base.id);
  const profileBase = await createProfileConnection(t, tenant);
  const source = await createSource(t, tenant, profileBase.id);
  return { base, target, profileBase, source };
}

export async function createFlow(
  t: TestApp,
  tenant: TestTenant,
  overrides: Record<string, unknown> = {},
  destination?: Destination,
): Promise<Created & { destination: Destination }> {
  const d = destination ?? (await createDestination(t, tenant));
  const created = await post(
    t,
    tenant,
    'flows',
    flowBody(d.source.id, d.target.id, overrides),
  );
  return { ...created, destination: d };
}

export async function getItem<T = Record<string, unknown>>(
  t: TestApp,
  tenant: TestTenant,
  path: string,
): Promise<T> {
  const res = await t.http.get(`${FS}/${path}`).set(tenant.headers);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const items = (res.body as { items: T[] }).items;
  expect(items).toHaveLength(1);
  return items[0] as T;
}

export function segmentSelector(id: string, name = 'segment'): unknown {
  return { type: 'PLATFORM_SEGMENT', value: { id, name } };
}
