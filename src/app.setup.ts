import type { INestApplication } from '@nestjs/common';
import {
  DocumentBuilder,
  type OpenAPIObject,
  SwaggerModule,
} from '@nestjs/swagger';
import express, {
  type NextFunction,
  type RequestHandler,
  type Response,
} from 'express';
import { randomUUID } from 'node:crypto';
import { admission } from './auth/admission.js';
import { DomainError, ErrorCode } from './common/errors.js';
import {
  type BodyShapeProblem,
  jsonBodyProblem,
} from './common/json-body-shape.js';
import {
  bodyParserError,
  writeErrorResponse,
} from './common/http-exception.filter.js';
import type { AppRequest } from './common/request-context.js';
import type { Env } from './config/env.js';
import { accessLog } from './logging/access-log.js';
import { enterRequestWork, requestTimeout } from './limits/request-timeout.js';
import { trackRequestWork } from './database/request-work.js';
import { DataSource } from 'typeorm';
import { logContext } from './logging/log-context.js';
import { APP_LOGGER } from './logging/logger.js';
import { MetricsService } from './metrics/metrics.service.js';
import { serveConsole } from './web-console/serve-console.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Routes whose bodies are not JSON, with the media types they take. */
const OTHER_BODY_TYPES: Record<string, string[]> = {
  '/ims/token/v3': ['application/x-www-form-urlencoded', 'application/json'],
  '/data/core/ups/ingest/profiles': [
    'application/json',
    'application/x-ndjson',
  ],
};

function requestId(req: AppRequest, res: Response, next: NextFunction): void {
  const supplied = req.header('x-request-id');
  req.requestId =
    supplied && REQUEST_ID.test(supplied) ? supplied : randomUUID();
  res.setHeader('x-request-id', req.requestId);
  next();
}

function hasBody(req: AppRequest): boolean {
  const length = req.header('content-length');
  return (
    (length !== undefined && length !== '0') ||
    req.header('transfer-encoding') !== undefined
  );
}

