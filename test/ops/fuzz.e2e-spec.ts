import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EVENT_HUBS_SPEC_ID,
  PROFILE_FLOW_SPEC_ID,
  PROFILE_STORE_SPEC_ID,
} from '../../src/catalog/catalog.data.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { createEventHubsFlow } from '../helpers/flows.js';
import { ingest } from '../helpers/profiles.js';
import { createSegment } from '../helpers/segments.js';

/**
 * OpenAPI-driven fuzzing (issue 6 item 4): for every operation of the
 * committed spec, random path params, query strings, headers and bodies
 * (schema-derived with mutations, or raw). Every answer must be below 500,
 * every error must have one of the contract's shapes, and a rejected write
 * must leave the tenant's rows exactly as they were.
 *
 * FUZZ_RUNS (default 25) cases per operation, FUZZ_SEED (default fixed) for
 * reproduction: a failure prints the seed, the path and the request.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);

type Json = Record<string, any>;
interface Schema {
  $ref?: string;
  allOf?: Schema[];
  type?: string;
  format?: string;
  enum?: unknown[];
  example?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
}
interface Operation {
  method: string;
  path: string;
  parameters: Parameter[];
  body?: { types: string[]; schema: Schema };
}

const spec = JSON.parse(
  readFileSync(
    resolve(import.meta.dirname, '../../openapi/openapi.json'),
    'utf8',
  ),
) as {
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Schema> };
};

const METHOD_ORDER = ['get', 'post', 'patch', 'delete'];
/** Every operation; deletes last so the seeded ids stay valid for the others as long as possible. */
const operations: Operation[] = Object.entries(spec.paths)
  .flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => {
      const content = (op.requestBody?.content ?? {}) as Record<
        string,
        { schema: Schema }
      >;
      const types = Object.keys(content);
      return {
        method,
        path,
        parameters: (op.parameters ?? []) as Parameter[],
        body: types.length
          ? { types, schema: content[types[0]].schema }
          : undefined,
      };
    }),
  )
  .sort(
    (a, b) =>
      METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method) ||
      a.path.localeCompare(b.path),
  );

const deref = (s: Schema): Schema => {
  let schema = s;
  for (;;) {
    if (schema.$ref)
      schema = spec.components.schemas[schema.$ref.split('/').pop() ?? ''];
    else if (schema.allOf?.length)
      schema = { ...schema.allOf[0], ...schema, allOf: undefined };
    else return schema;
  }
};

/** What the seeded tenant holds, so generated requests can hit real objects. */
interface Seed {
  byResource: Record<string, string>;
  uuids: string[];
  email: string;
}

// ---------------------------------------------------------------- generators

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const weighted = <T>(...pairs: [number, fc.Arbitrary<T>][]): fc.Arbitrary<T> =>
  fc.oneof(...pairs.map(([weight, arbitrary]) => ({ weight, arbitrary })));

const junkString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '..',
    '%',
    '%00',
    '../etc',
    'null',
    '\\',
    '"',
    '{',
    'ñ',
    '😀',
    '0',
  ),
);
const asciiValue = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 60,
});

/** A value from a JSON schema: mostly plausible (examples, enums, seeded ids), sometimes odd. */
function fromSchema(
  schema: Schema,
  seed: Seed,
  depth = 0,
): fc.Arbitrary<unknown> {
  const s = deref(schema);
  const alternatives: [number, fc.Arbitrary<unknown>][] = [];
  if (s.example !== undefined) alternatives.push([2, fc.constant(s.example)]);
  if (s.enum) return fc.constantFrom(...s.enum);
  switch (s.type) {
    case 'string':
      if (
        s.format === 'uuid' ||
        (typeof s.example === 'string' && UUID.test(s.example))
      )
        alternatives.push([4, fc.constantFrom(...seed.uuids)], [1, fc.uuid()]);
      alternatives.push([
        2,
        fc.string({ minLength: 1, maxLength: Math.min(s.maxLength ?? 30, 30) }),
      ]);
      break;
    case 'integer':
      alternatives.push([
        3,
        fc.integer({ min: s.minimum ?? -5, max: s.maximum ?? 5000 }),
      ]);
      break;
    case 'number':
      alternatives.push([3, fc.double({ noNaN: true })]);
      break;
    case 'boolean':
      alternatives.push([3, fc.boolean()]);
      break;
    case 'array': {
      const item = s.items
        ? fromSchema(s.items, seed, depth + 1)
        : fc.jsonValue({ maxDepth: 2 });
      alternatives.push([
        4,
        fc.array(item, {
          minLength: s.minItems ?? 0,
          maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 3, 3)),
        }),
      ]);
      break;
    }
    default: {
      const props = s.properties ?? {};
      if (Object.keys(props).length === 0 || depth > 6) {
        alternatives.push([
          2,
          fc.dictionary(
            fc.string({ maxLength: 10 }),
            fc.jsonValue({ maxDepth: 2 }),
            { maxKeys: 4 },
          ),
        ]);
        break;
      }
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props))
        model[k] = fromSchema(v, seed, depth + 1);
      alternatives.push([
        4,
        fc.record(model, { requiredKeys: s.required ?? [] }),
      ]);
    }
  }
  return weighted(...alternatives);
}

