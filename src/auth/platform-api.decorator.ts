import {
  applyDecorators,
  createParamDecorator,
  type ExecutionContext,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiSecurity } from '@nestjs/swagger';
import { RateLimitGuard } from '../limits/rate-limit.guard.js';
import { PlatformAuthGuard } from './platform-auth.guard.js';
import type { AppRequest, Tenant } from '../common/request-context.js';

/** The tenant resolved by PlatformAuthGuard. */
export const CurrentTenant = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Tenant => {
    const tenant = ctx.switchToHttp().getRequest<AppRequest>().tenant;
    if (!tenant)
      throw new Error('CurrentTenant used on a route without PlatformApi()');
    return tenant;
  },
);

/**
 * Marks a controller as a Platform API: token + Adobe headers (then the
 * client's rate limit, once the client is known), documented for Swagger UI.
 */
export function PlatformApi(): ClassDecorator & MethodDecorator {
  return applyDecorators(
    UseGuards(PlatformAuthGuard, RateLimitGuard),
    ApiBearerAuth('bearer'),
    ApiSecurity('x-api-key'),
    ApiSecurity('x-gw-ims-org-id'),
    ApiSecurity('x-sandbox-name'),
    ApiHeader({
      name: 'x-request-id',
      required: false,
      description: 'Echoed in the response and in logs.',
    }),
  );
}
