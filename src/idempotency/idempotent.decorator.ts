import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import { MAX_KEY_LENGTH } from './idempotency-key.js';

export const IDEMPOTENT = 'fse:idempotent';

const error = { $ref: '#/components/schemas/FlowServiceError' };

/**
 * Marks a create route as accepting `Idempotency-Key` (IdempotencyInterceptor
 * does the work) and documents the header and its answers.
 */
export const Idempotent = (): MethodDecorator =>
  applyDecorators(
    SetMetadata(IDEMPOTENT, true),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        `A unique value (1–${MAX_KEY_LENGTH} printable ASCII characters, bare or as a quoted string) that makes retrying this request safe. ` +
        'For 24 hours (IDEMPOTENCY_TTL_HOURS), a request with the same key and the same body from the same client, org and sandbox ' +
        'returns the original response (status, body, Location, with `Idempotent-Replayed: true`) and creates nothing; ' +
        'the same key with a different body or route is a 422, and one sent while the first is still running a 409. ' +
        'Only successful responses are remembered.',
      schema: { type: 'string', maxLength: MAX_KEY_LENGTH },
    }),
    ApiResponse({
      status: 409,
      description:
        'A request with the same Idempotency-Key is still being processed (1100-409); retry after it completes.',
      schema: error,
    }),
    ApiResponse({
      status: 422,
      description:
        'The Idempotency-Key was already used with a different body or route (1100-422), or the create itself was refused with 422.',
      schema: error,
    }),
  );