/** Every JSON path of a value, for targeted mutations. */
function pathsOf(
  value: unknown,
  at: (string | number)[] = [],
): (string | number)[][] {
  const out = [at];
  if (Array.isArray(value))
    value.forEach((v, i) => out.push(...pathsOf(v, [...at, i])));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value))
      out.push(...pathsOf(v, [...at, k]));
  return out;
}

type Mutation =
  'none' | 'wrongType' | 'drop' | 'extra' | 'huge' | 'deep' | 'wide' | 'null';

const DEEP = '\u0000deep:';
const DEEP_PLACEHOLDER = /"\\u0000deep:(\d+):(\d)"/g;

/**
 * Nested arrays and objects, from under the body depth limit to far past it
 * (thousands of levels overflowed recursive validation code once). Kept as a
 * placeholder string until the body is serialized (`toBody`): a value that
 * deep would overflow this process's own JSON.stringify inside fast-check.
 */
function deepValue(pick: number): unknown {
  const depth = [30, 63, 64, 800, 5000][pick % 5] as number;
  return `${DEEP}${depth}:${pick % 2}`;
}

function deepText(depth: number, parity: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    const array = (i + parity) % 2 === 0;
    open += array ? '[' : '{"k":';
    close = (array ? ']' : '}') + close;
  }
  return `${open}1${close}`;
}

/** A generated value as a request body, with deep placeholders expanded. */
function toBody(value: unknown): string {
  return JSON.stringify(value).replace(DEEP_PLACEHOLDER, (_, d, p) =>
    deepText(Number(d), Number(p)),
  );
}

/** Very many members, just under or over the 1 MB body limit. */
function wideValue(pick: number): unknown {
  const n = pick % 2 === 0 ? 60_000 : 300_000;
  return pick % 4 < 2
    ? Array.from({ length: n }, (_, i) => i % 7)
    : Object.fromEntries(
        Array.from({ length: n / 10 }, (_, i) => [`k${i}`, i]),
      );
}

function mutate(
  value: unknown,
  mutation: Mutation,
  pick: number,
  junk: unknown,
): unknown {
  if (mutation === 'none') return value;
  const copy = structuredClone(value);
  const paths = pathsOf(copy);
  const path = paths[pick % paths.length];
  // Built only for the mutation drawn: the large ones are costly.
  const replacement = {
    wrongType: () => junk,
    null: () => null,
    huge: () => 'x'.repeat(pick % 3 === 0 ? 1_100_000 : 70_000),
    deep: () => deepValue(pick),
    wide: () => wideValue(pick),
    drop: () => undefined,
    extra: () => undefined,
  }[mutation]();
  if (path.length === 0) {
    if (mutation === 'drop') return undefined;
    if (mutation === 'extra')
      return copy && typeof copy === 'object' && !Array.isArray(copy)
        ? { ...copy, unexpectedField: junk }
        : copy;
    return replacement;
  }
  const parent = path.slice(0, -1).reduce<any>((o, k) => o[k], copy);
  const key = path[path.length - 1];
  if (mutation === 'drop') {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  } else if (mutation === 'extra') {
    const target = parent[key];
    if (target && typeof target === 'object' && !Array.isArray(target))
      target[`x${pick % 97}`] = junk;
    else parent[`x${pick % 97}`] = junk;
  } else parent[key] = replacement;
  return copy;
}

