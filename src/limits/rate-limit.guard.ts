import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, ErrorCode } from '../common/errors.js';
import type { AppRequest } from '../common/request-context.js';
import { ENV, type Env } from '../config/env.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { type RateDecision, RateLimiter } from './rate-limiter.service.js';

/** Set by @TokenRateLimit(). */
export const TOKEN_RATE_LIMIT = 'fse:token-rate-limit';

interface Rule {
  scope: 'client' | 'token';
  bucket: string;
  limit: number;
}

/**
 * Counts a request against its client's limit, or refuses it (429). On
 * Platform routes it runs after PlatformAuthGuard (PlatformApi() lists both),
 * so the tenant is known and an unauthenticated request is never counted;
 * on @TokenRateLimit() routes it limits per `client_id` in the body. A guard
 * rather than an interceptor: a route without interceptors skips Nest's
 * observable pipeline, which costs more than the counting on a GET by id.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    @Inject(ENV) private readonly env: Env,
    private readonly limiter: RateLimiter,
    private readonly metrics: MetricsService,
    private readonly reflector: Reflector,
  ) {}

  canActivate(ctx: ExecutionContext): boolean | Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const rule = this.ruleFor(ctx, ctx.switchToHttp().getRequest<AppRequest>());
    if (!rule) return true;
    const decision = this.limiter.consume(rule.bucket, rule.limit);
    return decision instanceof Promise
      ? decision.then((d) => this.admit(rule, d))
      : this.admit(rule, decision);
  }

  private admit(rule: Rule, decision: RateDecision): boolean {
    if (decision.allowed) return true;
    this.metrics.recordRateLimited(rule.scope);
    throw new DomainError(
      ErrorCode.RateLimited,
      `Too many requests: the limit is ${rule.limit} per minute. Retry after ${decision.retryAfterSeconds} seconds.`,
      undefined,
      { 'Retry-After': String(decision.retryAfterSeconds) },
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
