import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
} from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { DomainError, ErrorCode } from '../common/errors.js';
import type { AppRequest } from '../common/request-context.js';
import { ENV, type Env } from '../config/env.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** METRICS_TOKEN, when set, as a bearer token on /metrics (a Prometheus `authorization` block). */
@Injectable()
export class MetricsTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(@Inject(ENV) env: Env) {
    if (env.METRICS_TOKEN) this.expected = digest(env.METRICS_TOKEN);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) return true;
    const auth = context
      .switchToHttp()
      .getRequest<AppRequest>()
      .header('authorization');
    const token = /^bearer\s+(\S+)$/i.exec(auth?.trim() ?? '')?.[1];
    // Digests compared in constant time: equal lengths, and no early exit.
    if (token && timingSafeEqual(digest(token), this.expected)) return true;
    throw new DomainError(
      ErrorCode.Unauthorized,
      'The metrics endpoint requires its bearer token.',
      undefined,
      { 'WWW-Authenticate': 'Bearer' },
    );
  }
}
