import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { from, mergeMap, type Observable } from 'rxjs';
import { DomainError, ErrorCode } from '../common/errors.js';
import type { AppRequest } from '../common/request-context.js';
import { ENV, type Env } from '../config/env.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { TOKEN_RATE_LIMIT } from './rate-limit.decorator.js';
import { RateLimiter } from './rate-limiter.service.js';

interface Rule {
  scope: 'client' | 'token';
  bucket: string;
  limit: number;
}

/**
 * Global: interceptors run after guards, so on Platform routes the tenant
 * (and its client id) is known. Routes without a tenant and without
 * @TokenRateLimit() (health, metrics, docs) are not limited.
 */
@Injectable()
export class RateLimitInterceptor implements NestInterceptor {
  constructor(
    @Inject(ENV) private readonly env: Env,
    private readonly limiter: RateLimiter,
    private readonly metrics: MetricsService,
    private readonly reflector: Reflector,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const rule = this.ruleFor(ctx, ctx.switchToHttp().getRequest<AppRequest>());
    if (!rule) return next.handle();
    return from(this.limiter.consume(rule.bucket, rule.limit)).pipe(
      mergeMap((decision) => {
        if (!decision.allowed) {
          this.metrics.recordRateLimited(rule.scope);
          throw new DomainError(
            ErrorCode.RateLimited,
            `Too many requests: the limit is ${rule.limit} per minute. Retry after ${decision.retryAfterSeconds} seconds.`,
            undefined,
            { 'Retry-After': String(decision.retryAfterSeconds) },
          );
        }
        return next.handle();
      }),
    );
  }

  private ruleFor(ctx: ExecutionContext, req: AppRequest): Rule | undefined {
    if (req.tenant) {
      const limit = this.env.RATE_LIMIT_PER_MINUTE;
      return limit > 0
        ? { scope: 'client', bucket: `client:${req.tenant.clientId}`, limit }
        : undefined;
    }
    if (!this.reflector.get<boolean>(TOKEN_RATE_LIMIT, ctx.getHandler()))
      return undefined;
    const limit = this.env.TOKEN_RATE_LIMIT_PER_MINUTE;
    const clientId = (req.body as { client_id?: unknown } | undefined)
      ?.client_id;
    // Without a plausible client_id the request fails validation anyway.
    if (limit <= 0 || typeof clientId !== 'string' || clientId.length > 128)
      return undefined;
    return { scope: 'token', bucket: `token:${clientId}`, limit };
  }
}
