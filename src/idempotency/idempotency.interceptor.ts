import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { defer, lastValueFrom, map, type Observable } from 'rxjs';
import { DomainError, ErrorCode } from '../common/errors.js';
import type { AppRequest } from '../common/request-context.js';
import { fingerprint, parseIdempotencyKey } from './idempotency-key.js';
import { IdempotencyService } from './idempotency.service.js';

/** Set by @Idempotent(). */
export const IDEMPOTENT = 'fse:idempotent';

/** Response headers a replay repeats; the rest belong to each response (request id, rate limits). */
const REPLAYED_HEADERS = ['location', 'x-location', 'etag', 'content-location'];

/** Nest's @HttpCode metadata key. */
const HTTP_CODE = '__httpCode__';

/**
 * On the routes marked @Idempotent(), active when the request carries an
 * `Idempotency-Key`; runs after the auth guard, so the tenant is known, and
 * before the pipes, so the body is the one the client sent.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly reflector: Reflector,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (
      ctx.getType() !== 'http' ||
      !this.reflector.get<boolean>(IDEMPOTENT, ctx.getHandler())
    )
      return next.handle();
    const http = ctx.switchToHttp();
    const req = http.getRequest<AppRequest>();
    const res = http.getResponse<Response>();
    const raw = req.header('idempotency-key');
    const tenant = req.tenant;
    if (raw === undefined || !tenant) return next.handle();
    const parsed = parseIdempotencyKey(raw);
    if ('error' in parsed)
      throw new DomainError(ErrorCode.ValidationFailed, parsed.error, [
        { path: 'Idempotency-Key', message: parsed.error },
      ]);
    const status =
      this.reflector.get<number>(HTTP_CODE, ctx.getHandler()) ??
      (req.method === 'POST' ? 201 : 200);
    const outcome = defer(() =>
      this.idempotency.once(
        {
          tenant,
          key: parsed.key,
          route: `${req.method} ${req.path.replace(/\/+$/, '')}`,
          fingerprint: fingerprint(req.body),
        },
        async () => {
          const body = await lastValueFrom(next.handle(), {
            defaultValue: undefined,
          });
          const headers: Record<string, string> = {};
          for (const name of REPLAYED_HEADERS) {
            const value = res.getHeader(name);
            if (value !== undefined) headers[name] = String(value);
          }
          return { status, headers, body };
        },
      ),
    );
    return outcome.pipe(
      map((stored) => {
        if (stored.replayed) {
          for (const [name, value] of Object.entries(stored.headers))
            res.setHeader(name, value);
          res.setHeader('Idempotent-Replayed', 'true');
        }
        return stored.body;
      }),
    );
  }
}
