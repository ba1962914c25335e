import { DataSource } from 'typeorm';
import { expect } from 'vitest';
import type { TestApp, TestTenant } from './app.js';
import { eventually } from './wait.js';
import type { ProfileChange } from '../../src/profile-store/change-log.js';
import { ProfileStore } from '../../src/profile-store/profile-store.js';

export interface IngestBody {
  results: {
    index: number;
    line?: number;
    status: 'ok' | 'error';
    profileId?: string;
    created?: boolean;
    mergedProfileIds?: string[];
    reason?: string;
  }[];
  accepted: number;
  rejected: number;
}

export async function ingest(
  t: TestApp,
  tenant: TestTenant,
  profiles: unknown[],
  expected = 200,
): Promise<IngestBody> {
  const res = await t.http
    .post('/data/core/ups/ingest/profiles')
    .set(tenant.headers)
    .send({ profiles });
  expect(res.status, JSON.stringify(res.body)).toBe(expected);
  return res.body as IngestBody;
}

export function email(id: string): Record<string, unknown> {
  return { email: [{ id }] };
}

export async function lookup(
  t: TestApp,
  tenant: TestTenant,
  entityId: string,
  ns: string,
  expected = 200,
): Promise<
  Record<
    string,
    {
      entityId: string;
      entity: Record<string, unknown>;
      lastModifiedAt: string;
    }
  >
> {
  const res = await t.http
    .get('/data/core/ups/access/entities')
    .query({ 'schema.name': '_xdm.context.profile', entityId, entityIdNS: ns })
    .set(tenant.headers);
  expect(res.status, JSON.stringify(res.body)).toBe(expected);
  return res.body as Record<
    string,
    {
      entityId: string;
      entity: Record<string, unknown>;
      lastModifiedAt: string;
    }
  >;
}

/**
 * Waits until every committed change of the tenant is readable: the reader
 * holds rows back while any older transaction (of any test file sharing the
 * database) is still open.
 */
export async function waitVisible(
  t: TestApp,
  tenant: TestTenant,
): Promise<void> {
  const ds = t.app.get(DataSource);
  await eventually(
    async () => {
      const [row] = (await ds.query(
        `SELECT coalesce(max(tx_id) < pg_snapshot_xmin(pg_current_snapshot()), true) AS ok
           FROM profile_changes WHERE org_id = $1 AND sandbox_name = $2`,
        [tenant.orgId, tenant.sandbox],
      )) as { ok: boolean }[];
      return row?.ok;
    },
    'the changes to become visible',
    { timeoutMs: 10_000 },
  );
}

/** Every committed change of the tenant, in reader order. */
export async function allChanges(
  t: TestApp,
  tenant: TestTenant,
): Promise<ProfileChange[]> {
  await waitVisible(t, tenant);
  const reader = t.app.get(ProfileStore);
  const out: ProfileChange[] = [];
  let after: { txId: string; id: string } | null = null;
  for (;;) {
    const page = await reader.readChanges(
      { orgId: tenant.orgId, sandboxName: tenant.sandbox },
      after,
      100,
    );
    if (page.length === 0) return out;
    out.push(...page);
    const last = page[page.length - 1] as ProfileChange;
    after = { txId: last.txId, id: last.id };
  }
}

export function tenantRef(tenant: TestTenant): {
  orgId: string;
  sandboxName: string;
} {
  return { orgId: tenant.orgId, sandboxName: tenant.sandbox };
}