const mutationArb = weighted<Mutation>(
  [10, fc.constant('none')],
  [3, fc.constant('wrongType')],
  [3, fc.constant('drop')],
  [2, fc.constant('extra')],
  [1, fc.constant('huge')],
  [1, fc.constant('deep')],
  [1, fc.constant('wide')],
  [1, fc.constant('null')],
);

/** JSON Patch documents aimed at each resource's real and read-only fields. */
function patchOps(resource: string, seed: Seed): fc.Arbitrary<unknown> {
  const paths: Record<string, string[]> = {
    connections: [
      '/name',
      '/description',
      '/auth/params',
      '/auth/params/sasKey',
      '/auth/params/namespace',
      '/auth/specName',
      '/connectionSpec',
      '/id',
      '/state',
    ],
    sourceConnections: [
      '/name',
      '/description',
      '/params',
      '/params/x',
      '/baseConnectionId',
      '/data',
    ],
    targetConnections: [
      '/name',
      '/params',
      '/params/eventHubName',
      '/params/includeSegmentNames',
      '/baseConnectionId',
      '/connectionSpec/id',
      '/data/format',
    ],
    flows: [
      '/name',
      '/description',
      '/transformations',
      '/transformations/0',
      '/transformations/0/name',
      '/transformations/0/params/segmentSelectors/selectors/-',
      '/transformations/0/params/segmentSelectors/selectors/0',
      '/transformations/0/params/profileSelectors/selectors/-',
      '/transformations/0/params/profileSelectors/selectors/5',
      '/transformations/0/params/profileSelectors/mandatoryFields',
      '/state',
      '/flowSpec',
      '/sourceConnectionIds',
      '/etag',
    ],
  };
  const pointer = weighted(
    [6, fc.constantFrom(...paths[resource])],
    [
      1,
      fc.constantFrom(
        '',
        '/',
        'name',
        '/-',
        '/a~1b',
        '/~2',
        '/__proto__/x',
        '/constructor/prototype',
      ),
    ],
    [1, junkString.map((s) => `/${s}`)],
  );
  const value = weighted<unknown>(
    [3, fc.string({ maxLength: 30 })],
    [2, fc.jsonValue({ maxDepth: 3 })],
    [
      2,
      fc.constantFrom<unknown>(
        { type: 'PLATFORM_SEGMENT', value: { id: seed.byResource.segment } },
        {
          type: 'JSON_PATH',
          value: { path: 'person.name.lastName', operator: 'EXISTS' },
        },
        { eventHubName: 'fuzz', includeSegmentNames: true },
        { sasKeyName: 'k', sasKey: 'v', namespace: '127.0.0.1:1' },
        [],
        {},
      ),
    ],
  );
  const op = fc.record(
    {
      op: weighted(
        [6, fc.constantFrom('add', 'replace', 'remove', 'ADD', 'Replace')],
        [1, fc.constantFrom('move', 'copy', 'test', '', 'delete')],
        [1, junkString],
      ),
      path: pointer,
      value,
      from: pointer,
    },
    { requiredKeys: ['op', 'path'] },
  );
  return fc.array(op, { minLength: 0, maxLength: 4 });
}