/** CONTRACT A1: requests with a body must say `application/json` (or the route's own type). */
function contentType(req: AppRequest, res: Response, next: NextFunction): void {
  if (!['POST', 'PUT', 'PATCH'].includes(req.method) || !hasBody(req))
    return next();
  const allowed = OTHER_BODY_TYPES[req.path.replace(/\/+$/, '')] ?? [
    'application/json',
  ];
  const type =
    (req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ??
    '';
  if (
    allowed.includes(type) ||
    (allowed.includes('application/json') &&
      type === 'application/json-patch+json')
  )
    return next();
  writeErrorResponse(
    res,
    new DomainError(
      ErrorCode.ContentTypeInvalid,
      'A valid content-type must be specified',
    ),
    req.requestId ?? randomUUID(),
  );
}

/** Body parsers whose errors are answered in our shape (they run before Nest's filter). */
function guarded(parser: RequestHandler): RequestHandler {
  return (req, res, next) =>
    parser(req, res, (err?: unknown) => {
      if (!err) return next();
      const error =
        bodyParserError(err) ??
        new DomainError(
          ErrorCode.ValidationFailed,
          'The request body could not be read.',
        );
      writeErrorResponse(
        res,
        error,
        (req as AppRequest).requestId ?? randomUUID(),
      );
    });
}

const TOKEN_PATH = '/ims/token/v3';
/** The token request's body is the credentials: a few hundred bytes. */
const TOKEN_BODY_LIMIT = '8kb';
/** Bulk NDJSON ingestion is larger than a JSON request by design. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * A parser's `verify` hook refusing, before parsing, bodies the routes would
 * choke on (json-body-shape.ts); bodyParserError answers it.
 */
function refuse(
  problemOf: (buf: Buffer) => BodyShapeProblem | undefined,
): (req: unknown, res: unknown, buf: Buffer) => void {
  return (_req, _res, buf) => {
    const problem = problemOf(buf);
    if (problem)
      throw Object.assign(new Error(problem), {
        type: `entity.shape.${problem}`,
      });
  };
}

/**
 * Reads a body only where one is taken and only from a known caller: the
 * token route's (small) credentials, and Platform routes once the admission
 * middleware authenticated the caller. Any other body is never read; the
 * connection is closed after the answer so it is not read afterwards either.
 */
function bodies(env: Env): RequestHandler {
  const maxDepth = env.BODY_MAX_DEPTH;
  const verify = refuse((buf) => jsonBodyProblem(buf, maxDepth));
  const jsonTypes = ['application/json', 'application/json-patch+json'];
  const tokenJson = guarded(
    express.json({ limit: TOKEN_BODY_LIMIT, type: jsonTypes, verify }),
  );
  const tokenForm = guarded(
    express.urlencoded({ limit: TOKEN_BODY_LIMIT, extended: false }),
  );
  const json = guarded(
    express.json({
      limit: env.BODY_LIMIT,
      type: jsonTypes,
      // Scalars reach the routes' validation, which answers in our shape.
      strict: false,
      verify,
    }),
  );
  // NDJSON is not parsed here: the ingest route reads it as a stream, batch
  // by batch (each line's depth is checked there).
  return (req, res, next) => {
    const path = req.path.replace(/\/+$/, '').toLowerCase();
    const taken =
      BODY_METHODS.has(req.method) &&
      (path === TOKEN_PATH || (req as AppRequest).tenant !== undefined);
    if (!taken) {
      if (hasBody(req as AppRequest)) res.setHeader('connection', 'close');
      return next();
    }
    if (path === TOKEN_PATH)
      return tokenJson(req, res, () => tokenForm(req, res, next));
    return json(req, res, next);
  };
}

/** Everything main.ts and the tests both need on the HTTP app. */
export function configureApp(app: INestApplication, env: Env): void {
  app.use(requestId);
  const metrics = app.get(MetricsService);
  app.use(accessLog(app.get(APP_LOGGER), metrics));
  app.use(
    requestTimeout(env.REQUEST_TIMEOUT_MS, {
      onTimeout: () => metrics.recordTimeout(),
      cancel: trackRequestWork(app.get(DataSource)),
    }),
  );
  app.use(contentType);
  app.use(admission(app));
  app.use(bodies(env));
  app.use(logContext);
  app.use(enterRequestWork);
  serveConsole(app);
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('flowservice-eventhubs')
    .setDescription(
      'Adobe Experience Platform Flow Service API for Azure Event Hubs streaming destinations, self-hosted. ' +
        'Get a token from POST /ims/token/v3, then Authorize with the token, your client id as x-api-key, your org as x-gw-ims-org-id and a sandbox (default prod).',
    )
    .setVersion('1.0')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      'bearer',
    )
    .addApiKey({ type: 'apiKey', in: 'header', name: 'x-api-key' }, 'x-api-key')
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'x-gw-ims-org-id' },
      'x-gw-ims-org-id',
    )
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'x-sandbox-name' },
      'x-sandbox-name',
    )
    .build();
  // Every controller names its tags; the automatic controller-name tag would
  // list the catalogue's routes a second time under "Catalog".
  return documentErrors(
    SwaggerModule.createDocument(app, config, { autoTagControllers: false }),
  );
}

type Schema = Record<string, unknown>;
type Operation = {
  security?: Record<string, string[]>[];
  responses?: Record<string, unknown>;
  requestBody?: unknown;
  parameters?: { in?: string; name?: string }[];
};

const ERROR_SCHEMAS: Record<string, Schema> = {
  FlowServiceError: {
    type: 'object',
    description:
      'Flow Service error (CONTRACT A2): `code` from the catalogue (`NNNN-HTTP`), published texts in `errorMessage`/`errorDetails`.',
    required: ['code', 'message', 'errorMessage', 'errorDetails', 'requestId'],
    properties: {
      code: { type: 'string', example: '1404-412' },
      message: { type: 'string' },
      errorMessage: { type: 'string' },
      errorDetails: { type: 'string' },
      requestId: { type: 'string' },
      details: {
        type: 'array',
        description: 'Validation problems, one per field.',
        items: {
          type: 'object',
          required: ['path', 'message'],
          properties: {
            path: { type: 'string', example: 'auth.params.sasKey' },
            message: { type: 'string' },
          },
        },
      },
    },
  },
  GatewayError: {
    type: 'object',
    description: "Adobe's gateway error body.",
    required: ['error_code', 'message'],
    properties: {
      error_code: { type: 'string', example: '403010' },
      message: { type: 'string', example: 'Oauth token is missing.' },
    },
  },
  ContentTypeError: {
    type: 'object',
    description: 'A body without a valid Content-Type.',
    required: ['type', 'status', 'title', 'detail'],
    properties: {
      type: { type: 'string', example: '/placeholder/type/uri' },
      status: { type: 'integer', example: 400 },
      title: { type: 'string', example: 'BadRequestError' },
      detail: {
        type: 'string',
        example: 'A valid content-type must be specified',
      },
    },
  },
  OAuthError: {
    type: 'object',
    required: ['error', 'error_description'],
    properties: {
      error: { type: 'string', example: 'invalid_client' },
      error_description: { type: 'string' },
    },
  },
};

