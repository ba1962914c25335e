import { DataSource, QueryFailedError } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable, TenantRef } from '../../src/database/transaction.js';
import { ProfileIngestService } from '../../src/profiles/profile-ingest.service.js';
import {
  type CompiledSegment,
  SegmentCatalog,
} from '../../src/segments/segment-catalog.js';
import { createTenant, createTestApp, type TestApp } from '../helpers/app.js';
import {
  allChanges,
  email,
  ingest,
  lookup,
  tenantRef,
  waitVisible,
} from '../helpers/profiles.js';

/** Issue: every record gets a definite outcome; no data yields a 500. */
describe('ingestion: a definite outcome for every record', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it("an NDJSON line with U+0000 is that line's rejection: 2,500 stored, 1 rejected (207)", async () => {
    const tn = await createTenant(t);
    const lines = Array.from({ length: 2500 }, (_, i) =>
      JSON.stringify({ identityMap: email(`n${i}@x.io`), i }),
    );
    lines.splice(
      2200,
      0,
      JSON.stringify({ identityMap: email('nul@x.io'), note: 'a\u0000b' }),
    );
    const res = await t.http
      .post('/data/core/ups/ingest/profiles')
      .set(tn.headers)
      .set('content-type', 'application/x-ndjson')
      .send(lines.join('\n'))
      .expect(207);
    const body = res.body as {
      accepted: number;
      rejected: number;
      notStored: number;
      results: { line: number; status: string; reason?: string }[];
    };
    expect(body).toMatchObject({ accepted: 2500, rejected: 1, notStored: 0 });
    const bad = body.results.filter((r) => r.status === 'error');
    expect(bad).toEqual([
      expect.objectContaining({
        line: 2201,
        reason: expect.stringContaining('cannot be stored (U+0000'),
      }),
    ]);
    // Neighbours of the bad line, in its batch, were stored.
    await lookup(t, tn, 'n2199@x.io', 'email');
    await lookup(t, tn, 'n2200@x.io', 'email');
    await lookup(t, tn, 'nul@x.io', 'email', 404);
  });

  it('U+0000 or a lone surrogate in a JSON value, an attribute name or an identity rejects that record only', async () => {
    const tn = await createTenant(t);
    const res = await ingest(
      t,
      tn,
      [
        { identityMap: email('v@x.io'), note: 'x\u0000' },
        { identityMap: email('k@x.io'), ['bad\u0000key']: 1 },
        { identityMap: email('i\u0000@x.io') },
        { identityMap: email('s@x.io'), note: 'half \ud800 pair' },
        { identityMap: email('ok@x.io'), note: 'paired \ud83d\ude00 fine' },
      ],
      207,
    );
    expect(res.results.map((r) => r.status)).toEqual([
      'error',
      'error',
      'error',
      'error',
      'ok',
    ]);
    const body = await lookup(t, tn, 'ok@x.io', 'email');
    expect(Object.values(body)[0]?.entity.note).toBe(
      'paired \ud83d\ude00 fine',
    );
  });

  it('a server failure part way lists every record as stored or not (the HTTP answer is then 503); re-sending stored records changes nothing', async () => {
    const tn = await createTenant(t);
    const ref = tenantRef(tn);
    // The segment catalogue is read once per batch: failing its second read
    // stands in for the database going away after the first batch.
    let reads = 0;
    class FailingCatalog extends SegmentCatalog {
      override forTenant(
        q: Queryable,
        tenant: TenantRef,
        onlyIds?: string[],
      ): Promise<CompiledSegment[]> {
        reads++;
        if (reads === 2)
          return Promise.reject(new Error('connection terminated'));
        return super.forTenant(q, tenant, onlyIds);
      }
    }
    const ds = t.app.get(DataSource);
    const failing = new ProfileIngestService(ds, new FailingCatalog());
    const records = Array.from({ length: 25 }, (_, i) => ({
      index: i,
      value: { identityMap: email(`r${i}@x.io`), i },
    }));
    const result = await failing.ingestRecords(ref, records, {
      batchSize: 10,
    });
    expect(result).toMatchObject({ accepted: 10, rejected: 15, notStored: 15 });
    expect(result.results.slice(0, 10).every((r) => r.status === 'ok')).toBe(
      true,
    );
    const notStored = result.results.filter((r) => r.status === 'error');
    expect(notStored.map((r) => r.index)).toEqual(
      Array.from({ length: 15 }, (_, i) => i + 10),
    );
    expect(notStored[0]?.reason).toContain('send the record again');
    expect(notStored[0]?.reason).not.toContain('connection terminated');
    await lookup(t, tn, 'r10@x.io', 'email', 404);

    // The client retries exactly the rest, and (harmlessly) everything.
    await waitVisible(t, tn);
    const before = (await allChanges(t, tn)).length;
    expect(before).toBe(10);
    const ok = new ProfileIngestService(ds, new SegmentCatalog());
    await ok.ingestRecords(
      ref,
      records.filter((r) => r.index >= 10),
    );
    await waitVisible(t, tn);
    expect(await allChanges(t, tn)).toHaveLength(25);
    const again = await ok.ingestRecords(ref, records);
    expect(again).toMatchObject({ accepted: 25, rejected: 0, notStored: 0 });
    await waitVisible(t, tn);
    // A same-value write changes and exports nothing.
    expect(await allChanges(t, tn)).toHaveLength(25);
  });

  it('a data error the validation did not foresee is narrowed down to its record; the rest of the batch is stored', async () => {
    const tn = await createTenant(t);
    const ds = t.app.get(DataSource);
    // Any record whose `poison` attribute is set makes its batch fail the way
    // PostgreSQL fails on a value it cannot store (SQLSTATE 22P05).
    class Poisoned extends ProfileIngestService {
      override async ingestBatch(
        m: Queryable,
        tenant: TenantRef,
        items: Parameters<ProfileIngestService['ingestBatch']>[2],
      ) {
        const out = await super.ingestBatch(m, tenant, items);
        if (items.some((i) => i.fragment.attributes.poison))
          throw new QueryFailedError(
            'INSERT …',
            [],
            Object.assign(new Error('unsupported Unicode escape sequence'), {
              code: '22P05',
            }),
          );
        return out;
      }
    }
    const records = Array.from({ length: 40 }, (_, i) => ({
      index: i,
      value: { identityMap: email(`d${i}@x.io`), poison: i === 7 || i === 31 },
    }));
    const result = await new Poisoned(ds, new SegmentCatalog()).ingestRecords(
      tenantRef(tn),
      records,
      { batchSize: 20 },
    );
    expect(result).toMatchObject({ accepted: 38, rejected: 2, notStored: 0 });
    expect(
      result.results.filter((r) => r.status === 'error').map((r) => r.index),
    ).toEqual([7, 31]);
    expect(result.results[7]?.reason).toContain(
      'could not be stored: unsupported Unicode escape sequence',
    );
    await lookup(t, tn, 'd6@x.io', 'email');
    await lookup(t, tn, 'd7@x.io', 'email', 404);
  });
});