/** Plausible values for the spec's query parameters by name. */
function queryValue(name: string, seed: Seed): fc.Arbitrary<string> {
  const field = fc.constantFrom(
    'id',
    'name',
    'state',
    'createdAt',
    'connectionSpec.id',
    'flowId',
    'params.eventHubName',
    'transformations[].params.segmentSelectors.selectors[].value.id',
    'sourceConnectionIds[]',
    'bogus',
    'a..b',
    '',
  );
  const op = fc.constantFrom(
    '==',
    '!=',
    '>',
    '>=',
    '<',
    '<=',
    '~',
    '!>',
    '=',
    '',
  );
  const value = fc.oneof(
    fc.constantFrom(...seed.uuids, 'enabled', '1659907304000', '', 'a,b', ','),
    asciiValue,
  );
  const known: Record<string, fc.Arbitrary<string>> = {
    limit: fc.constantFrom(
      '1',
      '20',
      '100',
      '0',
      '101',
      '-1',
      'abc',
      '1.5',
      '99999999999999999999',
      '',
    ),
    start: fc.constantFrom('0', '1', '-1', 'x', '100000000000'),
    count: fc.constantFrom('true', 'false', 'TRUE', '1', 'yes', ''),
    orderby: fc
      .array(
        fc.tuple(
          fc.constantFrom('', '+', '-', '*'),
          fc.constantFrom(
            'name',
            'createdAt',
            'id',
            'updatedAt',
            'state',
            'bogus',
            '',
          ),
        ),
        { minLength: 1, maxLength: 3 },
      )
      .map((parts) => parts.map(([sign, f]) => sign + f).join(',')),
    property: fc.tuple(field, op, value).map(([f, o, v]) => f + o + v),
    continuationToken: fc.oneof(fc.base64String({ maxLength: 40 }), asciiValue),
    sort: fc.constantFrom(
      'name:asc',
      'updateTime:desc',
      'creationTime:desc',
      'name',
      'bogus:asc',
      ':',
    ),
    op: fc.constantFrom(
      'enable',
      'disable',
      'ENABLE',
      'Disable',
      'publish',
      'move',
      '',
    ),
    subOp: fc.constantFrom('APPLY', 'ROLLBACK', 'PROGRESS', 'apply', 'x'),
    'schema.name': fc.constantFrom(
      '_xdm.context.profile',
      '_xdm.context.experienceevent',
      '',
      'x',
    ),
    entityId: fc.constantFrom(
      seed.email,
      'nobody@example.com',
      '',
      'x'.repeat(3000),
    ),
    entityIdNS: fc.constantFrom('email', 'ecid', '', 'Email', '%%'),
    fields: fc.constantFrom('person.name', 'identityMap,person', '', '..'),
    mergePolicyId: fc.oneof(fc.uuid(), asciiValue),
    'if-match': fc.constantFrom('"x"', 'x', ''),
  };
  return weighted([5, known[name] ?? asciiValue], [1, asciiValue]);
}

interface FuzzRequest {
  method: string;
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  body?: string;
  /** PATCH: which etag to send. */
  etag?: 'current' | 'currentQuery' | 'unquoted' | 'stale' | 'missing';
}

