import {
  type ArgumentMetadata,
  ParseArrayPipe,
  type PipeTransform,
} from '@nestjs/common';
import { DomainError, ErrorCode } from './errors.js';
import { PatchOperationDto } from './patch-operation.dto.js';
import { isResourceId } from './resource-id.js';
import { VALIDATION_OPTIONS, toValidationError } from './validation.js';

/**
 * Path ids must have an id's shape (anything else is a 400, never a database
 * error); whether one exists is for the service to say (a 404).
 */
export const uuidPipe: PipeTransform<unknown, string> = {
  transform(value: unknown): string {
    if (isResourceId(value)) return value;
    throw new DomainError(
      ErrorCode.ValidationFailed,
      'The id in the path must be 32 hex digits as 8-4-4-4-12 (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).',
      [{ path: 'id', message: 'must be 8-4-4-4-12 hex digits' }],
    );
  },
};

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

/**
 * A query parameter that may appear once: express turns `?op=a&op=b` into an
 * array, which would otherwise reach string code (a 500). A 400 instead.
 */
export const singleQueryPipe: PipeTransform<unknown, string | undefined> = {
  transform(value: unknown, metadata: ArgumentMetadata): string | undefined {
    if (value === undefined || typeof value === 'string') return value;
    const name = metadata.data ?? 'query';
    throw new DomainError(
      ErrorCode.ValidationFailed,
      `The query parameter ${name} must be given once, as a string.`,
      [{ path: name, message: 'must be a single string' }],
    );
  },
};
