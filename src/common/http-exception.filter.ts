import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';
import type { Response } from 'express';
import { randomUUID } from 'node:crypto';
import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable } from '../database/unavailable.js';
import { RequestExpired } from '../database/request-work.js';
import { mapErrorCode } from './error-mapping.js';
import { DomainError, ErrorCode } from './errors.js';
import type { AppRequest } from './request-context.js';

/**
 * The only place that speaks HTTP for errors. Bodies follow CONTRACT A2:
 * gateway errors as `{error_code, message}`, everything else as
 * `{code, message, errorMessage, errorDetails, requestId[, details]}`.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<AppRequest>();
    // A read finishing after its request timed out (already answered 503).
    if (res.headersSent && isHeadersSentError(exception)) return;
    const requestId = req.requestId ?? randomUUID();
    const error = this.toDomainError(exception, requestId);
    writeErrorResponse(res, error, requestId);
  }

  private toDomainError(exception: unknown, requestId: string): DomainError {
    if (exception instanceof DomainError) return exception;
    if (exception instanceof RequestExpired)
      return new DomainError(ErrorCode.RequestTimeout, exception.message);
    const bodyParser = bodyParserError(exception);
    if (bodyParser) return bodyParser;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 404)
        return new DomainError(
          ErrorCode.NotFound,
          'Resource with given id does not exist.',
        );
      if (status === 405 || status === 400)
        return new DomainError(ErrorCode.ValidationFailed, exception.message);
      if (status === 413)
        return new DomainError(
          ErrorCode.BodyTooLarge,
          'Request body is larger than the limit.',
        );
      if (status === 415)
        return new DomainError(
          ErrorCode.UnsupportedMediaType,
          exception.message,
        );
    }
    if (isDatabaseUnavailable(exception)) {
      // An outage, not a bug: no stack per request, and the driver's text
      // (host, port, server messages) stays in the log.
      this.logger.warn(
        { requestId, reason: describe(exception) },
        `database unavailable for request ${requestId}`,
      );
      return new DomainError(
        ErrorCode.DatabaseUnavailable,
        'The service is temporarily unavailable: its database cannot be reached. Retry the request later.',
        undefined,
        { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) },
      );
    }
    if (exception instanceof QueryFailedError) {
      const sqlState = (exception.driverError as { code?: string } | undefined)
        ?.code;
      if (sqlState === '23505')
        return new DomainError(
          ErrorCode.Conflict,
          'The resource already exists.',
        );
      if (sqlState === '22P02' || sqlState === '22023')
        return new DomainError(
          ErrorCode.ValidationFailed,
          'A value has an invalid format.',
        );
    }
    this.logger.error(
      { err: exception, requestId },
      `Unhandled error ${requestId}: ${exception instanceof Error ? exception.stack : String(exception)}`,
    );
    return new DomainError(
      ErrorCode.Internal,
      `An internal error occurred. Quote request id ${requestId} when reporting it.`,
    );
  }
}

/** A restart of PostgreSQL takes seconds; clients that honour Retry-After come back then. */
const DATABASE_RETRY_AFTER_SECONDS = 5;

function describe(exception: unknown): string {
  return exception instanceof Error ? exception.message : String(exception);
}

function isHeadersSentError(exception: unknown): boolean {
  return (
    (exception as { code?: unknown } | null)?.code === 'ERR_HTTP_HEADERS_SENT'
  );
}

/** Errors thrown by express's body parsers carry a `type` field. */
export function bodyParserError(exception: unknown): DomainError | undefined {
  if (typeof exception !== 'object' || exception === null) return undefined;
  const type = (exception as { type?: unknown }).type;
  switch (type) {
    case 'entity.parse.failed':
      return new DomainError(
        ErrorCode.MalformedJson,
        'The request body is not valid JSON.',
      );
    case 'entity.too.large':
      return new DomainError(
        ErrorCode.BodyTooLarge,
        'The request body is larger than the limit.',
      );
    case 'entity.shape.too-deep':
      return new DomainError(
        ErrorCode.ValidationFailed,
        'The request body is nested too deeply.',
        [{ path: '', message: 'nested too deeply' }],
      );
    case 'entity.shape.string':
      return new DomainError(
        ErrorCode.ValidationFailed,
        'The request body must be a JSON object or array, not a string.',
        [{ path: '', message: 'must be an object or array' }],
      );
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new DomainError(
        ErrorCode.UnsupportedMediaType,
        'The request body encoding is not supported.',
      );
    case 'request.aborted':
    case 'request.size.invalid':
      return new DomainError(
        ErrorCode.ValidationFailed,
        'The request body was incomplete.',
      );
    default:
      return undefined;
  }
}

/** Writes a domain error in the contract's shape; also used by middleware that runs before Nest's filters. */
export function writeErrorResponse(
  res: Response,
  error: DomainError,
  requestId: string,
): void {
  const mapped = mapErrorCode(error.code);
  if (res.headersSent) return;
  for (const [k, v] of Object.entries(error.headers ?? {})) res.setHeader(k, v);
  res.setHeader('x-request-id', requestId);
  switch (mapped.shape) {
    case 'gateway':
      res.status(mapped.status).json({
        error_code: mapped.code,
        message: mapped.fixedMessage ?? error.message,
      });
      return;
    case 'oauth':
      res
        .status(mapped.status)
        .json({ error: mapped.code, error_description: error.message });
      return;
    case 'content-type':
      res.status(mapped.status).json({
        type: '/placeholder/type/uri',
        status: mapped.status,
        title: mapped.code,
        detail: error.message,
      });
      return;
    case 'flow-service':
      res.status(mapped.status).json({
        code: mapped.code,
        message: error.message,
        errorMessage: error.message,
        errorDetails: error.message,
        requestId,
        ...(error.details?.length ? { details: error.details } : {}),
      });
      return;
  }
}
