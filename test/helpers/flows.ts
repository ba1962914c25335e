import type { TestApp, TestTenant } from './app.js';
import { EH_SPEC, FLOW_SPEC, FS, PROFILE_SPEC } from './resources.js';

export interface CreatedFlow {
  flowId: string;
  etag: string;
  baseConnectionId: string;
  targetConnectionId: string;
  sourceConnectionId: string;
}

/** The Adobe tutorial's four calls: base connection, target, source, flow. */
export async function createEventHubsFlow(
  t: TestApp,
  tenant: TestTenant,
  opts: {
    namespace: string;
    sasKeyName: string;
    sasKey: string;
    eventHubName: string;
    segmentIds: string[];
    attributes: string[];
    mandatoryFields?: string[];
    targetParams?: Record<string, unknown>;
  },
): Promise<CreatedFlow> {
  const post = async (
    path: string,
    body: object,
  ): Promise<{ id: string; etag: string }> => {
    const res = await t.http
      .post(`${FS}/${path}`)
      .set(tenant.headers)
      .send(body);
    if (res.status !== 201)
      throw new Error(
        `POST ${path} → ${res.status} ${JSON.stringify(res.body)}`,
      );
    return res.body as { id: string; etag: string };
  };
  const base = await post('connections', {
    name: 'Event Hubs',
    auth: {
      specName: 'Azure EventHub authentication credentials',
      params: {
        sasKeyName: opts.sasKeyName,
        sasKey: opts.sasKey,
        namespace: opts.namespace,
      },
    },
    connectionSpec: EH_SPEC,
  });
  const target = await post('targetConnections', {
    name: 'hub',
    baseConnectionId: base.id,
    connectionSpec: EH_SPEC,
    data: { format: 'json' },
    params: { eventHubName: opts.eventHubName, ...opts.targetParams },
  });
  const sourceBase = await post('connections', {
    name: 'Profile store',
    connectionSpec: PROFILE_SPEC,
  });
  const source = await post('sourceConnections', {
    name: 'profiles',
    baseConnectionId: sourceBase.id,
    connectionSpec: PROFILE_SPEC,
    data: { format: 'json' },
    params: {},
  });
  const flow = await post('flows', {
    name: 'Export to Event Hubs',
    flowSpec: FLOW_SPEC,
    sourceConnectionIds: [source.id],
    targetConnectionIds: [target.id],
    transformations: [
      {
        name: 'GeneralTransform',
        params: {
          profileSelectors: {
            selectors: opts.attributes.map((path) => ({
              type: 'JSON_PATH',
              value: { path, operator: 'EXISTS' },
            })),
            ...(opts.mandatoryFields
              ? { mandatoryFields: opts.mandatoryFields }
              : {}),
          },
          segmentSelectors: {
            selectors: opts.segmentIds.map((id) => ({
              type: 'PLATFORM_SEGMENT',
              value: { id },
            })),
          },
        },
      },
    ],
  });
  return {
    flowId: flow.id,
    etag: flow.etag,
    baseConnectionId: base.id,
    targetConnectionId: target.id,
    sourceConnectionId: source.id,
  };
}

export async function patchFlow(
  t: TestApp,
  tenant: TestTenant,
  flowId: string,
  ops: object[],
): Promise<void> {
  const get = await t.http
    .get(`${FS}/flows/${flowId}`)
    .set(tenant.headers)
    .expect(200);
  const etag = (get.body as { items: { etag: string }[] }).items[0]?.etag ?? '';
  await t.http
    .patch(`${FS}/flows/${flowId}`)
    .set(tenant.headers)
    .set('If-Match', etag)
    .send(ops)
    .expect(200);
}
