import { Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { DomainError, ErrorCode } from '../common/errors.js';
import type { Tenant } from '../common/request-context.js';
import { TenancyCache } from '../tenancy/tenancy-cache.js';
import { secretIdOf, TokenService } from './token.service.js';

const header = (
  headers: IncomingHttpHeaders,
  name: string,
): string | undefined => {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s?.trim() ? s.trim() : undefined;
};

/**
 * Adobe's gateway checks, in Adobe's order and with its exact error bodies
 * (CONTRACT A1, A10), then the tenant every query is scoped by. Headers only:
 * it runs before the body is read (see admission.ts) and in the guard. The
 * client and sandbox come from TenancyCache: a recently seen caller costs no
 * database round trip.
 */
@Injectable()
export class PlatformAuthenticator {
  /** secretIdOf a cached client's hash (a SHA-256), once per cache entry rather than per request. */
  private readonly secretIds = new WeakMap<object, string>();

  constructor(
    private readonly tokens: TokenService,
    private readonly tenancy: TenancyCache,
  ) {}

  async authenticate(headers: IncomingHttpHeaders): Promise<Tenant> {
    const auth = header(headers, 'authorization');
    if (!auth)
      throw new DomainError(ErrorCode.TokenMissing, 'Oauth token is missing.');
    const match = /^bearer\s+(\S+)$/i.exec(auth);
    if (!match?.[1])
      throw new DomainError(ErrorCode.TokenInvalid, 'Oauth token is not valid');
    const claims = await this.tokens.verify(match[1]);
    const apiKey = header(headers, 'x-api-key');
    if (!apiKey)
      throw new DomainError(ErrorCode.ApiKeyMissing, 'Api Key is required');
    if (apiKey !== claims.clientId)
      throw new DomainError(ErrorCode.ApiKeyInvalid, 'Api Key is invalid');
    const orgId = header(headers, 'x-gw-ims-org-id');
    if (!orgId) throw new DomainError(ErrorCode.OrgMissing, 'Missing header');
    if (orgId !== claims.orgId)
      throw new DomainError(ErrorCode.OrgNotEntitled, 'Profile is not valid');
    const sandboxName = (
      header(headers, 'x-sandbox-name') ?? 'prod'
    ).toLowerCase();
    const client = await this.tenancy.client(claims.clientId);
    if (
      !client ||
      client.orgId !== orgId ||
      // The secret was rotated after the token was issued.
      this.secretIdOf(client) !== claims.secretId
    ) {
      // Or the client was deleted or moved after the token was issued.
      throw new DomainError(ErrorCode.TokenInvalid, 'Oauth token is not valid');
    }
    const allowed =
      client.sandboxes.includes('*') || client.sandboxes.includes(sandboxName);
    const sandbox = allowed
      ? await this.tenancy.sandbox(orgId, sandboxName)
      : null;
    if (!sandbox) {
      throw new DomainError(
        ErrorCode.SandboxNotFound,
        `The sandbox with the name '${sandboxName}' could not be found.`,
      );
    }
    return {
      orgId,
      sandboxName,
      sandboxId: sandbox.id,
      sandboxType: sandbox.type,
      clientId: claims.clientId,
    };
  }

  private secretIdOf(client: { secretHash: string }): string {
    let id = this.secretIds.get(client);
    if (id === undefined) {
      id = secretIdOf(client.secretHash);
      this.secretIds.set(client, id);
    }
    return id;
  }
}
