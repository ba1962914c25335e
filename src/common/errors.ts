/**
 * Domain errors. Services throw these; exactly one filter (http-exception.filter.ts)
 * turns them into HTTP responses in the contract's shapes (CONTRACT A2).
 */
export enum ErrorCode {
  // Gateway errors: Adobe's `{"error_code", "message"}` shape.
  TokenMissing = 'TokenMissing',
  TokenInvalid = 'TokenInvalid',
  ApiKeyMissing = 'ApiKeyMissing',
  ApiKeyInvalid = 'ApiKeyInvalid',
  OrgMissing = 'OrgMissing',
  OrgNotEntitled = 'OrgNotEntitled',
  ContentTypeInvalid = 'ContentTypeInvalid',
  // Flow Service catalogue errors.
  SandboxNotFound = 'SandboxNotFound',
  NotFound = 'NotFound',
  ValidationFailed = 'ValidationFailed',
  MalformedJson = 'MalformedJson',
  BodyEmpty = 'BodyEmpty',
  BodyTooLarge = 'BodyTooLarge',
  LimitWithCount = 'LimitWithCount',
  IfMatchMissing = 'IfMatchMissing',
  VersionMismatch = 'VersionMismatch',
  StateNotAllowed = 'StateNotAllowed',
  InvalidSpec = 'InvalidSpec',
  SpecVersionMissing = 'SpecVersionMissing',
  SpecNotUpdatable = 'SpecNotUpdatable',
  AuthSpecNotFound = 'AuthSpecNotFound',
  ConnectionInUse = 'ConnectionInUse',
  InvalidOrderBy = 'InvalidOrderBy',
  InvalidFilter = 'InvalidFilter',
  InvalidFilterField = 'InvalidFilterField',
  InvalidQueryParam = 'InvalidQueryParam',
  PatchOpUnsupported = 'PatchOpUnsupported',
  PatchInvalid = 'PatchInvalid',
  ActionNotAllowed = 'ActionNotAllowed',
  ActionUnsupported = 'ActionUnsupported',
  InvalidContinuationToken = 'InvalidContinuationToken',
  Conflict = 'Conflict',
  /** Adobe answers 422 for a duplicate segment name and for a missing spec version. */
  Unprocessable = 'Unprocessable',
  /** A resource is referenced elsewhere (segment used by a flow). */
  InUse = 'InUse',
  UnsupportedMediaType = 'UnsupportedMediaType',
  RateLimited = 'RateLimited',
  /** The request exceeded REQUEST_TIMEOUT_MS. */
  RequestTimeout = 'RequestTimeout',
  /** The database cannot be reached (down, restarting, no free connection); retry later. */
  DatabaseUnavailable = 'DatabaseUnavailable',
  Unauthorized = 'Unauthorized',
  // OAuth token endpoint errors: RFC 6749 `{error, error_description}` as Adobe IMS answers.
  OAuthInvalidRequest = 'OAuthInvalidRequest',
  OAuthInvalidClient = 'OAuthInvalidClient',
  OAuthUnsupportedGrantType = 'OAuthUnsupportedGrantType',
  Internal = 'Internal',
}

export interface ErrorDetail {
  path: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    /** Extra response headers, e.g. Retry-After. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** `<resource> not found with id = [<id>]`, Adobe's published 404 text. */
export function notFound(resource: string, id: string): DomainError {
  return new DomainError(
    ErrorCode.NotFound,
    `${resource} not found with id = [${id}]`,
  );
}

export function validationFailed(
  message: string,
  details: ErrorDetail[] = [],
): DomainError {
  return new DomainError(ErrorCode.ValidationFailed, message, details);
}
