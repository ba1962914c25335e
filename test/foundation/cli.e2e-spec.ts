import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CliContext } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/program.js';
import { loadEnv } from '../../src/config/env.js';
import {
  openDatabase,
  runningPostmaster,
} from '../../src/database/database.js';
import { EmbeddedDatabase } from '../../src/database/embedded-postgres.js';
import { TenancyService } from '../../src/tenancy/tenancy.service.js';
import { freePort } from '../global-setup.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { FS } from '../helpers/resources.js';

function captureContext(): {
  ctx: CliContext;
  out: string[];
  err: string[];
} {
  const out: string[] = [];
  const err: string[] = [];
  const ctx = new CliContext(
    loadEnv({ DATABASE_URL: inject('databaseUrl'), LOG_LEVEL: 'silent' }),
    { out: (s) => out.push(s), err: (s) => err.push(s) },
  );
  return { ctx, out, err };
}

/** Runs one command line in-process, as `npm run cli -- …` would. */
async function cli(
  args: string,
): Promise<{ code: number; out: string; err: string }> {
  const { ctx, out, err } = captureContext();
  try {
    const code = await runCli(args.split(' '), ctx);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    await ctx.close();
  }
}

const newOrg = (): string =>
  `${randomBytes(12).toString('hex').toUpperCase()}@AdobeOrg`;

describe('CLI', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  async function token(clientId: string, secret: string): Promise<string> {
    const res = await t.http
      .post('/ims/token/v3')
      .type('form')
      .send({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
      })
      .expect(200);
    return (res.body as { access_token: string }).access_token;
  }

  it('clients create prints a working id and secret, limited to its sandboxes', async () => {
    const org = newOrg();
    const res = await cli(
      `clients create --org ${org} --name ci --sandbox prod --sandbox Dev`,
    );
    expect(res.code, res.err).toBe(0);
    const clientId = /client id:\s+(\S+)/.exec(res.out)?.[1];
    const secret = /client secret:\s+(\S+)/.exec(res.out)?.[1];
    expect(clientId).toBeDefined();
    expect(secret).toBeDefined();
    expect(res.out).toContain('sandboxes:     prod, dev');
    const access = await token(clientId!, secret!);
    const headers = {
      authorization: `Bearer ${access}`,
      'x-api-key': clientId!,
      'x-gw-ims-org-id': org,
    };
    await t.http
      .get(`${FS}/flows`)
      .set({ ...headers, 'x-sandbox-name': 'dev' })
      .expect(200);
    await t.http.get(`${FS}/flows`).set(headers).expect(200);
    await cli(`sandboxes create --org ${org} --name qa`);
    await t.http
      .get(`${FS}/flows`)
      .set({ ...headers, 'x-sandbox-name': 'qa' })
      .expect(404);

    const list = await cli(`clients list --org ${org}`);
    expect(list.code).toBe(0);
    expect(list.out).toContain(clientId);
    expect(list.out).toContain('prod,dev');
    expect(list.out).not.toContain(secret);
    const all = await cli('clients list --json');
    const parsed = JSON.parse(all.out) as { clientId: string }[];
    expect(parsed.map((c) => c.clientId)).toContain(clientId);
    expect(all.out).not.toContain(secret);
  });

  it('clients rotate-secret prints a new secret; tokens of the old one stop working', async () => {
    const org = newOrg();
    const created = JSON.parse(
      (await cli(`clients create --org ${org} --json`)).out,
    ) as { clientId: string; clientSecret: string };
    const headers = {
      authorization: `Bearer ${await token(created.clientId, created.clientSecret)}`,
      'x-api-key': created.clientId,
      'x-gw-ims-org-id': org,
    };
    await t.http.get(`${FS}/flows`).set(headers).expect(200);
    const res = await cli(`clients rotate-secret ${created.clientId}`);
    expect(res.code, res.err).toBe(0);
    const secret = /client secret:\s+(\S+)/.exec(res.out)?.[1];
    expect(secret).toBeDefined();
    expect(secret).not.toBe(created.clientSecret);
    await t.http.get(`${FS}/flows`).set(headers).expect(401);
    const fresh = await token(created.clientId, secret!);
    await t.http
      .get(`${FS}/flows`)
      .set({ ...headers, authorization: `Bearer ${fresh}` })
      .expect(200);
    const unknown = await cli('clients rotate-secret no-such-client');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no client with id no-such-client');
  });

  it('a client created without --sandbox may use every sandbox of its org', async () => {
    const org = newOrg();
    const res = await cli(`clients create --org ${org} --json`);
    expect(res.code, res.err).toBe(0);
    const created = JSON.parse(res.out) as {
      clientId: string;
      clientSecret: string;
      sandboxes: string[];
    };
    expect(created.sandboxes).toEqual(['*']);
    await cli(`sandboxes create --org ${org} --name later`);
    const access = await token(created.clientId, created.clientSecret);
    await t.http
      .get(`${FS}/connections`)
      .set({
        authorization: `Bearer ${access}`,
        'x-api-key': created.clientId,
        'x-gw-ims-org-id': org,
        'x-sandbox-name': 'later',
      })
      .expect(200);
  });

  it('sandboxes create is idempotent and sandboxes list filters by org', async () => {
    const org = newOrg();
    const first = await cli(`sandboxes create --org ${org} --name Dev`);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/^Sandbox created: dev \(development/);
    const again = await cli(`sandboxes create --org ${org} --name dev`);
    expect(again.out).toMatch(/^Sandbox already exists: dev/);
    await cli(`clients create --org ${org}`);
    const list = await cli(`sandboxes list --org ${org} --json`);
    const rows = JSON.parse(list.out) as { name: string; type: string }[];
    expect(rows.map((r) => [r.name, r.type])).toEqual([
      ['dev', 'development'],
      ['prod', 'production'],
    ]);
    const text = await cli(`sandboxes list --org ${org}`);
    expect(text.out.split('\n')[0]).toMatch(/^ORG\s+NAME\s+TYPE/);
    const other = await cli(`sandboxes list --org ${newOrg()}`);
    expect(other.out).toBe('(none)');
  });

  it('gives commands the app services through ctx.app() (extension point)', async () => {
    const ctx = new CliContext(
      loadEnv({
        DATABASE_URL: inject('databaseUrl'),
        LOG_LEVEL: 'silent',
        TOKEN_SIGNING_KEY: 'cli-test-signing-key-0123456789abcdef',
        ENCRYPTION_KEY: '11'.repeat(32),
      }),
      { out: () => undefined, err: () => undefined },
    );
    try {
      const org = newOrg();
      const app = await ctx.app();
      await app.get(TenancyService).ensureSandbox(org, 'Staging');
      expect(
        await app.get(TenancyService).findSandbox(org, 'staging'),
      ).toMatchObject({
        name: 'staging',
        type: 'development',
      });
      expect(await ctx.app()).toBe(app);
    } finally {
      await ctx.close();
    }
  });

  it('reports usage errors with a non-zero exit code', async () => {
    const missingOrg = await cli('clients create');
    expect(missingOrg.code).not.toBe(0);
    expect(missingOrg.err).toMatch(/--org/);
    const badName = await cli(
      `sandboxes create --org ${newOrg()} --name Bad_Name!`,
    );
    expect(badName.code).not.toBe(0);
    expect(badName.err).toMatch(/sandbox name/);
    const badOrg = await cli('sandboxes list --org x');
    expect(badOrg.code).not.toBe(0);
    const unknown = await cli('bogus');
    expect(unknown.code).not.toBe(0);
    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/clients/);
    expect(help.out).toMatch(/sandboxes/);
  });
});

