import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode } from '../common/errors.js';
import { writeErrorResponse } from '../common/http-exception.filter.js';
import type { AppRequest } from '../common/request-context.js';

/** Bulk NDJSON loads are bounded by their size, not by time; cutting one off would hide which records landed. */
function exempt(req: Request): boolean {
  return (req.headers['content-type'] ?? '')
    .toLowerCase()
    .startsWith('application/x-ndjson');
}

/**
 * Answers 503 (code 1100-503, CONTRACT A2 shape) when a request has no
 * response after `ms`. The work itself is not cancelled: a write may still
 * complete after the client got the 503. The timer is cleared when the
 * response closes (sent, or the client went away), so none outlives it.
 */
export function requestTimeout(
  ms: number,
  onTimeout: () => void = () => undefined,
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (ms <= 0 || exempt(req)) return next();
    const timer = setTimeout(() => {
      // A response already streaming is left to finish.
      if (res.headersSent) return;
      onTimeout();
      writeErrorResponse(
        res,
        new DomainError(
          ErrorCode.RequestTimeout,
          `The request did not complete within ${ms} ms.`,
        ),
        (req as AppRequest).requestId ?? randomUUID(),
      );
    }, ms);
    res.once('close', () => clearTimeout(timer));
    next();
  };
}
