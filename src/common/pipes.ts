import { ParseArrayPipe, ParseUUIDPipe } from '@nestjs/common';
import { DomainError, ErrorCode } from './errors.js';
import { PatchOperationDto } from './patch-operation.dto.js';
import { VALIDATION_OPTIONS, toValidationError } from './validation.js';

/** Path ids must be uuids; anything else is a 400, never a database error. */
export const uuidPipe = new ParseUUIDPipe({
  version: 'all',
  exceptionFactory: () =>
    new DomainError(
      ErrorCode.ValidationFailed,
      'The id in the path must be a UUID.',
      [{ path: 'id', message: 'must be a UUID' }],
    ),
});

/** A JSON Patch body: a non-empty array of strict operations. */
export const patchPipe = new ParseArrayPipe({
  items: PatchOperationDto,
  ...VALIDATION_OPTIONS,
  exceptionFactory: (errors) =>
    Array.isArray(errors)
      ? toValidationError(errors)
      : new DomainError(
          ErrorCode.ValidationFailed,
          'The body must be a JSON Patch array.',
        ),
});