function requestArb(
  op: Operation,
  seed: Seed,
  tenant: TestTenant,
  other: TestTenant,
): fc.Arbitrary<FuzzRequest> {
  const resource =
    /flowservice\/(\w+)/.exec(op.path)?.[1] ??
    (op.path.includes('/segment/jobs')
      ? 'job'
      : op.path.includes('/segment/')
        ? 'segment'
        : '');
  const pathParam = weighted(
    [6, fc.constant(seed.byResource[resource] ?? randomUUID())],
    [2, fc.uuid()],
    [1, fc.constantFrom(...seed.uuids)],
    [2, junkString.map((s) => encodeURIComponent(s) || 'x')],
  );
  const path = op.path.includes('{id}')
    ? pathParam.map((id) => op.path.replace('{id}', id))
    : fc.constant(op.path);

  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const query = fc
    .tuple(
      fc.tuple(
        ...queryParams.map((p) =>
          fc.option(
            fc.array(queryValue(p.name, seed), { minLength: 1, maxLength: 2 }),
            { freq: p.required ? 8 : 2 },
          ),
        ),
      ),
      fc.array(
        fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), asciiValue),
        { maxLength: 2 },
      ),
      fc.boolean(),
    )
    .map(([known, unknown, addUnknown]) => [
      ...queryParams.flatMap((p, i) =>
        (known[i] ?? []).map((v): [string, string] => [p.name, v]),
      ),
      ...(addUnknown ? unknown : []),
    ]);

  const valid = tenant.headers;
  const headerVariant = <T extends string>(
    name: T,
    good: string,
    bad: string[],
  ) =>
    weighted<[T, string | undefined]>(
      [30, fc.constant([name, good])],
      [1, fc.constant([name, undefined])],
      [1, fc.constantFrom(...bad).map((v): [T, string] => [name, v])],
      [1, asciiValue.map((v): [T, string] => [name, v])],
    );
  const headers = fc
    .tuple(
      headerVariant('authorization', valid.authorization, [
        `Bearer ${other.token}`,
        'Bearer x.y.z',
        'Basic Zm9vOmJhcg==',
        'Bearer',
        `${valid.authorization}x`,
      ]),
      headerVariant('x-api-key', valid['x-api-key'], [other.clientId, '']),
      headerVariant('x-gw-ims-org-id', valid['x-gw-ims-org-id'], [
        other.orgId,
        'NOTANORG',
        '',
      ]),
      headerVariant('x-sandbox-name', 'prod', [
        'PROD',
        'dev',
        'no-such-sandbox',
        '',
      ]),
      fc.option(fc.constantFrom('req-1', 'x'.repeat(300)), { freq: 4 }),
      fc.option(
        fc.constantFrom(
          'application/json',
          '*/*',
          'text/html',
          'application/json; version=1',
        ),
        { freq: 2 },
      ),
    )
    .map(([a, k, o, s, requestId, accept]) => {
      const h: Record<string, string> = {};
      for (const [name, v] of [a, k, o, s]) if (v !== undefined) h[name] = v;
      if (requestId) h['x-request-id'] = requestId;
      if (accept) h.accept = accept;
      return h;
    });

  const contentType = weighted<string | undefined>(
    [10, fc.constant('application/json')],
    [
      1,
      fc.constantFrom(
        'application/json; charset=utf-8',
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/x-ndjson',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/json; charset=latin1',
        'application/json; charset=utf-16',
        'APPLICATION/JSON',
      ),
    ],
    [1, fc.constant(undefined)],
  );
  const schemaBody = op.body
    ? op.method === 'patch' && resource !== 'segment'
      ? patchOps(resource, seed)
      : fromSchema(op.body.schema, seed)
    : fc.constant(undefined);
  const mutated = fc
    .tuple(schemaBody, mutationArb, fc.nat(), fc.jsonValue({ maxDepth: 3 }))
    .map(([v, m, pick, junk]) => mutate(v, m, pick, junk));
  const bodyKind = op.body
    ? weighted<[string | undefined, string | undefined]>(
        [
          12,
          fc.tuple(
            mutated.map((v) => (v === undefined ? undefined : toBody(v))),
            contentType,
          ),
        ],
        [2, fc.tuple(fc.json({ maxDepth: 3 }), contentType)],
        [1, fc.tuple(fc.string({ maxLength: 200 }), contentType)],
        [1, fc.tuple(fc.constant(undefined), contentType)],
        ...(op.body.types.includes('application/x-ndjson')
          ? [
              [
                2,
                fc.tuple(
                  fc
                    .array(
                      fc.oneof(
                        mutated.map((v) => JSON.stringify(v) ?? ''),
                        fc.string({ maxLength: 30 }),
                      ),
                      { maxLength: 5 },
                    )
                    .map((lines) => lines.join('\n')),
                  fc.constant('application/x-ndjson'),
                ),
              ] as [
                number,
                fc.Arbitrary<[string | undefined, string | undefined]>,
              ],
            ]
          : []),
        ...(op.body.types.includes('application/x-www-form-urlencoded')
          ? [
              [
                3,
                fc.tuple(
                  fc
                    .record(
                      {
                        grant_type: fc.constantFrom(
                          'client_credentials',
                          'password',
                          '',
                        ),
                        client_id: fc.constantFrom(
                          tenant.clientId,
                          'nobody',
                          '',
                        ),
                        client_secret: fc.constantFrom(
                          tenant.clientSecret,
                          'wrong',
                          '',
                        ),
                      },
                      { requiredKeys: [] },
                    )
                    .map((f) => new URLSearchParams(f).toString()),
                  fc.constant('application/x-www-form-urlencoded'),
                ),
              ] as [
                number,
                fc.Arbitrary<[string | undefined, string | undefined]>,
              ],
            ]
          : []),
      )
    : weighted<[string | undefined, string | undefined]>(
        [8, fc.constant([undefined, undefined])],
        [
          op.method === 'get' ? 0 : 1,
          fc.tuple(fc.json({ maxDepth: 2 }), contentType),
        ],
      );
  const etag =
    op.method === 'patch' && resource !== 'segment'
      ? weighted<FuzzRequest['etag']>(
          [6, fc.constant('current')],
          [1, fc.constant('currentQuery')],
          [1, fc.constantFrom('unquoted', 'stale', 'missing')],
        )
      : fc.constant(undefined);

  return fc
    .record({ path, query, headers, bodyKind, etag })
    .map(({ path, query, headers, bodyKind: [body, type], etag }) => ({
      method: op.method.toUpperCase(),
      path,
      query,
      headers: { ...headers, ...(type ? { 'content-type': type } : {}) },
      body,
      etag,
    }));
}

