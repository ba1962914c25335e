import { SetMetadata } from '@nestjs/common';

export const TOKEN_RATE_LIMIT = 'fse:token-rate-limit';

/**
 * Limits an unauthenticated credential exchange per `client_id` in the body
 * (TOKEN_RATE_LIMIT_PER_MINUTE). Authenticated Platform routes need no
 * marker: they are limited per client once the auth guard has run.
 */
export const TokenRateLimit = (): MethodDecorator =>
  SetMetadata(TOKEN_RATE_LIMIT, true);
