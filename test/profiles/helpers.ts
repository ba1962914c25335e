import { expect } from 'vitest';
import type { TestApp, TestTenant } from '../helpers/app.js';
import {
  ChangeLogReader,
  type ProfileChange,
} from '../../src/profiles/change-log.reader.js';

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

/** Every committed change of the tenant, in reader order. */
export async function allChanges(
  t: TestApp,
  tenant: TestTenant,
): Promise<ProfileChange[]> {
  const reader = t.app.get(ChangeLogReader);
  const out: ProfileChange[] = [];
  let after: { txId: string; id: string } | null = null;
  for (;;) {
    const page = await reader.read(
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
