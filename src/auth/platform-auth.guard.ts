import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
} from '@nestjs/common';
import { DomainError, ErrorCode } from '../common/errors.js';
import type { AppRequest } from '../common/request-context.js';
import { TenancyService } from '../tenancy/tenancy.service.js';
import { TokenService } from './token.service.js';

const header = (req: AppRequest, name: string): string | undefined => {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s?.trim() ? s.trim() : undefined;
};

/**
 * Adobe's gateway checks, in Adobe's order and with its exact error bodies
 * (CONTRACT A1, A10), then resolves the tenant every query is scoped by.
 */
@Injectable()
export class PlatformAuthGuard implements CanActivate {
  constructor(
    private readonly tokens: TokenService,
    private readonly tenancy: TenancyService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AppRequest>();
    const auth = header(req, 'authorization');
    if (!auth)
      throw new DomainError(ErrorCode.TokenMissing, 'Oauth token is missing.');
    const match = /^bearer\s+(\S+)$/i.exec(auth);
    if (!match?.[1])
      throw new DomainError(ErrorCode.TokenInvalid, 'Oauth token is not valid');
    const claims = await this.tokens.verify(match[1]);
    const apiKey = header(req, 'x-api-key');
    if (!apiKey)
      throw new DomainError(ErrorCode.ApiKeyMissing, 'Api Key is required');
    if (apiKey !== claims.clientId)
      throw new DomainError(ErrorCode.ApiKeyInvalid, 'Api Key is invalid');
    const orgId = header(req, 'x-gw-ims-org-id');
    if (!orgId) throw new DomainError(ErrorCode.OrgMissing, 'Missing header');
    if (orgId !== claims.orgId)
      throw new DomainError(ErrorCode.OrgNotEntitled, 'Profile is not valid');
    const sandboxName = (header(req, 'x-sandbox-name') ?? 'prod').toLowerCase();
    const client = await this.tenancy.findClient(claims.clientId);
    if (!client || client.orgId !== orgId) {
      // The client was deleted or moved after the token was issued.
      throw new DomainError(ErrorCode.TokenInvalid, 'Oauth token is not valid');
    }
    const allowed =
      client.sandboxes.includes('*') || client.sandboxes.includes(sandboxName);
    const sandbox = allowed
      ? await this.tenancy.findSandbox(orgId, sandboxName)
      : null;
    if (!sandbox) {
      throw new DomainError(
        ErrorCode.SandboxNotFound,
        `The sandbox with the name '${sandboxName}' could not be found.`,
      );
    }
    req.tenant = {
      orgId,
      sandboxName,
      sandboxId: sandbox.id,
      sandboxType: sandbox.type,
      clientId: claims.clientId,
    };
    return true;
  }
}
