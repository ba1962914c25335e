import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode } from '../common/errors.js';
import { writeErrorResponse } from '../common/http-exception.filter.js';
import type { AppRequest } from '../common/request-context.js';
import { RequestWork, runAsRequestWork } from '../database/request-work.js';

/** Bulk NDJSON loads are bounded by their size, not by time; cutting one off would hide which records landed. */
function exempt(req: Request): boolean {
  return (req.headers['content-type'] ?? '')
    .toLowerCase()
    .startsWith('application/x-ndjson');
}

/** Methods that change nothing: answering before their work ends tells no lie. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface RequestTimeoutOptions {
  onTimeout?: () => void;
  /** Cancels database statements by backend pid (see trackRequestWork). */
  cancel?: (pids: number[]) => Promise<void>;
}

/**
 * Gives a request `ms` to answer (code 1100-503, CONTRACT A2 shape, when it
 * does not). At the deadline its database work is cancelled and every later
 * statement refused (RequestWork), so nothing it does can commit any more.
 * A read is answered 503 at once. A write is not: its handler settles within
 * moments (its statements fail) and its outcome is the answer — 503 when its
 * transaction rolled back, its real result when it committed first. A client
 * that gets 503 may therefore retry without creating anything twice.
 * The timer is cleared when the response closes, so none outlives it.
 */
export function requestTimeout(
  ms: number,
  opts: RequestTimeoutOptions = {},
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (ms <= 0 || exempt(req)) return next();
    const work = new RequestWork(ms, opts.cancel);
    (req as AppRequest).work = work;
    const timer = setTimeout(() => {
      // A response already streaming is left to finish.
      if (res.headersSent) return;
      opts.onTimeout?.();
      work.expire();
      if (!SAFE.has(req.method ?? 'GET')) return;
      writeErrorResponse(
        res,
        new DomainError(
          ErrorCode.RequestTimeout,
          `The request did not complete within ${ms} ms.`,
        ),
        (req as AppRequest).requestId ?? randomUUID(),
      );
    }, ms);
    res.once('close', () => {
      clearTimeout(timer);
      work.finish();
    });
    next();
  };
}

/**
 * Runs the rest of the request inside its RequestWork. Registered after the
 * body parsers: their stream callbacks run outside any async context.
 */
export function enterRequestWork(
  req: AppRequest,
  _res: Response,
  next: NextFunction,
): void {
  if (!req.work) return next();
  runAsRequestWork(req.work, next);
}
