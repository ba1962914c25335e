import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { MAX_KEY_LENGTH } from './idempotency-key.js';
import {
  IDEMPOTENT,
  IdempotencyInterceptor,
} from './idempotency.interceptor.js';

/**
 * Marks a create route as accepting `Idempotency-Key` (IdempotencyInterceptor
 * does the work; the controller's module imports IdempotencyModule) and
 * documents the header (its 409 and 422 are added with
 * the shared error responses, app.setup.ts).
 */
export const Idempotent = (): MethodDecorator =>
  applyDecorators(
    SetMetadata(IDEMPOTENT, true),
    UseInterceptors(IdempotencyInterceptor),
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
  );
