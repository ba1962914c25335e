import {
  EVENT_HUBS_AUTH_SPEC,
  EVENT_HUBS_SPEC_ID,
  PROFILE_FLOW_SPEC_ID,
  PROFILE_STORE_SPEC_ID,
} from '../catalog/catalog.data.js';

/**
 * `apply FILE.json`: declarative provisioning through the public HTTP API
 * only (what an infrastructure script against Adobe would do), so it works
 * the same against any replica, behind any proxy, with any client.
 */

const FS = '/data/foundation/flowservice';
const SEGMENTS = '/data/core/ups/segment/definitions';
const SPEC = (id: string) => ({ id, version: '1.0' });
const SEGMENT_SELECTORS =
  '/transformations/0/params/segmentSelectors/selectors';
const PROFILE_SELECTORS =
  '/transformations/0/params/profileSelectors/selectors';

/** The file `apply` reads (see examples/provision.json). */
export interface ProvisionFile {
  connection: {
    name: string;
    description?: string;
    namespace: string;
    sasKeyName: string;
    sasKey: string;
  };
  targetConnection: {
    name: string;
    description?: string;
    eventHubName: string;
    includeSegmentNames?: boolean;
    includeSegmentTimestamps?: boolean;
  };
  /** The profile-store source connection; default name `Profile Store`. */
  sourceConnection?: { name: string; description?: string };
  segments?: { name: string; description?: string; pql: string }[];
  flow: {
    name: string;
    description?: string;
    /** Segment names: from `segments`, or already in the sandbox. */
    segments: string[];
    /** XDM attribute paths to export, e.g. `personalEmail.address`. */
    attributes: string[];
  };
}

export type ObjectKind =
  'connection' | 'targetConnection' | 'sourceConnection' | 'segment' | 'flow';

export interface ApplyResult {
  kind: ObjectKind;
  name: string;
  action: 'created' | 'updated' | 'unchanged';
  /** Absent for an object a dry run would create. */
  id?: string;
  /** What differs (field names, never secret values). */
  changes: string[];
}

export interface PlatformCredentials {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  orgId: string;
  sandbox: string;
}

/** A non-2xx answer of the API, with its error code when it has one. */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    const b = (body ?? {}) as Record<string, unknown>;
    const text = (v: unknown): string =>
      typeof v === 'string' || typeof v === 'number' ? String(v) : '';
    const code = text(b.code) || text(b.error_code) || text(b.error);
    const message =
      text(b.message) || text(b.error_description) || text(b.detail);
    super(
      `${method} ${path} → ${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`,
    );
  }
}

type Json = Record<string, unknown>;
interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** A minimal Adobe-style client: IMS token, platform headers, JSON bodies. */
export class PlatformClient {
  private token?: Promise<string>;
  private readonly base: string;

  constructor(
    private readonly creds: PlatformCredentials,
    private readonly fetchFn: typeof fetch = globalThis.fetch,
  ) {
    this.base = creds.baseUrl.replace(/\/+$/, '');
  }

