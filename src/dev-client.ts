import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Env, isEmbedded } from './config/env.js';
import type {
  CreatedClient,
  TenancyService,
} from './tenancy/tenancy.service.js';

export const DEFAULT_DEV_CLIENT_ID = 'flowservice-dev-client';
export const DEFAULT_DEV_ORG_ID = 'DEVORG0000000000000000000@AdobeOrg';

/**
 * The development client: created in the embedded default, or whenever
 * DEV_CLIENT_ID / DEV_CLIENT_SECRET / DEV_ORG_ID are set. Its generated secret
 * is kept under DATA_DIR so it stays the same across restarts.
 */
export async function ensureDevClient(
  env: Env,
  tenancy: TenancyService,
): Promise<CreatedClient | undefined> {
  const configured =
    env.DEV_CLIENT_ID ?? env.DEV_CLIENT_SECRET ?? env.DEV_ORG_ID;
  if (!isEmbedded(env) && configured === undefined) return undefined;
  let secret = env.DEV_CLIENT_SECRET;
  if (!secret) {
    const file = join(env.DATA_DIR, 'dev-client.json');
    const stored = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { secret?: string })
      : {};
    secret = stored.secret ?? `p8e-${randomBytes(24).toString('base64url')}`;
    mkdirSync(env.DATA_DIR, { recursive: true });
    writeFileSync(file, JSON.stringify({ secret }, null, 2), { mode: 0o600 });
  }
  return tenancy.createClient({
    clientId: env.DEV_CLIENT_ID ?? DEFAULT_DEV_CLIENT_ID,
    clientSecret: secret,
    orgId: env.DEV_ORG_ID ?? DEFAULT_DEV_ORG_ID,
    name: 'Development client',
    sandboxes: ['*'],
  });
}
