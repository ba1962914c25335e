import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { createHash } from 'node:crypto';
import { Repository } from 'typeorm';
import { DomainError, ErrorCode } from '../common/errors.js';
import { APP_SECRETS, type AppSecrets } from '../config/secrets.js';
import { ENV, Env } from '../config/env.js';
import { ClientEntity } from '../tenancy/client.entity.js';
import { verifySecret } from '../tenancy/secret-hash.js';
import { TtlCache } from '../tenancy/ttl-cache.js';

export interface TokenClaims {
  clientId: string;
  orgId: string;
  /** secretIdOf the client's secret hash when the token was issued. */
  secretId: string;
}

/**
 * A short digest of a client's stored secret hash, carried in its tokens: a
 * rotated secret (a new salted hash) makes every earlier token invalid, at
 * the cost of the client read the auth check does anyway.
 */
export function secretIdOf(secretHash: string): string {
  return createHash('sha256')
    .update(secretHash)
    .digest('base64url')
    .slice(0, 22);
}

const ISSUER = 'flowservice-eventhubs';
const AUDIENCE = 'platform';

@Injectable()
export class TokenService {
  private readonly key: Uint8Array;
  /** Verified secrets, so a script asking for tokens in a loop does not pay scrypt each time. */
  private readonly verified = new Map<string, string>();
  /**
   * Tokens whose signature was checked, with their claims and expiry: a
   * token is immutable, so its verdict holds until it expires. Whether its
   * client still accepts it (rotation, deletion) is checked per request.
   */
  private readonly checked: TtlCache<TokenClaims & { expiresAt: number }>;

  constructor(
    @InjectRepository(ClientEntity)
    private readonly clients: Repository<ClientEntity>,
    @Inject(APP_SECRETS) secrets: AppSecrets,
    @Inject(ENV) private readonly env: Env,
  ) {
    this.key = new TextEncoder().encode(secrets.tokenSigningKey);
    this.checked = new TtlCache(
      env.AUTH_CACHE_TTL_MS,
      env.AUTH_CACHE_MAX_ENTRIES,
    );
  }

  async issue(
    grantType: string | undefined,
    clientId: string | undefined,
    clientSecret: string | undefined,
  ): Promise<{
    access_token: string;
    token_type: 'bearer';
    expires_in: number;
  }> {
    if (grantType !== 'client_credentials') {
      throw new DomainError(
        ErrorCode.OAuthUnsupportedGrantType,
        'grant_type must be client_credentials',
      );
    }
    if (!clientId || !clientSecret) {
      throw new DomainError(
        ErrorCode.OAuthInvalidRequest,
        'client_id and client_secret are required',
      );
    }
    const client = await this.clients.findOne({ where: { clientId } });
    if (!client || !(await this.checkSecret(client, clientSecret))) {
      throw new DomainError(
        ErrorCode.OAuthInvalidClient,
        'invalid client_id or client_secret',
      );
    }
    const ttl = this.env.TOKEN_TTL_SECONDS;
    const token = await new SignJWT({
      org: client.orgId,
      client_id: client.clientId,
      sid: secretIdOf(client.secretHash),
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(client.clientId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${ttl}s`)
      .sign(this.key);
    return { access_token: token, token_type: 'bearer', expires_in: ttl };
  }

  /** Verifies signature, issuer, audience and expiry; any failure is `401013`. */
  async verify(token: string): Promise<TokenClaims> {
    const hit = this.checked.get(token);
    if (hit && hit.expiresAt > Date.now()) return hit;
    const generation = this.checked.generation();
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
      });
      const clientId = payload.client_id;
      const orgId = payload.org;
      const secretId = payload.sid;
      if (
        typeof clientId !== 'string' ||
        typeof orgId !== 'string' ||
        typeof secretId !== 'string' ||
        typeof payload.exp !== 'number'
      ) {
        throw new DomainError(
          ErrorCode.TokenInvalid,
          'Oauth token is not valid',
        );
      }
      const claims = { clientId, orgId, secretId };
      this.checked.set(
        token,
        { ...claims, expiresAt: payload.exp * 1000 },
        generation,
      );
      return claims;
    } catch (err) {
      if (err instanceof DomainError) throw err;
      if (err instanceof joseErrors.JOSEError) {
        throw new DomainError(
          ErrorCode.TokenInvalid,
          'Oauth token is not valid',
        );
      }
      throw err;
    }
  }

  private async checkSecret(
    client: ClientEntity,
    secret: string,
  ): Promise<boolean> {
    // Only a digest of (stored hash, secret) is cached, never the secret itself.
    const digest = createHash('sha256')
      .update(client.secretHash)
      .update('\u0000')
      .update(secret)
      .digest('hex');
    if (this.verified.get(client.clientId) === digest) return true;
    const ok = await verifySecret(secret, client.secretHash);
    if (ok) this.verified.set(client.clientId, digest);
    return ok;
  }
}
