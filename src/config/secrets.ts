import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Env, isEmbedded } from './env.js';

export interface AppSecrets {
  tokenSigningKey: string;
  encryptionKey: Buffer;
  encryptionKeyId: string;
}

export const APP_SECRETS = Symbol('APP_SECRETS');

/**
 * Keys come from the environment. In the embedded default, missing keys are
 * generated once and kept in DATA_DIR/secrets.json (mode 0600) so tokens and
 * encrypted connection secrets stay valid across restarts. With an external
 * database both keys are required: replicas must share them.
 */
export function resolveSecrets(env: Env): AppSecrets {
  let tokenSigningKey = env.TOKEN_SIGNING_KEY;
  let encryptionKey = env.ENCRYPTION_KEY;
  if (!tokenSigningKey || !encryptionKey) {
    if (!isEmbedded(env)) {
      const missing = [
        !tokenSigningKey && 'TOKEN_SIGNING_KEY',
        !encryptionKey && 'ENCRYPTION_KEY',
      ].filter(Boolean);
      throw new Error(
        `Invalid configuration:\n  - ${missing.join(', ')} must be set when DATABASE_URL is used (all replicas must share them)`,
      );
    }
    const file = join(env.DATA_DIR, 'secrets.json');
    let stored: { tokenSigningKey?: string; encryptionKey?: string } = {};
    if (existsSync(file))
      stored = JSON.parse(readFileSync(file, 'utf8')) as typeof stored;
    stored.tokenSigningKey ??= randomBytes(32).toString('base64url');
    stored.encryptionKey ??= randomBytes(32).toString('hex');
    mkdirSync(env.DATA_DIR, { recursive: true });
    writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
    tokenSigningKey ??= stored.tokenSigningKey;
    encryptionKey ??= stored.encryptionKey;
  }
  return {
    tokenSigningKey,
    encryptionKey: Buffer.from(encryptionKey, 'hex'),
    encryptionKeyId: env.ENCRYPTION_KEY_ID,
  };
}
