import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  afterAll,
  afterEach,
  beforeAll,
  describe,
  expect,
  inject,
  it,
  vi,
} from 'vitest';
import { CliContext } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/program.js';
import { loadEnv } from '../../src/config/env.js';
import { DEFAULT_EMULATOR_KEY } from '../../src/emulator/defaults.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';

const EXAMPLE = resolve(import.meta.dirname, '../../examples/provision.json');
const FS = '/data/foundation/flowservice';
type Json = Record<string, any>;

/** `npm run cli -- apply …` run in-process through the real HTTP API. */
describe('examples/provision.json with `apply`', () => {
  let t: TestApp;
  let tenant: TestTenant;
  let baseUrl: string;
  let dir: string;
  /** Method and path of every request `apply` sends. */
  let sent: string[];

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    baseUrl = `http://127.0.0.1:${port}`;
    tenant = await createTenant(t);
    dir = mkdtempSync(join(tmpdir(), 'provision-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });
  afterEach(() => vi.restoreAllMocks());

  async function apply(
    file: string,
    ...extra: string[]
  ): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const ctx = new CliContext(
      loadEnv({ DATABASE_URL: inject('databaseUrl'), LOG_LEVEL: 'silent' }),
      { out: (s) => out.push(s), err: (s) => err.push(s) },
    );
    sent = [];
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      const url = new URL(String(input as string));
      sent.push(`${init?.method ?? 'GET'} ${url.pathname}`);
      return realFetch(input, init);
    });
    try {
      const code = await runCli(
        [
          'apply',
          file,
          '--base-url',
          baseUrl,
          '--client-id',
          tenant.clientId,
          '--client-secret',
          tenant.clientSecret,
          '--org',
          tenant.orgId,
          '--sandbox',
          'prod',
          ...extra,
        ],
        ctx,
      );
      return { code, out: out.join('\n'), err: err.join('\n') };
    } finally {
      vi.restoreAllMocks();
      await ctx.close();
    }
  }

  async function get(path: string): Promise<Json> {
    const res = await t.http.get(path).set(tenant.headers).expect(200);
    return res.body as Json;
  }

  /** The etag (or update time) of every object of the tenant, by kind and name. */
  async function versions(): Promise<Record<string, string>> {
    const all: Record<string, string> = {};
    for (const kind of [
      'connections',
      'sourceConnections',
      'targetConnections',
      'flows',
    ]) {
      for (const item of (await get(`${FS}/${kind}?limit=100`)).items as Json[])
        all[`${kind}/${item.name}`] = item.etag as string;
    }
    for (const s of (await get('/data/core/ups/segment/definitions?limit=100'))
      .segments as Json[])
      all[`segments/${s.name}`] = String(s.updateTime);
    return all;
  }

  const writes = (): string[] =>
    sent.filter((r) => !r.startsWith('GET ') && r !== 'POST /ims/token/v3');

  function edited(change: (file: Json) => void): string {
    const file = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Json;
    change(file);
    const path = join(dir, `provision-${Math.random().toString(36)}.json`);
    writeFileSync(path, JSON.stringify(file));
    return path;
  }

  it('creates everything, then changes nothing, then updates exactly the flow', async () => {
    const first = await apply(EXAMPLE);
    expect(first.code, first.err).toBe(0);
    const lines = first.out.split('\n');
    expect(lines).toHaveLength(7);
    for (const kind of [
      'connection',
      'targetConnection',
      'sourceConnection',
      'segment',
      'flow',
    ])
      expect(first.out).toMatch(new RegExp(`^created +${kind} `, 'm'));
    expect(lines[6]).toBe('Applied: 6 created, 0 updated, 0 unchanged.');
    expect(first.out).not.toContain(DEFAULT_EMULATOR_KEY);
    expect(writes()).toEqual([
      `POST ${FS}/connections`,
      `POST ${FS}/targetConnections`,
      `POST ${FS}/sourceConnections`,
      'POST /data/core/ups/segment/definitions',
      'POST /data/core/ups/segment/definitions',
      `POST ${FS}/flows`,
    ]);

    // What the API now holds.
    const segments = (await get('/data/core/ups/segment/definitions?limit=100'))
      .segments as Json[];
    const segmentId = (name: string): string =>
      segments.find((s) => s.name === name)?.id as string;
    expect(
      segments.find((s) => s.name === 'Gold members')?.expression.value,
    ).toBe('loyalty.tier = "gold"');
    const [connection] = (await get(`${FS}/connections?limit=100`))
      .items as Json[];
    expect(connection.name).toBe('Event Hubs (local emulator)');
    expect(connection.auth.params).toEqual({
      namespace: '127.0.0.1:5673',
      sasKeyName: 'RootManageSharedAccessKey',
      sasKey: '********',
    });
    const [target] = (await get(`${FS}/targetConnections`)).items as Json[];
    expect(target.baseConnectionId).toBe(connection.id);
    expect(target.params).toEqual({
      eventHubName: 'profiles',
      includeSegmentNames: true,
      includeSegmentTimestamps: false,
    });
    const [flow] = (await get(`${FS}/flows`)).items as Json[];
    expect(flow.name).toBe('Gold and US customers to Event Hubs');
    expect(flow.targetConnectionIds).toEqual([target.id]);
    const params = flow.transformations[0].params as Json;
    expect(
      (params.segmentSelectors.selectors as Json[]).map((s) => s.value.id),
    ).toEqual([segmentId('Gold members'), segmentId('Customers in the US')]);
    expect(
      (params.profileSelectors.selectors as Json[]).map((s) => s.value.path),
    ).toEqual(['personalEmail.address', 'person.name.firstName']);

    // Second run: nothing to do, nothing sent but reads.
    const before = await versions();
    expect(Object.keys(before)).toHaveLength(6);
    const second = await apply(EXAMPLE);
    expect(second.code, second.err).toBe(0);
    expect(
      second.out
        .split('\n')
        .slice(0, 6)
        .map((l) => l.split(' ')[0]),
    ).toEqual(Array(6).fill('unchanged'));
    expect(second.out).toContain('No changes: all 6 objects are up to date.');
    expect(writes()).toEqual([]);
    expect(await versions()).toEqual(before);

    // One more attribute: exactly the flow is patched.
    const withAttribute = edited((f) =>
      (f.flow.attributes as string[]).push('person.name.lastName'),
    );
    const third = await apply(withAttribute);
    expect(third.code, third.err).toBe(0);
    expect(third.out).toMatch(
      /^updated +flow +"Gold and US customers to Event Hubs" +\S+ +\(attributes \(\+person\.name\.lastName\)\)$/m,
    );
    expect(third.out).toContain('Applied: 0 created, 1 updated, 5 unchanged.');
    expect(writes()).toEqual([`PATCH ${FS}/flows/${flow.id}`]);
    const after = await versions();
    for (const [key, etag] of Object.entries(before)) {
      if (key.startsWith('flows/')) expect(after[key]).not.toBe(etag);
      else expect(after[key], key).toBe(etag);
    }
    const patched = (await get(`${FS}/flows/${flow.id}`)).items[0] as Json;
    expect(
      (
        patched.transformations[0].params.profileSelectors.selectors as Json[]
      ).map((s) => s.value.path),
    ).toEqual([
      'personalEmail.address',
      'person.name.firstName',
      'person.name.lastName',
    ]);
    expect(
      patched.transformations[0].params.segmentSelectors.selectors,
    ).toHaveLength(2);

    // A segment dropped from the flow and a changed PQL: a dry run only reports.
    const changed = edited((f) => {
      (f.flow.attributes as string[]).push('person.name.lastName');
      f.flow.segments = ['Gold members'];
      f.segments[0].pql = 'loyalty.tier = "platinum"';
      f.targetConnection.includeSegmentTimestamps = true;
    });
    const stable = await versions();
    const plan = await apply(changed, '--dry-run');
    expect(plan.code, plan.err).toBe(0);
    expect(plan.out).toMatch(/^update +segment +"Gold members" .*\(pql\)$/m);
    expect(plan.out).toMatch(
      /^update +targetConnection .*\(params\.includeSegmentTimestamps\)$/m,
    );
    expect(plan.out).toMatch(
      /^update +flow .*\(segments \(-[0-9a-f-]{36}\)\)$/m,
    );
    expect(plan.out).toContain(
      'Plan: 0 to create, 3 to update, 3 unchanged (dry run: nothing was changed).',
    );
    expect(writes()).toEqual([]);
    expect(await versions()).toEqual(stable);

    // --rotate-key sends the key again even though nothing visible changed.
    const rotated = await apply(withAttribute, '--rotate-key');
    expect(rotated.code, rotated.err).toBe(0);
    expect(rotated.out).toMatch(
      /^updated +connection .*\(auth\.params \(sasKey\)\)$/m,
    );
    expect(rotated.out).not.toContain(DEFAULT_EMULATOR_KEY);
    expect(writes()).toEqual([`PATCH ${FS}/connections/${connection.id}`]);
  });

  it('rejects an invalid file, listing every problem, before any request', async () => {
    const bad = edited((f) => {
      delete f.connection.sasKey;
      f.flow.attributes = 'person';
      f.extra = 1;
    });
    const res = await apply(bad);
    expect(res.code).toBe(1);
    expect(res.err).toContain('$.connection.sasKey must be a non-empty string');
    expect(res.err).toContain(
      '$.flow.attributes must be an array of non-empty strings',
    );
    expect(res.err).toContain('$.extra is not a known field');
    expect(sent).toEqual([]);
  });

  it('reports API errors with their code and never the key', async () => {
    const res = await apply(
      edited((f) => {
        f.flow.name = 'Unknown segment flow';
        f.flow.segments = ['No such segment'];
      }),
      '--client-secret',
      'wrong-secret',
    );
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/^error: POST \/ims\/token\/v3 → 401/);
    expect(res.err).not.toContain(DEFAULT_EMULATOR_KEY);
  });
});
