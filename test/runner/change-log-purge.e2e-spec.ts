import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProfileStore } from '../../src/profile-store/profile-store.js';
import { ProfileIngestService } from '../../src/profiles/profile-ingest.service.js';
import { RunnerRepository } from '../../src/runner/runner.repository.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { email, tenantRef, waitVisible } from '../helpers/profiles.js';

describe('change-log purge', () => {
  let t: TestApp;
  let ds: DataSource;
  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
  });
  afterAll(async () => t.close());

  async function changes(tenant: TestTenant, n: number) {
    const ingest = t.app.get(ProfileIngestService);
    for (let i = 0; i < n; i++)
      await ingest.ingestRecords(tenantRef(tenant), [
        { index: 0, value: { identityMap: email(`${randomUUID()}@x.io`) } },
      ]);
    await waitVisible(t, tenant);
    return t.app.get(ProfileStore).readChanges(tenantRef(tenant), null, 100);
  }

  async function cursorAt(
    tenant: TestTenant,
    position: { txId: string; id: string },
    deleted = false,
  ): Promise<void> {
    await ds.query(
      `INSERT INTO flow_cursors (flow_id, org_id, sandbox_name, last_tx_id, last_change_id, mapping, next_attempt_at, deleted_at)
       VALUES ($1, $2, $3, $4, $5, '{}'::jsonb, now(), CASE WHEN $6 THEN now() END)`,
      [
        randomUUID(),
        tenant.orgId,
        tenant.sandbox,
        position.txId,
        position.id,
        deleted,
      ],
    );
  }

  const ids = async (tenant: TestTenant): Promise<string[]> =>
    (
      (await ds.query(
        `SELECT id::text AS id FROM profile_changes
          WHERE org_id = $1 AND sandbox_name = $2 ORDER BY tx_id, id`,
        [tenant.orgId, tenant.sandbox],
      )) as { id: string }[]
    ).map((r) => r.id);

  it('deletes only rows every flow of the tenant has passed, and only after the retention period', async () => {
    const a = await createTenant(t);
    const b = await createTenant(t);
    const c = await createTenant(t);
    const [a1, a2, a3] = await changes(a, 3);
    await changes(b, 2);
    await changes(c, 1);
    // Two flows of tenant a: the slower one has exported a1 and a2.
    await cursorAt(a, a2!);
    await cursorAt(a, a3!);
    // A deleted flow of tenant a (its cursor kept as a record) holds nothing back.
    await cursorAt(a, { txId: '0', id: '0' }, true);
    // Tenant c's only flow has exported nothing yet.
    await cursorAt(c, { txId: '0', id: '0' });
    const repo = t.app.get(RunnerRepository);
    try {
      // Within the retention period nothing goes.
      await repo.purgeConsumedChanges(1);
      expect(await ids(a)).toEqual([a1!.id, a2!.id, a3!.id]);
      expect(await ids(b)).toHaveLength(2);

      await repo.purgeConsumedChanges(0);
      expect(await ids(a)).toEqual([a3!.id]);
      // A tenant without flows needs none of its rows.
      expect(await ids(b)).toEqual([]);
      expect(await ids(c)).toHaveLength(1);
      // The slower flow still reads what it has not exported.
      const rest = await t.app
        .get(ProfileStore)
        .readChanges(tenantRef(a), a2!, 100);
      expect(rest.map((r) => r.id)).toEqual([a3!.id]);
    } finally {
      await ds.query(
        `DELETE FROM flow_cursors WHERE org_id = ANY($1::text[])`,
        [[a.orgId, c.orgId]],
      );
    }
  });
});
