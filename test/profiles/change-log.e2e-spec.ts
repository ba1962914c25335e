import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChanges } from '../../src/profile-store/change-log.js';
import { ProfileStore } from '../../src/profile-store/profile-store.js';
import { ProfileIngestService } from '../../src/profiles/profile-ingest.service.js';
import { createTenant, createTestApp, type TestApp } from '../helpers/app.js';
import { email, tenantRef, waitVisible } from '../helpers/profiles.js';

describe('change log ordering guarantee', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('never passes a transaction that started earlier and commits later', async () => {
    const tenant = await createTenant(t);
    const ref = tenantRef(tenant);
    const ds = t.app.get(DataSource);
    const ingest = t.app.get(ProfileIngestService);
    const reader = t.app.get(ProfileStore);

    // Writer 1 starts first and takes its transaction id, but writes later.
    const w1 = ds.createQueryRunner();
    await w1.connect();
    await w1.startTransaction();
    const [{ xid: xid1 }] = (await w1.query(
      'SELECT pg_current_xact_id()::text AS xid',
    )) as [{ xid: string }];

    // Writer 2 starts later and commits first.
    const second = await ingest.ingestRecords(ref, [
      { index: 0, value: { identityMap: email('second@x.io') } },
    ]);
    const secondId = second.results[0]?.profileId;

    // Reader: writer 2's change is committed but must not be returned yet.
    expect(await reader.readChanges(ref, null, 100)).toEqual([]);

    // Control: a reader without the xmin bound would return it now and put its
    // cursor past writer 1's (smaller) transaction id, skipping it forever.
    const naive = (await ds.query(
      `SELECT tx_id::text AS tx_id, id::text AS id FROM profile_changes
        WHERE org_id = $1 AND sandbox_name = $2 ORDER BY tx_id, id`,
      [ref.orgId, ref.sandboxName],
    )) as { tx_id: string; id: string }[];
    expect(naive).toHaveLength(1);
    expect(BigInt(naive[0]?.tx_id as string)).toBeGreaterThan(BigInt(xid1));

    const first = await ingest.ingestRecords(
      ref,
      [{ index: 0, value: { identityMap: email('first@x.io') } }],
      { manager: w1.manager },
    );
    const firstId = first.results[0]?.profileId;
    // Still uncommitted: invisible.
    expect(await reader.readChanges(ref, null, 100)).toEqual([]);
    await w1.commitTransaction();
    await w1.release();

    await waitVisible(t, tenant);
    const rows = await reader.readChanges(ref, null, 100);
    expect(rows.map((r) => r.profileId)).toEqual([firstId, secondId]);
    expect(rows[0]?.txId).toBe(xid1);
    // The naive cursor would have skipped writer 1's row.
    const afterNaive = rows.filter(
      (r) =>
        BigInt(r.txId) > BigInt(naive[0]?.tx_id as string) ||
        (r.txId === naive[0]?.tx_id &&
          BigInt(r.id) > BigInt(naive[0]?.id as string)),
    );
    expect(afterNaive).toHaveLength(0);

    // Paging with the cursor returns each row once.
    const page1 = await reader.readChanges(ref, null, 1);
    const page2 = await reader.readChanges(
      ref,
      { txId: page1[0]?.txId as string, id: page1[0]?.id as string },
      1,
    );
    const page3 = await reader.readChanges(
      ref,
      { txId: page2[0]?.txId as string, id: page2[0]?.id as string },
      1,
    );
    expect([...page1, ...page2].map((r) => r.profileId)).toEqual([
      firstId,
      secondId,
    ]);
    expect(page3).toEqual([]);
  });

  it('pages in numeric (tx_id, id) order when ids gain a digit', async () => {
    const tenant = await createTenant(t);
    const ref = tenantRef(tenant);
    const ds = t.app.get(DataSource);
    // The next change ids straddle a power of ten (…98, …99, 1…00, …): in
    // text order "100000" sorts before "99998", and a reader that ordered by
    // the text form would put its cursor past rows it never returned.
    const [{ next }] = (await ds.query(
      `SELECT nextval('profile_changes_id_seq')::text AS next`,
    )) as [{ next: string }];
    const boundary = 10n ** BigInt(next.length + 1);
    await ds.query(`SELECT setval('profile_changes_id_seq', $1::bigint)`, [
      (boundary - 3n).toString(),
    ]);
    const written = await t.app.get(ProfileIngestService).ingestRecords(
      ref,
      Array.from({ length: 6 }, (_, i) => ({
        index: i,
        value: { identityMap: email(`digit-${i}@x.io`) },
      })),
    );
    await waitVisible(t, tenant);
    const reader = t.app.get(ProfileStore);
    const seen: { id: string; profileId: string }[] = [];
    let after: { txId: string; id: string } | null = null;
    for (let page = 0; page < 10; page++) {
      const rows = await reader.readChanges(ref, after, 2);
      if (rows.length === 0) break;
      seen.push(...rows.map((r) => ({ id: r.id, profileId: r.profileId })));
      const last = rows[rows.length - 1] as { txId: string; id: string };
      after = { txId: last.txId, id: last.id };
    }
    expect(seen.map((r) => BigInt(r.id) >= boundary - 2n)).toEqual(
      Array(6).fill(true),
    );
    const ids = seen.map((r) => BigInt(r.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(new Set(seen.map((r) => r.profileId))).toEqual(
      new Set(written.results.map((r) => r.profileId)),
    );
  });

  it('works with a plain EntityManager and an uncommitted change stays invisible to others', async () => {
    const tenant = await createTenant(t);
    const ref = tenantRef(tenant);
    const ds = t.app.get(DataSource);
    const ingest = t.app.get(ProfileIngestService);
    const w = ds.createQueryRunner();
    await w.connect();
    await w.startTransaction();
    await ingest.ingestRecords(
      ref,
      [{ index: 0, value: { identityMap: email('rolled@x.io') } }],
      {
        manager: w.manager,
      },
    );
    await w.rollbackTransaction();
    await w.release();
    await ingest.ingestRecords(ref, [
      { index: 0, value: { identityMap: email('kept@x.io') } },
    ]);
    await waitVisible(t, tenant);
    const rows = await readChanges(ds.manager, ref, null, 10);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.identitiesChanged).toBe(true);
  });
});
