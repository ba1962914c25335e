import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { RateLimitGuard, TOKEN_RATE_LIMIT } from './rate-limit.guard.js';

/**
 * Limits an unauthenticated credential exchange per `client_id` in the body
 * (TOKEN_RATE_LIMIT_PER_MINUTE). Authenticated Platform routes need no
 * marker: PlatformApi() limits them per client once the auth guard has run.
 */
export const TokenRateLimit = (): MethodDecorator =>
  applyDecorators(
    SetMetadata(TOKEN_RATE_LIMIT, true),
    UseGuards(RateLimitGuard),
  );