// ---------------------------------------------------------------- checks

const CODE = /^\d{4}-\d{3}$/;
const isString = (v: unknown): v is string => typeof v === 'string';

/** Why an error body has none of the contract's shapes, or undefined when it has one. */
function shapeProblem(
  status: number,
  path: string,
  body: unknown,
): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return 'the error body is not a JSON object';
  const b = body as Json;
  if ('code' in b) {
    if (!isString(b.code) || !CODE.test(b.code))
      return `code ${JSON.stringify(b.code)} is not NNNN-HTTP`;
    if (Number(b.code.slice(5)) !== status)
      return `code ${b.code} does not match status ${status}`;
    for (const k of ['message', 'errorMessage', 'errorDetails', 'requestId'])
      if (!isString(b[k])) return `flow-service error without a string ${k}`;
    return undefined;
  }
  if ('error_code' in b)
    return (isString(b.error_code) || typeof b.error_code === 'number') &&
      isString(b.message)
      ? undefined
      : 'bad gateway error';
  if ('title' in b)
    return isString(b.type) &&
      b.status === status &&
      isString(b.title) &&
      isString(b.detail)
      ? undefined
      : 'bad content-type error';
  if ('error' in b && path === '/ims/token/v3')
    return isString(b.error) && isString(b.error_description)
      ? undefined
      : 'bad OAuth error';
  return 'unknown error shape';
}

