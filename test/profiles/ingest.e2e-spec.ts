import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProfileIngestService } from '../../src/profiles/profile-ingest.service.js';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { allChanges, email, ingest, lookup } from '../helpers/profiles.js';

describe('profile ingestion, merge rules and identity stitching', () => {
  let t: TestApp;
  let tenant: TestTenant;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('creates a profile, then merges deeply: objects merge, scalars and arrays replace, null removes', async () => {
    tenant = await createTenant(t);
    const first = await ingest(t, tenant, [
      {
        identityMap: { Email: [{ id: 'jane@example.com', primary: true }] },
        person: {
          name: { firstName: 'Jane', lastName: 'Doe' },
          gender: 'female',
        },
        tags: ['a', 'b'],
        loyalty: { tier: 'gold' },
      },
    ]);
    expect(first).toMatchObject({ accepted: 1, rejected: 0 });
    const id = first.results[0]?.profileId as string;
    expect(first.results[0]).toMatchObject({
      index: 0,
      status: 'ok',
      created: true,
    });

    const second = await ingest(t, tenant, [
      {
        identityMap: {
          EMAIL: [{ id: 'jane@example.com' }],
          ecid: [{ id: 'E1' }],
        },
        person: { name: { firstName: 'Janet' }, gender: null },
        tags: ['c'],
        loyalty: null,
      },
    ]);
    expect(second.results[0]).toMatchObject({ profileId: id, created: false });

    const body = await lookup(t, tenant, 'E1', 'ECID');
    expect(Object.keys(body)).toEqual([id]);
    const entity = body[id]?.entity as Record<string, unknown>;
    expect(entity.person).toEqual({
      name: { firstName: 'Janet', lastName: 'Doe' },
    });
    expect(entity.tags).toEqual(['c']);
    expect(entity.loyalty).toBeUndefined();
    expect(entity.identityMap).toEqual({
      email: [{ id: 'jane@example.com', primary: true }],
      ecid: [{ id: 'E1' }],
    });
    expect(entity.segmentMembership).toEqual({ ups: {} });

    const changes = await allChanges(t, tenant);
    expect(changes).toHaveLength(2);
    expect(changes[0]).toMatchObject({
      profileId: id,
      identitiesChanged: true,
      deleted: false,
      changedPaths: [
        'loyalty.tier',
        'person.gender',
        'person.name.firstName',
        'person.name.lastName',
        'tags',
      ],
    });
    expect(changes[1]).toMatchObject({
      profileId: id,
      identitiesChanged: true,
      changedPaths: [
        'loyalty.tier',
        'person.gender',
        'person.name.firstName',
        'tags',
      ],
    });
  });

  it('appends nothing for a same-value write and lists only changed leaves otherwise', async () => {
    const tn = await createTenant(t);
    const doc = {
      identityMap: { email: [{ id: 'same@example.com' }] },
      person: { name: { firstName: 'Sam', lastName: 'Same' } },
      scores: [1, 2],
    };
    const created = await ingest(t, tn, [doc]);
    const before = await lookup(t, tn, 'same@example.com', 'email');
    await ingest(t, tn, [doc]);
    // Namespace case and key order are not changes either.
    await ingest(t, tn, [
      {
        scores: [1, 2],
        person: { name: { lastName: 'Same', firstName: 'Sam' } },
        identityMap: { EMAIL: [{ id: 'same@example.com' }] },
      },
    ]);
    expect(await allChanges(t, tn)).toHaveLength(1);
    const after = await lookup(t, tn, 'same@example.com', 'email');
    const id = created.results[0]?.profileId as string;
    expect(after[id]?.lastModifiedAt).toBe(before[id]?.lastModifiedAt);

    await ingest(t, tn, [
      {
        identityMap: { email: [{ id: 'same@example.com' }] },
        person: { name: { firstName: 'Sam', lastName: 'Other' } },
        scores: [1, 2],
      },
    ]);
    const changes = await allChanges(t, tn);
    expect(changes).toHaveLength(2);
    expect(changes[1]).toMatchObject({
      changedPaths: ['person.name.lastName'],
      identitiesChanged: false,
      membershipChanges: [],
    });
  });

  it('stitches: a record linking two profiles merges them into the oldest', async () => {
    const tn = await createTenant(t);
    const a = await ingest(t, tn, [
      {
        identityMap: email('a@example.com'),
        person: { name: { firstName: 'A' } },
        a: 1,
      },
    ]);
    const b = await ingest(t, tn, [
      {
        identityMap: { phone: [{ id: '+100' }] },
        person: { name: { firstName: 'B' } },
        b: 2,
      },
    ]);
    const idA = a.results[0]?.profileId as string;
    const idB = b.results[0]?.profileId as string;
    expect(idA).not.toBe(idB);

    const link = await ingest(t, tn, [
      {
        identityMap: {
          email: [{ id: 'a@example.com' }],
          phone: [{ id: '+100' }],
        },
      },
    ]);
    expect(link.results[0]).toMatchObject({
      profileId: idA,
      created: false,
      mergedProfileIds: [idB],
    });
    const byPhone = await lookup(t, tn, '+100', 'phone');
    expect(Object.keys(byPhone)).toEqual([idA]);
    // B was updated last, so its firstName wins.
    expect(byPhone[idA]?.entity).toMatchObject({
      a: 1,
      b: 2,
      person: { name: { firstName: 'B' } },
    });
    await t.http
      .get('/data/core/ups/access/entities')
      .query({ 'schema.name': '_xdm.context.profile', entityId: idB })
      .set(tn.headers)
      .expect(404);

    const changes = await allChanges(t, tn);
    const absorbed = changes.find((c) => c.profileId === idB && c.deleted);
    expect(absorbed?.snapshot).toEqual({
      attributes: { person: { name: { firstName: 'B' } }, b: 2 },
      identityMap: { phone: [{ id: '+100' }] },
      mergedInto: idA,
    });
    const survivor = changes[changes.length - 1];
    expect(survivor).toMatchObject({
      profileId: idA,
      identitiesChanged: true,
      changedPaths: ['b', 'person.name.firstName'],
    });
    // The absorbed profile's row comes before the survivor's in log order.
    expect(changes.indexOf(absorbed as never)).toBeLessThan(
      changes.indexOf(survivor as never),
    );
  });

  it('merges three profiles in one record and reassigns every identity', async () => {
    const tn = await createTenant(t);
    const ids: string[] = [];
    for (const [i, ns] of ['email', 'ecid', 'crm'].entries()) {
      const r = await ingest(t, tn, [
        {
          identityMap: { [ns]: [{ id: `x${i}` }, { id: `extra-${ns}` }] },
          [`f${i}`]: i,
        },
      ]);
      ids.push(r.results[0]?.profileId as string);
    }
    const r = await ingest(t, tn, [
      {
        identityMap: {
          email: [{ id: 'x0' }],
          ecid: [{ id: 'x1' }],
          crm: [{ id: 'x2' }],
        },
        f3: 3,
      },
    ]);
    expect(r.results[0]?.profileId).toBe(ids[0]);
    expect(new Set(r.results[0]?.mergedProfileIds)).toEqual(
      new Set([ids[1], ids[2]]),
    );
    for (const [ns, id] of [
      ['email', 'extra-email'],
      ['ecid', 'extra-ecid'],
      ['crm', 'extra-crm'],
    ] as const) {
      const found = await lookup(t, tn, id, ns);
      expect(Object.keys(found)).toEqual([ids[0]]);
      expect(found[ids[0] as string]?.entity).toMatchObject({
        f0: 0,
        f1: 1,
        f2: 2,
        f3: 3,
      });
    }
    const deleted = (await allChanges(t, tn)).filter((c) => c.deleted);
    expect(deleted.map((c) => c.profileId).sort()).toEqual(
      [ids[1], ids[2]].sort(),
    );
  });

  it('stitches within one batch and reports each record with the final profile', async () => {
    const tn = await createTenant(t);
    const r = await ingest(t, tn, [
      { identityMap: email('p@x.io'), n: 1 },
      { identityMap: { ecid: [{ id: 'Q' }] }, n: 2 },
      { identityMap: { email: [{ id: 'p@x.io' }], ecid: [{ id: 'Q' }] }, n: 3 },
    ]);
    const ids = r.results.map((x) => x.profileId);
    expect(new Set(ids).size).toBe(1);
    const changes = await allChanges(t, tn);
    // The profile created and absorbed inside the batch was never visible: no row for it.
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      profileId: ids[0],
      changedPaths: ['n'],
    });
  });

  it('reports bad records with index and reason and stores their neighbours (207)', async () => {
    const tn = await createTenant(t);
    const big = 'x'.repeat(70 * 1024);
    const res = await t.http
      .post('/data/core/ups/ingest/profiles')
      .set(tn.headers)
      .set('content-type', 'application/x-ndjson')
      .send(
        [
          JSON.stringify({ identityMap: email('ok1@x.io') }),
          '{"identityMap": ',
          JSON.stringify({ person: { name: 'no identities' } }),
          '',
          '[1,2,3]',
          JSON.stringify({ identityMap: email('big@x.io'), big }),
          JSON.stringify({ identityMap: { email: 'nope' } }),
          JSON.stringify({ identityMap: { 'bad ns': [{ id: '1' }] } }),
          JSON.stringify({
            identityMap: email('x@x.io'),
            segmentMembership: {},
          }),
          JSON.stringify({ identityMap: email('y@x.io'), 'a.b': 1 }),
          JSON.stringify({ identityMap: email('ok2@x.io') }),
        ].join('\n'),
      )
      .expect(207);
    const body = res.body as {
      results: {
        index: number;
        line: number;
        status: string;
        reason?: string;
      }[];
      accepted: number;
      rejected: number;
    };
    expect(body.accepted).toBe(2);
    expect(body.rejected).toBe(8);
    expect(body.results.map((r) => r.status)).toEqual([
      'ok',
      'error',
      'error',
      'error',
      'error',
      'error',
      'error',
      'error',
      'error',
      'ok',
    ]);
    expect(body.results[1]).toMatchObject({ index: 1, line: 2 });
    expect(body.results[1]?.reason).toMatch(/not valid JSON/);
    expect(body.results[2]?.reason).toMatch(/identityMap is required/);
    expect(body.results[3]).toMatchObject({ index: 3, line: 5 });
    expect(body.results[3]?.reason).toMatch(/JSON object/);
    expect(body.results[4]?.reason).toMatch(/limit of 65536/);
    expect(body.results[5]?.reason).toMatch(/must be an array/);
    expect(body.results[6]?.reason).toMatch(/namespace/);
    expect(body.results[7]?.reason).toMatch(/system-populated/);
    expect(body.results[8]?.reason).toMatch(/not allowed/);
    await lookup(t, tn, 'ok2@x.io', 'email');

    const json = await ingest(
      t,
      tn,
      [{ identityMap: email('ok3@x.io') }, 'text', { identityMap: {} }, null],
      207,
    );
    expect(json.results.map((r) => r.status)).toEqual([
      'ok',
      'error',
      'error',
      'error',
    ]);
    expect(json.results[2]?.reason).toMatch(/at least one identity/);
  });

  it('answers malformed requests with a 4xx in the contract error shape', async () => {
    const tn = await createTenant(t);
    const post = () =>
      t.http.post('/data/core/ups/ingest/profiles').set(tn.headers);
    const shape = {
      code: expect.stringMatching(/^\d{4}-\d{3}$/),
      message: expect.any(String),
      requestId: expect.any(String),
    };
    expect((await post().send({}).expect(400)).body).toMatchObject(shape);
    expect(
      (await post().send({ profiles: [] }).expect(400)).body,
    ).toMatchObject(shape);
    expect(
      (await post().send({ profiles: {} }).expect(400)).body,
    ).toMatchObject(shape);
    expect(
      (
        await post()
          .send({ profiles: [{}], extra: 1 })
          .expect(400)
      ).body,
    ).toMatchObject(shape);
    expect((await post().send([1, 2]).expect(400)).body).toMatchObject(shape);
    const many = Array.from({ length: 1001 }, (_, i) => ({
      identityMap: email(`${i}@x`),
    }));
    expect(
      (await post().send({ profiles: many }).expect(400)).body,
    ).toMatchObject(shape);
    await post()
      .set('content-type', 'application/json')
      .send('{"profiles": [')
      .expect(400);
    expect(
      (
        await post()
          .set('content-type', 'application/x-ndjson')
          .send('\n\n')
          .expect(400)
      ).body,
    ).toMatchObject({ code: '1405-400' });
    await t.http
      .get('/data/core/ups/access/entities')
      .query({ 'schema.name': '_xdm.context.profile', entityId: 'not-a-uuid' })
      .set(tn.headers)
      .expect(400);
    await t.http
      .get('/data/core/ups/access/entities')
      .query({ 'schema.name': 'other', entityId: 'a', entityIdNS: 'email' })
      .set(tn.headers)
      .expect(400);
    await t.http
      .get('/data/core/ups/access/entities')
      .query({
        'schema.name': '_xdm.context.profile',
        entityId: 'nobody',
        entityIdNS: 'email',
        bogus: 1,
      })
      .set(tn.headers)
      .expect(400);
    const missing = await lookup(t, tn, 'nobody@x.io', 'email', 404);
    expect(missing).toMatchObject({ code: '1101-404' });
  });

  it('keeps tenants apart', async () => {
    const a = await createTenant(t);
    const b = await createTenant(t);
    const r = await ingest(t, a, [
      { identityMap: email('shared@x.io'), owner: 'a' },
    ]);
    const idA = r.results[0]?.profileId as string;
    await lookup(t, b, 'shared@x.io', 'email', 404);
    await t.http
      .get('/data/core/ups/access/entities')
      .query({ 'schema.name': '_xdm.context.profile', entityId: idA })
      .set(b.headers)
      .expect(404);
    await t.http
      .delete('/data/core/ups/access/entities')
      .query({
        'schema.name': '_xdm.context.profile',
        entityId: 'shared@x.io',
        entityIdNS: 'email',
      })
      .set(b.headers)
      .expect(404);
    // The same identity in another org is another profile.
    const rb = await ingest(t, b, [
      { identityMap: email('shared@x.io'), owner: 'b' },
    ]);
    expect(rb.results[0]).toMatchObject({ created: true });
    expect(rb.results[0]?.profileId).not.toBe(idA);
    expect(
      (await lookup(t, a, 'shared@x.io', 'email'))[idA]?.entity,
    ).toMatchObject({ owner: 'a' });
    expect(await allChanges(t, b)).toHaveLength(1);
  });

  it('creates one profile when concurrent batches bring the same new identities', async () => {
    const tn = await createTenant(t);
    const ref = { orgId: tn.orgId, sandboxName: tn.sandbox };
    const svc = t.app.get(ProfileIngestService);
    const shared = Array.from({ length: 40 }, (_, i) => `race${i}@x.io`);
    // Six batches race to create the same 40 profiles (each also brings an
    // identity of its own): the losers of each race retry and merge.
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, b) =>
        svc.ingestRecords(
          ref,
          shared.map((mail, i) => ({
            index: i,
            value: {
              identityMap: {
                email: [{ id: mail }],
                ecid: [{ id: `ecid-${b}-${i}` }],
              },
              [`from${b}`]: true,
            },
          })),
        ),
      ),
    );
    for (const r of runs) expect(r.rejected).toBe(0);
    const ds = t.app.get(DataSource);
    const owners = (await ds.query(
      `SELECT identity, profile_id FROM profile_identities
        WHERE org_id = $1 AND sandbox_name = $2 AND namespace = 'email'`,
      [tn.orgId, tn.sandbox],
    )) as { identity: string; profile_id: string }[];
    expect(owners.map((o) => o.identity).sort()).toEqual([...shared].sort());
    const [{ n }] = (await ds.query(
      `SELECT count(*)::int AS n FROM profiles WHERE org_id = $1 AND sandbox_name = $2`,
      [tn.orgId, tn.sandbox],
    )) as [{ n: number }];
    expect(n).toBe(shared.length);
    // Every batch's record ended on the profile that owns the email.
    const ownerOf = new Map(owners.map((o) => [o.identity, o.profile_id]));
    for (const r of runs) {
      r.results.forEach((res, i) =>
        expect(res.profileId).toBe(ownerOf.get(shared[i] as string)),
      );
    }
    const [{ ecids }] = (await ds.query(
      `SELECT count(*)::int AS ecids FROM profile_identities
        WHERE org_id = $1 AND sandbox_name = $2 AND namespace = 'ecid'`,
      [tn.orgId, tn.sandbox],
    )) as [{ ecids: number }];
    expect(ecids).toBe(6 * shared.length);
  });
});
