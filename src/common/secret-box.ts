import { Inject, Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { APP_SECRETS, type AppSecrets } from '../config/secrets.js';

/**
 * AES-256-GCM for secrets at rest (CONTRACT A5). Format:
 * `v1.<keyId>.<iv b64url>.<tag b64url>.<ciphertext b64url>`; the key id lets a
 * later release decrypt with an older key during rotation.
 */
@Injectable()
export class SecretBox {
  constructor(@Inject(APP_SECRETS) private readonly secrets: AppSecrets) {}

  seal(plain: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv(
      'aes-256-gcm',
      this.secrets.encryptionKey,
      iv,
    );
    const data = Buffer.concat([
      cipher.update(JSON.stringify(plain), 'utf8'),
      cipher.final(),
    ]);
    return [
      'v1',
      this.secrets.encryptionKeyId,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      data.toString('base64url'),
    ].join('.');
  }

  open<T = unknown>(sealed: string): T {
    const [version, keyId, iv, tag, data] = sealed.split('.');
    if (
      version !== 'v1' ||
      keyId !== this.secrets.encryptionKeyId ||
      !iv ||
      !tag ||
      data === undefined
    ) {
      throw new Error(
        `Cannot decrypt a secret sealed with key id ${keyId ?? '?'}`,
      );
    }
    const decipher = createDecipheriv(
      'aes-256-gcm',
      this.secrets.encryptionKey,
      Buffer.from(iv, 'base64url'),
    );
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([
      decipher.update(Buffer.from(data, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
    return JSON.parse(plain) as T;
  }
}
