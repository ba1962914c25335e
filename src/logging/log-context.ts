import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Response } from 'express';
import type { AppRequest } from '../common/request-context.js';

const storage = new AsyncLocalStorage<AppRequest>();

/**
 * Makes the request the log context of everything that runs for it, so every
 * line (Nest's loggers included) carries its request id and, once the guard
 * resolved it, the client id. Registered after the body parsers: their stream
 * callbacks run outside the context (they are created by the HTTP parser).
 */
export function logContext(
  req: AppRequest,
  _res: Response,
  next: NextFunction,
): void {
  storage.run(req, next);
}

/** Pino mixin: the current request's ids, or nothing outside a request. */
export function logContextFields(): Record<string, unknown> {
  const req = storage.getStore();
  if (!req) return {};
  return req.tenant
    ? { requestId: req.requestId, clientId: req.tenant.clientId }
    : { requestId: req.requestId };
}
