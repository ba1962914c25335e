import type { Queryable } from '../../src/database/transaction.js';
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

/** A flow's lanes summed up: how far the runner is, for tests that wait on it. */
export interface FlowProgress {
  /** Every lane has finished its backfill. */
  noBackfill: boolean;
  /** Every lane has committed a step. */
  stepped: boolean;
  /**
   * Committed changes after each lane's position, summed (any lane's: a lane
   * with nothing of its own to export still follows the log, so 0 means
   * every lane has passed every change).
   */
  pending: number;
  /** The lanes' positions, in lane order. */
  pos: string;
  /** The most failures of any lane. */
  failures: number;
}

/** See FlowProgress; null before the runner created the flow's cursors. */
export async function flowProgress(
  ds: Queryable,
  flowId: string,
): Promise<FlowProgress | null> {
  const [row] = (await ds.query(
    `SELECT bool_and(c.backfill IS NULL) AS "noBackfill",
            bool_and(c.last_success_at IS NOT NULL) AS stepped,
            string_agg(c.last_tx_id::text || '/' || c.last_change_id, ',' ORDER BY c.lane) AS pos,
            max(c.failures)::int AS failures,
            sum((SELECT count(*) FROM profile_changes p
                  WHERE p.org_id = c.org_id AND p.sandbox_name = c.sandbox_name
                    AND (p.tx_id, p.id) > (c.last_tx_id::xid8, c.last_change_id)))::int AS pending
       FROM flow_cursors c WHERE c.flow_id = $1
     HAVING count(*) > 0`,
    [flowId],
  )) as FlowProgress[];
  return row ?? null;
}
