import {
  type ArgumentMetadata,
  ValidationPipe,
  type ValidationError,
} from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import {
  DomainError,
  ErrorCode,
  type ErrorDetail,
  validationFailed,
} from './errors.js';

export const VALIDATION_OPTIONS = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
} as const;

function flatten(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((e) => {
    const path = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({
      path,
      message,
    }));
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

export function toValidationError(errors: ValidationError[]): Error {
  // Several constraints of one field may share a message (limit's integer and range checks): say it once.
  // A set, not a search per detail: a body with 60,000 unknown members has as many.
  const seen = new Set<string>();
  const details = flatten(errors).filter((d) => {
    const key = `${d.path}\u0000${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const first = details[0];
  return validationFailed(
    first
      ? `Invalid request: ${first.message}${details.length > 1 ? ` (and ${details.length - 1} more)` : ''}`
      : 'Invalid request',
    details,
  );
}

const UNKNOWN_PROPERTY = /^property (.+) should not exist$/;

/**
 * Tools that template URLs (Postman collections with unset variables,
 * generated clients) send `?limit=&orderby=`: an empty value means the
 * parameter was not given, on every route.
 */
export function dropEmptyQueryValues(value: unknown): unknown {
  const keep = (v: unknown): unknown => {
    if (v === '') return undefined;
    if (!Array.isArray(v)) return v;
    const kept = v.filter((x) => x !== '');
    return kept.length ? kept : undefined;
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return keep(value);
  return Object.fromEntries(
    Object.entries(value)
      .map(([k, v]) => [k, keep(v)] as const)
      .filter(([, v]) => v !== undefined),
  );
}

/**
 * Query-string problems get the catalogue's query code (1451-400, FSE "Invalid
 * params testParam provided in query params") instead of the body code.
 */
class AppValidationPipe extends ValidationPipe {
  override async transform(
    value: unknown,
    metadata: ArgumentMetadata,
  ): Promise<unknown> {
    try {
      return await super.transform(
        metadata.type === 'query' ? dropEmptyQueryValues(value) : value,
        metadata,
      );
    } catch (err) {
      if (
        metadata.type !== 'query' ||
        !(err instanceof DomainError) ||
        err.code !== ErrorCode.ValidationFailed
      )
        throw err;
      const unknown = (err.details ?? [])
        .map((d) => UNKNOWN_PROPERTY.exec(d.message)?.[1])
        .filter((p): p is string => p !== undefined);
      throw new DomainError(
        ErrorCode.InvalidQueryParam,
        unknown.length
          ? `Invalid params ${unknown.join(', ')} provided in query params`
          : err.message,
        err.details,
      );
    }
  }
}

/** The global pipe: strict (unknown fields are errors) and in our error shape. */
export function createValidationPipe(): ValidationPipe {
  return new AppValidationPipe({
    ...VALIDATION_OPTIONS,
    transform: true,
    exceptionFactory: toValidationError,
  });
}

/** Validates a plain object as a DTO (patched documents are validated like creates). */
export function validateAs<T extends object>(
  cls: new () => T,
  plain: unknown,
): T {
  const instance = plainToInstance(cls, plain);
  if (
    typeof instance !== 'object' ||
    instance === null ||
    Array.isArray(instance)
  ) {
    throw validationFailed('Invalid request: the document must be an object');
  }
  const errors = validateSync(instance, VALIDATION_OPTIONS);
  if (errors.length) throw toValidationError(errors);
  return instance;
}
