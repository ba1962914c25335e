import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profilesImport } from '../../src/cli/profiles-import.js';
import { createTenant, createTestApp, type TestApp } from '../helpers/app.js';
import { allChanges, lookup } from '../helpers/profiles.js';

describe('profiles import (CLI)', () => {
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    t = await createTestApp();
    dir = mkdtempSync(join(tmpdir(), 'fse-import-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });

  it('loads an NDJSON file in batches, reporting bad lines and progress', async () => {
    const tenant = await createTenant(t);
    const file = join(dir, 'profiles.ndjson');
    const lines = Array.from({ length: 25 }, (_, i) =>
      JSON.stringify({
        identityMap: { email: [{ id: `imp${i}@x.io` }] },
        n: i,
      }),
    );
    lines.splice(10, 0, '{broken');
    lines.push(
      '',
      JSON.stringify({
        identityMap: { email: [{ id: 'imp3@x.io' }] },
        n: 'updated',
      }),
    );
    writeFileSync(file, `${lines.join('\n')}\n`);
    const out = new PassThrough();
    let printed = '';
    out.on('data', (c: Buffer) => (printed += c.toString()));

    const summary = await profilesImport({
      file,
      org: tenant.orgId,
      sandbox: 'prod',
      batchSize: 7,
      dataSource: t.app.get(DataSource),
      out,
    });
    expect(summary).toMatchObject({
      records: 27,
      accepted: 26,
      rejected: 1,
      orgId: tenant.orgId,
    });
    expect(summary.errors).toEqual([
      { line: 11, reason: expect.stringMatching(/not valid JSON/) },
    ]);
    expect(printed).toContain('100%');
    const found = await lookup(t, tenant, 'imp3@x.io', 'email');
    expect(Object.values(found)[0]?.entity).toMatchObject({ n: 'updated' });
    expect(await allChanges(t, tenant)).toHaveLength(26);
  });
});
