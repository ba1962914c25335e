import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MIGRATIONS } from '../migrations/index.js';
import { MembershipsOnProfiles1764600000000 } from '../migrations/1764600000000-MembershipsOnProfiles.js';
import { FlowLanes1765400000000 } from '../migrations/1765400000000-FlowLanes.js';
import { buildDataSourceOptions } from '../src/data-source.js';

/** A data-moving migration, run up and down on a database of its own. */
describe('migration MembershipsOnProfiles (data)', () => {
  const dbName = `mig_${randomUUID().replace(/-/g, '')}`;
  let admin: DataSource;
  let url: string;
  const source = (migrations: (new () => unknown)[]): DataSource =>
    new DataSource({ ...buildDataSourceOptions(url, 1), migrations });

  beforeAll(async () => {
    admin = new DataSource(buildDataSourceOptions(inject('databaseUrl'), 1));
    await admin.initialize();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(inject('databaseUrl'));
    u.pathname = `/${dbName}`;
    url = u.toString();
  });
  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.destroy();
  });

  it('moves membership rows into the profile row and compacts change rows, and back', async () => {
    const upTo = MIGRATIONS.indexOf(MembershipsOnProfiles1764600000000);
    const before = source(MIGRATIONS.slice(0, upTo));
    await before.initialize();
    await before.runMigrations({ transaction: 'each' });
    const [p1, p2, s1, s2] = [
      randomUUID(),
      randomUUID(),
      randomUUID(),
      randomUUID(),
    ];
    await before.query(
      `INSERT INTO profiles (id, org_id, sandbox_name) VALUES ($1, 'O', 'prod'), ($2, 'O', 'prod')`,
      [p1, p2],
    );
    await before.query(
      `INSERT INTO segment_memberships (profile_id, segment_id, org_id, sandbox_name, status, last_qualification_time)
       VALUES ($1, $2, 'O', 'prod', 'realized', '2026-11-25T10:00:00.123Z'),
              ($1, $3, 'O', 'prod', 'exited', '2026-11-20T08:30:00Z')`,
      [p1, s1, s2],
    );
    await before.query(
      `INSERT INTO profile_changes (org_id, sandbox_name, profile_id, changed_paths, membership_changes)
       VALUES ('O', 'prod', $1, ARRAY['person.name', 'loyalty.tier'], $2::jsonb),
              ('O', 'prod', $3, '{}', '[]')`,
      [
        p1,
        JSON.stringify([
          { segmentId: s1, from: null, to: 'realized' },
          { segmentId: s2, from: 'existing', to: 'exited' },
        ]),
        p2,
      ],
    );
    await before.destroy();

    const after = source(MIGRATIONS.slice(0, upTo + 1));
    await after.initialize();
    try {
      await after.runMigrations({ transaction: 'each' });
      const profiles = (await after.query(
        `SELECT id, memberships FROM profiles ORDER BY id = $1 DESC`,
        [p1],
      )) as { id: string; memberships: unknown }[];
      expect(profiles).toEqual([
        {
          id: p1,
          memberships: {
            [s1]: ['realized', '2026-11-25T10:00:00.123Z'],
            [s2]: ['exited', '2026-11-20T08:30:00.000Z'],
          },
        },
        { id: p2, memberships: {} },
      ]);
      const changes = (await after.query(
        `SELECT changed_paths, membership_changes FROM profile_changes ORDER BY id`,
      )) as unknown[];
      expect(changes).toEqual([
        {
          changed_paths: ['person.name', 'loyalty.tier'],
          membership_changes: [
            [s1, null, 'realized'],
            [s2, 'existing', 'exited'],
          ],
        },
        { changed_paths: [], membership_changes: [] },
      ]);

      await after.undoLastMigration({ transaction: 'each' });
      expect(
        await after.query(
          `SELECT profile_id, segment_id, status, last_qualification_time
             FROM segment_memberships ORDER BY status DESC`,
        ),
      ).toEqual([
        {
          profile_id: p1,
          segment_id: s1,
          status: 'realized',
          last_qualification_time: new Date('2026-11-25T10:00:00.123Z'),
        },
        {
          profile_id: p1,
          segment_id: s2,
          status: 'exited',
          last_qualification_time: new Date('2026-11-20T08:30:00Z'),
        },
      ]);
      expect(
        await after.query(
          `SELECT changed_paths, membership_changes FROM profile_changes ORDER BY id`,
        ),
      ).toEqual([
        {
          changed_paths: ['person.name', 'loyalty.tier'],
          membership_changes: [
            { segmentId: s1, from: null, to: 'realized' },
            { segmentId: s2, from: 'existing', to: 'exited' },
          ],
        },
        { changed_paths: [], membership_changes: [] },
      ]);
    } finally {
      await after.destroy();
    }
  });
});