const ref = (name: string): Schema => ({
  $ref: `#/components/schemas/${name}`,
});
const response = (description: string, ...schemas: string[]): Schema => ({
  description,
  content: {
    'application/json': {
      schema:
        schemas.length === 1
          ? ref(schemas[0] ?? '')
          : { oneOf: schemas.map(ref) },
    },
  },
});

/**
 * Documents the error responses every operation shares, in one place, so
 * endpoints added later get them too; an operation's own `@ApiResponse` wins.
 */
function documentErrors(document: OpenAPIObject): OpenAPIObject {
  const components = (document.components ??= {});
  const schemas = (components.schemas ??= {});
  Object.assign(schemas, ERROR_SCHEMAS);
  for (const item of Object.values(document.paths)) {
    for (const [method, value] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const op = value as Operation;
      const responses = (op.responses ??= {});
      const add = (status: string, body: Schema): void => {
        responses[status] ??= body;
      };
      const platform = (op.security ?? []).some((s) => 'bearer' in s);
      const hasBody = op.requestBody !== undefined;
      if (platform) {
        add(
          '400',
          hasBody
            ? response(
                'Invalid request: validation (1100-400, with `details`), catalogue rules (14xx-400), missing x-gw-ims-org-id (400003), or a body without `Content-Type: application/json`.',
                'FlowServiceError',
                'GatewayError',
                'ContentTypeError',
              )
            : response(
                'Invalid request or query parameters (1100-400, 14xx-400), or missing x-gw-ims-org-id (400003).',
                'FlowServiceError',
                'GatewayError',
              ),
        );
        add(
          '401',
          response('Token invalid or expired (401013).', 'GatewayError'),
        );
        add(
          '403',
          response(
            "Token missing (403010), x-api-key missing (403000) or not the token's client (403003), org not the client's (403025).",
            'GatewayError',
          ),
        );
        add(
          '404',
          response(
            'Unknown id (1101-404) or a sandbox the client may not use (2100-404).',
            'FlowServiceError',
          ),
        );
        if (method === 'patch')
          add(
            '412',
            response(
              'If-Match is stale or not quoted (1404-412).',
              'FlowServiceError',
            ),
          );
        if (
          (op.parameters ?? []).some(
            (p) => p.in === 'header' && p.name === 'Idempotency-Key',
          )
        ) {
          add(
            '409',
            response(
              'A request with the same Idempotency-Key is still being processed (1100-409); retry after it completes.',
              'FlowServiceError',
            ),
          );
          add(
            '422',
            response(
              'The Idempotency-Key was already used with a different body or route (1100-422), or the create itself was refused with 422.',
              'FlowServiceError',
            ),
          );
        }
        if (hasBody)
          add(
            '413',
            response('The body is larger than 1 MB.', 'FlowServiceError'),
          );
      } else if (hasBody) {
        add(
          '400',
          response('Invalid request.', 'OAuthError', 'ContentTypeError'),
        );
        add('401', response('Unknown client or wrong secret.', 'OAuthError'));
      }
      add(
        '500',
        response(
          'Unexpected error: a generic message and the request id, nothing else.',
          'FlowServiceError',
        ),
      );
    }
  }
  return document;
}

export function setupSwagger(app: INestApplication): OpenAPIObject {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    swaggerOptions: { persistAuthorization: true },
  });
  return document;
}