  private accessToken(): Promise<string> {
    this.token ??= (async () => {
      const path = '/ims/token/v3';
      const res = await this.send(path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: this.creds.clientId,
          client_secret: this.creds.clientSecret,
        }).toString(),
      });
      const body = (await readBody(res)) as Json;
      if (!res.ok) throw new ApiError('POST', path, res.status, body);
      return String(body.access_token);
    })();
    return this.token;
  }

  async call<T = Json>(
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const res = await this.send(path, {
      method,
      headers: {
        authorization: `Bearer ${await this.accessToken()}`,
        'x-api-key': this.creds.clientId,
        'x-gw-ims-org-id': this.creds.orgId,
        'x-sandbox-name': this.creds.sandbox,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const parsed = await readBody(res);
    if (!res.ok) throw new ApiError(method, path, res.status, parsed);
    return parsed as T;
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchFn(this.base + path, init);
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      throw new Error(
        `cannot reach ${this.base}: ${cause ?? (err instanceof Error ? err.message : String(err))}`,
        { cause: err },
      );
    }
  }

  /** Every item of a Flow Service list, following `_links.next.href`. */
  async listAll(path: string): Promise<Json[]> {
    const items: Json[] = [];
    let next: string | undefined = path;
    while (next) {
      const page: { items?: Json[]; _links?: { next?: { href?: string } } } =
        await this.call('GET', next);
      items.push(...(page.items ?? []));
      next = page._links?.next?.href;
    }
    return items;
  }

  /** Every segment definition of the sandbox (Segmentation's `start`/`limit` paging). */
  async listSegments(): Promise<Json[]> {
    const all: Json[] = [];
    for (let start = 0; ; start += 100) {
      const page: { segments?: Json[]; page?: { totalCount?: number } } =
        await this.call('GET', `${SEGMENTS}?start=${start}&limit=100`);
      const got = page.segments ?? [];
      all.push(...got);
      if (got.length < 100 || all.length >= (page.page?.totalCount ?? 0))
        return all;
    }
  }
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Json =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Validates a parsed provisioning file, listing every problem at once. */
export function parseProvisionFile(raw: unknown): ProvisionFile {
  const problems: string[] = [];
  const root = obj(raw);
  const need = (o: Json, key: string, at: string): string => {
    const v = o[key];
    if (typeof v !== 'string' || v.trim() === '')
      problems.push(`${at}.${key} must be a non-empty string`);
    return str(v);
  };
  const optional = (o: Json, key: string, at: string, type: string): void => {
    if (o[key] !== undefined && typeof o[key] !== type)
      problems.push(`${at}.${key} must be a ${type}`);
  };
  const known = (o: Json, at: string, keys: string[]): void => {
    for (const k of Object.keys(o))
      if (!keys.includes(k)) problems.push(`${at}.${k} is not a known field`);
  };
  known(root, '$', [
    '$schema',
    'connection',
    'targetConnection',
    'sourceConnection',
    'segments',
    'flow',
  ]);
  for (const key of ['connection', 'targetConnection', 'flow']) {
    if (!root[key] || typeof root[key] !== 'object' || Array.isArray(root[key]))
      problems.push(`$.${key} must be an object`);
  }
  const connection = obj(root.connection);
  known(connection, '$.connection', [
    'name',
    'description',
    'namespace',
    'sasKeyName',
    'sasKey',
  ]);
  for (const k of ['name', 'namespace', 'sasKeyName', 'sasKey'])
    need(connection, k, '$.connection');
  optional(connection, 'description', '$.connection', 'string');
  const target = obj(root.targetConnection);
  known(target, '$.targetConnection', [
    'name',
    'description',
    'eventHubName',
    'includeSegmentNames',
    'includeSegmentTimestamps',
  ]);
  need(target, 'name', '$.targetConnection');
  need(target, 'eventHubName', '$.targetConnection');
  optional(target, 'description', '$.targetConnection', 'string');
  optional(target, 'includeSegmentNames', '$.targetConnection', 'boolean');
  optional(target, 'includeSegmentTimestamps', '$.targetConnection', 'boolean');
  if (root.sourceConnection !== undefined) {
    const source = obj(root.sourceConnection);
    known(source, '$.sourceConnection', ['name', 'description']);
    need(source, 'name', '$.sourceConnection');
    optional(source, 'description', '$.sourceConnection', 'string');
  }
  if (root.segments !== undefined && !Array.isArray(root.segments))
    problems.push('$.segments must be an array');
  const names = new Set<string>();
  arr(root.segments).forEach((s, i) => {
    const at = `$.segments[${i}]`;
    const seg = obj(s);
    known(seg, at, ['name', 'description', 'pql']);
    const name = need(seg, 'name', at);
    need(seg, 'pql', at);
    optional(seg, 'description', at, 'string');
    if (names.has(name)) problems.push(`${at}.name "${name}" is repeated`);
    names.add(name);
  });
  const flow = obj(root.flow);
  known(flow, '$.flow', ['name', 'description', 'segments', 'attributes']);
  need(flow, 'name', '$.flow');
  optional(flow, 'description', '$.flow', 'string');
  for (const k of ['segments', 'attributes']) {
    const list = flow[k];
    if (
      !Array.isArray(list) ||
      list.some((v) => typeof v !== 'string' || v === '')
    )
      problems.push(`$.flow.${k} must be an array of non-empty strings`);
    else if (new Set(list).size !== list.length)
      problems.push(`$.flow.${k} has repeated entries`);
  }
  if (problems.length)
    throw new Error(`invalid provisioning file:\n  ${problems.join('\n  ')}`);
  return root as unknown as ProvisionFile;
}

export interface ApplyOptions {
  /** Only compute the plan; no POST or PATCH is sent. */
  dryRun?: boolean;
  /**
   * The API returns the SAS key masked, so a changed key cannot be seen:
   * the key is sent when the namespace or key name differ, or with this flag.
   */
  rotateKey?: boolean;
  /** Called with each object's outcome as soon as it is known. */
  onResult?: (result: ApplyResult) => void;
}

/**
 * Brings the sandbox to the described state, object by object in dependency
 * order (connection → target, source → segments → flow). Existing objects are
 * matched by name (and connection spec); only differing fields are patched,
 * with the etag just read as If-Match.
 */
export async function applyProvisionFile(
  client: PlatformClient,
  file: ProvisionFile,
  opts: ApplyOptions = {},
): Promise<ApplyResult[]> {
  const results: ApplyResult[] = [];
  const dry = opts.dryRun ?? false;
  const report = (r: ApplyResult): ApplyResult => {
    results.push(r);
    opts.onResult?.(r);
    return r;
  };

  /** Finds the one item named `name`; several is an error (names are not unique in Flow Service). */
  const byName = (
    items: Json[],
    name: string,
    kind: string,
  ): Json | undefined => {
    const found = items.filter((i) => i.name === name);
    if (found.length > 1)
      throw new Error(
        `${found.length} ${kind}s are named "${name}" (${found.map((f) => str(f.id)).join(', ')}): rename or delete all but one`,
      );
    return found[0];
  };

  /** Creates, patches or leaves one Flow Service object. */
  const converge = async (
    kind: ObjectKind,
    resource: string,
    name: string,
    existing: Json | undefined,
    create: () => Json,
    diff: (current: Json) => { ops: PatchOp[]; changes: string[] },
  ): Promise<ApplyResult> => {
    if (!existing) {
      if (dry) return report({ kind, name, action: 'created', changes: [] });
      const created = await client.call<{ id: string }>(
        'POST',
        `${FS}/${resource}`,
        create(),
      );
      return report({
        kind,
        name,
        action: 'created',
        id: created.id,
        changes: [],
      });
    }
    const id = str(existing.id);
    const { ops, changes } = diff(existing);
    if (ops.length === 0)
      return report({ kind, name, action: 'unchanged', id, changes });
    if (!dry)
      await client.call('PATCH', `${FS}/${resource}/${id}`, ops, {
        'if-match': str(existing.etag),
      });
    return report({ kind, name, action: 'updated', id, changes });
  };

  const describe = (
    current: Json,
    description: string | undefined,
    ops: PatchOp[],
    changes: string[],
  ): void => {
    if (description !== undefined && str(current.description) !== description) {
      ops.push({ op: 'replace', path: '/description', value: description });
      changes.push('description');
    }
  };

  // 1. Event Hubs base connection.
  const c = file.connection;
  const connections = await client.listAll(
    `${FS}/connections?property=connectionSpec.id==${EVENT_HUBS_SPEC_ID}&limit=100`,
  );
  const connection = await converge(
    'connection',
    'connections',
    c.name,
    byName(connections, c.name, 'connection'),
    () => ({
      name: c.name,
      ...(c.description !== undefined ? { description: c.description } : {}),
      auth: {
        specName: EVENT_HUBS_AUTH_SPEC,
        params: {
          sasKeyName: c.sasKeyName,
          sasKey: c.sasKey,
          namespace: c.namespace,
        },
      },
      connectionSpec: SPEC(EVENT_HUBS_SPEC_ID),
    }),
    (current) => {
      const ops: PatchOp[] = [];
      const changes: string[] = [];
      describe(current, c.description, ops, changes);
      const params = obj(obj(current.auth).params);
      const differing = (['namespace', 'sasKeyName'] as const).filter(
        (k) => params[k] !== c[k],
      );
      if (differing.length || opts.rotateKey) {
        // The whole params object: a new namespace or key name comes with its key.
        ops.push({
          op: 'replace',
          path: '/auth/params',
          value: {
            ...params,
            namespace: c.namespace,
            sasKeyName: c.sasKeyName,
            sasKey: c.sasKey,
          },
        });
        changes.push(`auth.params (${[...differing, 'sasKey'].join(', ')})`);
      }
      return { ops, changes };
    },
  );

  // 2. Event Hubs target connection on that base connection.
  const t = file.targetConnection;
  const targets = await client.listAll(
    `${FS}/targetConnections?property=connectionSpec.id==${EVENT_HUBS_SPEC_ID}&limit=100`,
  );
  const wantedParams: Json = {
    eventHubName: t.eventHubName,
    includeSegmentNames: t.includeSegmentNames ?? false,
    includeSegmentTimestamps: t.includeSegmentTimestamps ?? false,
  };
  const target = await converge(
    'targetConnection',
    'targetConnections',
    t.name,
    byName(targets, t.name, 'target connection'),
    () => ({
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      baseConnectionId: connection.id,
      connectionSpec: SPEC(EVENT_HUBS_SPEC_ID),
      data: { format: 'json' },
      params: wantedParams,
    }),
    (current) => {
      if (current.baseConnectionId !== connection.id)
        throw new Error(
          `target connection "${t.name}" (${str(current.id)}) uses base connection ${str(current.baseConnectionId)}, not "${c.name}"${connection.id ? ` (${connection.id})` : ''}; the API cannot move it: delete it or rename it`,
        );
      const ops: PatchOp[] = [];
      const changes: string[] = [];
      describe(current, t.description, ops, changes);
      const params = obj(current.params);
      for (const [k, v] of Object.entries(wantedParams)) {
        const have = params[k] ?? (typeof v === 'boolean' ? false : undefined);
        if (have !== v) {
          ops.push({ op: 'add', path: `/params/${k}`, value: v });
          changes.push(`params.${k}`);
        }
      }
      return { ops, changes };
    },
  );

  // 3. Profile-store source connection.
  const s = file.sourceConnection ?? { name: 'Profile Store' };
  const sources = await client.listAll(
    `${FS}/sourceConnections?property=connectionSpec.id==${PROFILE_STORE_SPEC_ID}&limit=100`,
  );
  const source = await converge(
    'sourceConnection',
    'sourceConnections',
    s.name,
    byName(sources, s.name, 'source connection'),
    () => ({
      name: s.name,
      ...(s.description !== undefined ? { description: s.description } : {}),
      connectionSpec: SPEC(PROFILE_STORE_SPEC_ID),
      data: { format: 'json' },
      params: {},
    }),
    (current) => {
      const ops: PatchOp[] = [];
      const changes: string[] = [];
      describe(current, s.description, ops, changes);
      return { ops, changes };
    },
  );

  // 4. Segment definitions (Segmentation API: POST creates, PATCH overwrites).
  const segments = await client.listSegments();
  const segmentIds = new Map<string, string | undefined>();
  for (const seg of file.segments ?? []) {
    const existing = byName(segments, seg.name, 'segment definition');
    if (!existing) {
      let id: string | undefined;
      if (!dry) {
        const created = await client.call<{ id: string }>('POST', SEGMENTS, {
          name: seg.name,
          ...(seg.description !== undefined
            ? { description: seg.description }
            : {}),
          profileInstanceId: 'ups',
          expression: { type: 'PQL', format: 'pql/text', value: seg.pql },
          schema: { name: '_xdm.context.profile' },
          evaluationInfo: { continuous: { enabled: true } },
        });
        id = created.id;
      }
      segmentIds.set(seg.name, id);
      report({
        kind: 'segment',
        name: seg.name,
        action: 'created',
        id,
        changes: [],
      });
      continue;
    }
    const id = str(existing.id);
    segmentIds.set(seg.name, id);
    const expression = obj(existing.expression);
    const changes: string[] = [];
    if (expression.value !== seg.pql) changes.push('pql');
    if (
      seg.description !== undefined &&
      str(existing.description) !== seg.description
    )
      changes.push('description');
    if (changes.length && !dry) {
      const keep = [
        'schema',
        'profileInstanceId',
        'evaluationInfo',
        'ttlInDays',
        'payloadSchema',
        'mergePolicyId',
        'dataGovernancePolicy',
      ];
      await client.call('PATCH', `${SEGMENTS}/${id}`, {
        ...Object.fromEntries(
          keep.filter((k) => existing[k] != null).map((k) => [k, existing[k]]),
        ),
        name: seg.name,
        description: seg.description ?? str(existing.description),
        expression: { type: 'PQL', format: 'pql/text', value: seg.pql },
      });
    }
    report({
      kind: 'segment',
      name: seg.name,
      action: changes.length ? 'updated' : 'unchanged',
      id,
      changes,
    });
  }
  for (const name of file.flow.segments) {
    if (segmentIds.has(name)) continue;
    const existing = byName(segments, name, 'segment definition');
    if (!existing)
      throw new Error(
        `flow "${file.flow.name}" maps segment "${name}", which is neither in "segments" nor in the sandbox`,
      );
    segmentIds.set(name, str(existing.id));
  }

  // 5. The flow.
  const f = file.flow;
  const wantedSegments = f.segments.map((name) => ({
    name,
    id: segmentIds.get(name) ?? `(new segment "${name}")`,
  }));
  const flows = await client.listAll(
    `${FS}/flows?property=flowSpec.id==${PROFILE_FLOW_SPEC_ID}&limit=100`,
  );
  const segmentSelector = (sg: { name: string; id: string }): Json => ({
    type: 'PLATFORM_SEGMENT',
    value: { id: sg.id, name: sg.name },
  });
  const attributeSelector = (path: string): Json => ({
    type: 'JSON_PATH',
    value: { path, operator: 'EXISTS' },
  });
  await converge(
    'flow',
    'flows',
    f.name,
    byName(flows, f.name, 'flow'),
    () => ({
      name: f.name,
      ...(f.description !== undefined ? { description: f.description } : {}),
      flowSpec: SPEC(PROFILE_FLOW_SPEC_ID),
      sourceConnectionIds: [source.id],
      targetConnectionIds: [target.id],
      transformations: [
        {
          name: 'GeneralTransform',
          params: {
            profileSelectors: {
              selectors: f.attributes.map(attributeSelector),
            },
            segmentSelectors: {
              selectors: wantedSegments.map(segmentSelector),
            },
          },
        },
      ],
    }),
    (current) => {
      for (const [field, want, label] of [
        ['sourceConnectionIds', source.id, `source connection "${s.name}"`],
        ['targetConnectionIds', target.id, `target connection "${t.name}"`],
      ] as const) {
        const have = arr(current[field]);
        if (have.length !== 1 || have[0] !== want)
          throw new Error(
            `flow "${f.name}" (${str(current.id)}) has ${field} [${have.join(', ')}], not ${label}${want ? ` (${want})` : ''}; the API cannot change a flow's connections: delete the flow or rename it`,
          );
      }
      const ops: PatchOp[] = [];
      const changes: string[] = [];
      describe(current, f.description, ops, changes);
      const transformations = arr(current.transformations);
      if (transformations.length === 0) {
        ops.push({
          op: 'add',
          path: '/transformations/-',
          value: {
            name: 'GeneralTransform',
            params: {
              profileSelectors: {
                selectors: f.attributes.map(attributeSelector),
              },
              segmentSelectors: {
                selectors: wantedSegments.map(segmentSelector),
              },
            },
          },
        });
        changes.push('transformations');
        return { ops, changes };
      }
      const params = obj(obj(transformations[0]).params);
      const selectorOps = (
        base: string,
        label: string,
        have: string[],
        want: string[],
        toValue: (key: string) => Json,
      ): void => {
        const seen = new Set<string>();
        const removeAt: number[] = [];
        have.forEach((key, i) => {
          if (!want.includes(key) || seen.has(key)) removeAt.push(i);
          seen.add(key);
        });
        // Highest index first: each removal shifts the ones after it.
        for (const i of removeAt.reverse())
          ops.push({ op: 'remove', path: `${base}/${i}` });
        const added = want.filter((k) => !have.includes(k));
        for (const k of added)
          ops.push({ op: 'add', path: `${base}/-`, value: toValue(k) });
        const removed = [...new Set(removeAt.map((i) => have[i]))].filter(
          (k) => !want.includes(k),
        );
        if (added.length || removeAt.length)
          changes.push(
            `${label} (${[...added.map((k) => `+${k}`), ...removed.map((k) => `-${k}`)].join(', ') || 'duplicates'})`,
          );
      };
      const haveSegments = arr(obj(params.segmentSelectors).selectors).map(
        (sel) => str(obj(obj(sel).value).id),
      );
      if (!Array.isArray(obj(params.segmentSelectors).selectors))
        ops.push({
          op: 'add',
          path: '/transformations/0/params/segmentSelectors',
          value: { selectors: [] },
        });
      const byId = new Map(wantedSegments.map((sg) => [sg.id, sg]));
      selectorOps(
        SEGMENT_SELECTORS,
        'segments',
        haveSegments,
        wantedSegments.map((sg) => sg.id),
        (id) => segmentSelector(byId.get(id) ?? { id, name: id }),
      );
      const haveAttributes = arr(obj(params.profileSelectors).selectors).map(
        (sel) => str(obj(obj(sel).value).path),
      );
      if (!Array.isArray(obj(params.profileSelectors).selectors))
        ops.push({
          op: 'add',
          path: '/transformations/0/params/profileSelectors',
          value: { selectors: [] },
        });
      selectorOps(
        PROFILE_SELECTORS,
        'attributes',
        haveAttributes,
        f.attributes,
        attributeSelector,
      );
      return { ops, changes };
    },
  );
  return results;
}

/** One line per object, e.g. `updated    flow  "Gold to hub"  <id>  (attributes: +person.name.lastName)`. */
export function formatResult(r: ApplyResult, dryRun = false): string {
  const action = dryRun
    ? { created: 'create', updated: 'update', unchanged: 'unchanged' }[r.action]
    : r.action;
  return [
    action.padEnd(9),
    r.kind.padEnd(16),
    JSON.stringify(r.name),
    r.id ?? '(new)',
    r.changes.length ? `(${r.changes.join('; ')})` : '',
  ]
    .join('  ')
    .trimEnd();
}

export function formatSummary(results: ApplyResult[], dryRun = false): string {
  const count = (a: ApplyResult['action']) =>
    results.filter((r) => r.action === a).length;
  const [created, updated, unchanged] = [
    count('created'),
    count('updated'),
    count('unchanged'),
  ];
  if (created + updated === 0)
    return `No changes: all ${unchanged} objects are up to date.`;
  return dryRun
    ? `Plan: ${created} to create, ${updated} to update, ${unchanged} unchanged (dry run: nothing was changed).`
    : `Applied: ${created} created, ${updated} updated, ${unchanged} unchanged.`;
}