describe('migration FlowLanes (data)', () => {
  const dbName = `mig_${randomUUID().replace(/-/g, '')}`;
  let admin: DataSource;
  let url: string;
  const source = (migrations: (new () => unknown)[]): DataSource =>
    new DataSource({ ...buildDataSourceOptions(url, 1), migrations });

  beforeAll(async () => {
    admin = new DataSource(buildDataSourceOptions(inject('databaseUrl'), 1));
    await admin.initialize();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(inject('databaseUrl'));
    u.pathname = `/${dbName}`;
    url = u.toString();
  });
  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.destroy();
  });

  it('splits each live cursor into lanes at its position, keeps a deleted one whole, and back', async () => {
    const upTo = MIGRATIONS.indexOf(FlowLanes1765400000000);
    const db = source(MIGRATIONS.slice(0, upTo + 1));
    await db.initialize();
    try {
      await db.runMigrations({ transaction: 'each' });
      await db.undoLastMigration({ transaction: 'each' });
      const [live, gone] = [randomUUID(), randomUUID()];
      const backfill = JSON.stringify({
        segmentIds: ['s1'],
        afterProfileId: randomUUID(),
      });
      await db.query(
        `INSERT INTO flow_cursors (flow_id, org_id, sandbox_name, last_tx_id, last_change_id, mapping, backfill, next_attempt_at, lease_owner, lease_until, deleted_at)
         VALUES ($1, 'O', 'prod', '900', 42, '{"segmentIds":["s1"]}', $3::jsonb, now(), 'r1', now() + interval '1 minute', NULL),
                ($2, 'O', 'prod', '800', 7, '{"segmentIds":["s1"]}', NULL, now(), NULL, NULL, now())`,
        [live, gone, backfill],
      );
      await db.runMigrations({ transaction: 'each' });
      const rows = (await db.query(
        `SELECT flow_id, lane, lanes, last_tx_id, last_change_id::text AS cid, backfill, lease_owner
           FROM flow_cursors ORDER BY flow_id = $1 DESC, lane`,
        [live],
      )) as {
        flow_id: string;
        lane: number;
        lanes: number;
        last_tx_id: string;
        cid: string;
        backfill: unknown;
        lease_owner: string | null;
      }[];
      expect(rows.map((r) => [r.flow_id, r.lane, r.lanes])).toEqual([
        [live, 0, 4],
        [live, 1, 4],
        [live, 2, 4],
        [live, 3, 4],
        [gone, 0, 1],
      ]);
      for (const r of rows.slice(0, 4)) {
        expect([r.last_tx_id, r.cid, r.lease_owner]).toEqual([
          '900',
          '42',
          null,
        ]);
        expect(r.backfill).toEqual(JSON.parse(backfill));
      }
      // Down: one cursor per flow again, at the slowest lane.
      await db.query(
        `UPDATE flow_cursors SET last_tx_id = '950' WHERE flow_id = $1 AND lane <> 2`,
        [live],
      );
      await db.undoLastMigration({ transaction: 'each' });
      const back = (await db.query(
        `SELECT flow_id, last_tx_id FROM flow_cursors ORDER BY flow_id = $1 DESC`,
        [live],
      )) as { flow_id: string; last_tx_id: string }[];
      expect(back).toEqual([
        { flow_id: live, last_tx_id: '900' },
        { flow_id: gone, last_tx_id: '800' },
      ]);
    } finally {
      await db.destroy();
    }
  });
});