describe('openDatabase', () => {
  it('joins an embedded server another live process runs on DATA_DIR/pg', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fse-opendb-'));
    chmodSync(dir, 0o755);
    const port = await freePort();
    const server = new EmbeddedDatabase({
      dataDir: join(dir, 'pg'),
      port,
      persistent: false,
    });
    await server.start();
    try {
      expect(runningPostmaster(join(dir, 'pg'))).toMatchObject({ port });
      // EMBEDDED_PG_PORT differs on purpose: the port comes from postmaster.pid.
      const env = loadEnv({
        DATA_DIR: dir,
        EMBEDDED_PG_PORT: String(port === 65000 ? 65001 : 65000),
      });
      const db = await openDatabase(env);
      expect(db.mode).toBe('embedded-shared');
      expect(db.port).toBe(port);
      await db.stop();
      // Stopping a shared server is a no-op: it still answers.
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const res = await client.query<{ one: number }>('SELECT 1 AS one');
      expect(res.rows[0]?.one).toBe(1);
      await client.end();
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(runningPostmaster(join(dir, 'pg'))).toBeUndefined();
  });

  it('uses DATABASE_URL as is', async () => {
    const url = inject('databaseUrl');
    const db = await openDatabase(loadEnv({ DATABASE_URL: url }));
    expect(db).toMatchObject({ url, mode: 'external' });
  });
});
