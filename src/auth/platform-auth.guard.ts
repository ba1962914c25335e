import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
} from '@nestjs/common';
import type { AppRequest } from '../common/request-context.js';
import { PlatformAuthenticator } from './platform-authenticator.js';

/**
 * Platform routes' access check. The admission middleware (admission.ts)
 * normally authenticated the request before its body was read; the guard
 * reports that outcome through Nest's error filter, and authenticates itself
 * when the middleware did not run (an app without configureApp).
 */
@Injectable()
export class PlatformAuthGuard implements CanActivate {
  constructor(private readonly authenticator: PlatformAuthenticator) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AppRequest>();
    if (req.authFailure !== undefined) throw req.authFailure;
    req.tenant ??= await this.authenticator.authenticate(req.headers);
    return true;
  }
}