describe('OpenAPI-driven fuzzing', () => {
  let t: TestApp;
  let tenant: TestTenant;
  let other: TestTenant;
  let base: string;
  let db: pg.Client;
  let tables: string[];
  const seed: Seed = { byResource: {}, uuids: [], email: 'fuzz@example.com' };
  const stats = {
    requests: 0,
    byStatus: new Map<number, number>(),
    snapshots: 0,
  };

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    tenant = await createTenant(t);
    other = await createTenant(t);
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    tables = (
      await db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.columns
          WHERE table_schema = 'public' AND column_name = 'org_id' ORDER BY 1`,
      )
    ).rows.map((r) => r.table_name);

    // One of each resource, so GET/PATCH/DELETE paths have valid ids.
    const segmentId = (
      await createSegment(t, tenant, 'Fuzz gold', 'loyalty.tier = "gold"')
    ).id;
    await ingest(t, tenant, [
      {
        identityMap: { email: [{ id: seed.email }] },
        person: { name: { firstName: 'Fuzz' } },
        loyalty: { tier: 'gold' },
      },
    ]);
    const created = await createEventHubsFlow(t, tenant, {
      // A closed port: the connection test fails fast.
      namespace: '127.0.0.1:1',
      sasKeyName: 'RootManageSharedAccessKey',
      sasKey: 'fuzz-key',
      eventHubName: 'fuzz',
      segmentIds: [segmentId],
      attributes: ['personalEmail.address'],
    });
    const segment = (
      await t.http
        .get(`/data/core/ups/segment/definitions/${segmentId}`)
        .set(tenant.headers)
        .expect(200)
    ).body as Json;
    seed.byResource = {
      connections: created.baseConnectionId,
      sourceConnections: created.sourceConnectionId,
      targetConnections: created.targetConnectionId,
      flows: created.flowId,
      runs: randomUUID(),
      connectionSpecs: EVENT_HUBS_SPEC_ID,
      flowSpecs: PROFILE_FLOW_SPEC_ID,
      segment: segmentId,
      job: (segment.evaluationJob?.id as string | undefined) ?? randomUUID(),
    };
    seed.uuids = [...Object.values(seed.byResource), PROFILE_STORE_SPEC_ID];
    expect(tables).toEqual(
      expect.arrayContaining([
        'connections',
        'flows',
        'segment_definitions',
        'profiles',
      ]),
    );
  });

  afterAll(async () => {
    await db?.end();
    await t?.close();
    const codes = [...stats.byStatus.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}×${n}`);
    process.stderr.write(
      `fuzz: ${stats.requests} requests (${codes.join(' ')}), ${stats.snapshots} rejected writes compared; FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}\n`,
    );
  });

  /** Row count and checksum of every table holding the tenant's rows. */
  async function snapshot(): Promise<Record<string, string>> {
    const sql = tables
      .map(
        (name) =>
          `SELECT '${name}' AS t, count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS h FROM "${name}" x WHERE org_id = $1`,
      )
      .join(' UNION ALL ');
    const rows = (await db.query<{ t: string; h: string }>(sql, [tenant.orgId]))
      .rows;
    return Object.fromEntries(rows.map((r) => [r.t, r.h]));
  }

  async function currentEtag(path: string): Promise<string | undefined> {
    const res = await fetch(base + path, { headers: tenant.headers });
    if (res.status !== 200) return undefined;
    return ((await res.json()) as Json).items?.[0]?.etag as string | undefined;
  }

  // Found by this file: a repeated query parameter reached string code as an array (500).
  it('answers 400 to a repeated single-value query parameter', async () => {
    const flow = `/data/foundation/flowservice/flows/${seed.byResource.flows}`;
    const before = await snapshot();
    for (const [method, url] of [
      ['POST', `${flow}/action?op=enable&op=disable`],
      ['POST', `${flow}/action?op=disable&subOp=APPLY&subOp=APPLY`],
      ['PATCH', `${flow}?if-match=%22a%22&if-match=%22b%22`],
    ] as const) {
      const res = await fetch(base + url, {
        method,
        headers: { ...tenant.headers, 'content-type': 'application/json' },
        body: method === 'PATCH' ? '[]' : undefined,
      });
      expect(res.status, url).toBe(400);
      const body = (await res.json()) as Json;
      expect(shapeProblem(400, url, body)).toBeUndefined();
      expect(body.message).toMatch(/must be given once/);
    }
    expect(await snapshot()).toEqual(before);
  });

  it.each(
    operations.map(
      (op, i) => [`${op.method.toUpperCase()} ${op.path}`, op, i] as const,
    ),
  )('%s', async (_name, op, index) => {
    await fc.assert(
      fc.asyncProperty(requestArb(op, seed, tenant, other), async (req) => {
        const headers = { ...req.headers };
        const query = [...req.query];
        if (req.etag) {
          const etag = await currentEtag(req.path);
          const value = {
            current: etag,
            currentQuery: undefined,
            unquoted: etag?.replaceAll('"', ''),
            stale: `"${randomUUID()}"`,
            missing: undefined,
          }[req.etag];
          if (value !== undefined) headers['if-match'] = value;
          if (req.etag === 'currentQuery' && etag)
            query.push(['if-match', etag]);
        }
        const qs = new URLSearchParams(query).toString();
        const url = `${req.path}${qs ? `?${qs}` : ''}`;
        const writes = req.method !== 'GET';
        const before = writes ? await snapshot() : undefined;
        const res = await fetch(base + url, {
          method: req.method,
          headers,
          body: req.body === undefined ? undefined : Buffer.from(req.body),
        });
        const text = await res.text();
        stats.requests++;
        stats.byStatus.set(
          res.status,
          (stats.byStatus.get(res.status) ?? 0) + 1,
        );
        const describeRequest = (): string =>
          `${req.method} ${url.slice(0, 400)}\nheaders: ${JSON.stringify({ ...headers, authorization: headers.authorization?.slice(0, 20) })}\nbody: ${req.body?.slice(0, 400)}\n→ ${res.status} ${text.slice(0, 600)}`;
        if (res.status >= 500) throw new Error(`5xx\n${describeRequest()}`);
        if (res.status >= 400) {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            throw new Error(`error body is not JSON\n${describeRequest()}`);
          }
          const problem = shapeProblem(res.status, req.path, body);
          if (problem) throw new Error(`${problem}\n${describeRequest()}`);
          if (before) {
            stats.snapshots++;
            const after = await snapshot();
            const changed = Object.keys(after).filter(
              (k) => after[k] !== before[k],
            );
            if (changed.length)
              throw new Error(
                `a rejected request changed ${changed.join(', ')}\n${describeRequest()}`,
              );
          }
        }
      }),
      { numRuns: RUNS, seed: SEED + index, endOnFailure: true },
    );
  });
});
