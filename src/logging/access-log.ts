import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { AppRequest } from '../common/request-context.js';
import {
  type MetricsService,
  UNMATCHED_ROUTE,
} from '../metrics/metrics.service.js';

/** Status recorded when the client went away before the response was complete (nginx's convention). */
const CLIENT_CLOSED = 499;

/**
 * The route template Express matched (`/data/foundation/flowservice/flows/:id`),
 * never the raw URL: ids in label values would explode metric cardinality.
 */
function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : UNMATCHED_ROUTE;
}

/**
 * One access log line and the HTTP metrics per request, both recorded when
 * the response closes (finished, or abandoned by the client).
 */
export function accessLog(logger: Logger, metrics: MetricsService) {
  return (req: AppRequest, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED;
      const route = routeOf(req);
      metrics.observeHttp(req.method, route, status, seconds);
      const fields = {
        requestId: req.requestId,
        ...(req.tenant ? { clientId: req.tenant.clientId } : {}),
        method: req.method,
        route,
        // Path only: query strings can carry identities (entityId=<email>).
        path: req.path,
        status,
        durationMs: Math.round(seconds * 1e4) / 10,
      };
      if (status >= 500) logger.warn(fields, 'request completed');
      else logger.info(fields, 'request completed');
    });
    next();
  };
}
