import { ErrorCode } from './errors.js';

type ErrorShape = 'gateway' | 'content-type' | 'flow-service' | 'oauth';

export interface MappedError {
  status: number;
  shape: ErrorShape;
  /** Catalogue code (`NNNN-HTTP`) or gateway `error_code`. */
  code: string;
  /** Fixed message for gateway errors (Adobe's exact texts). */
  fixedMessage?: string;
}

function assertUnreachable(x: never): never {
  throw new Error(`Unmapped error code ${String(x)}`);
}

/** The one table from domain error to status and code. */
export function mapErrorCode(code: ErrorCode): MappedError {
  switch (code) {
    case ErrorCode.TokenMissing:
      return {
        status: 403,
        shape: 'gateway',
        code: '403010',
        fixedMessage: 'Oauth token is missing.',
      };
    case ErrorCode.TokenInvalid:
      return {
        status: 401,
        shape: 'gateway',
        code: '401013',
        fixedMessage: 'Oauth token is not valid',
      };
    case ErrorCode.ApiKeyMissing:
      return {
        status: 403,
        shape: 'gateway',
        code: '403000',
        fixedMessage: 'Api Key is required',
      };
    case ErrorCode.ApiKeyInvalid:
      return {
        status: 403,
        shape: 'gateway',
        code: '403003',
        fixedMessage: 'Api Key is invalid',
      };
    case ErrorCode.OrgMissing:
      return {
        status: 400,
        shape: 'gateway',
        code: '400003',
        fixedMessage: 'Missing header',
      };
    case ErrorCode.OrgNotEntitled:
      return {
        status: 403,
        shape: 'gateway',
        code: '403025',
        fixedMessage: 'Profile is not valid',
      };
    case ErrorCode.ContentTypeInvalid:
      return { status: 400, shape: 'content-type', code: 'BadRequestError' };
    case ErrorCode.SandboxNotFound:
      return { status: 404, shape: 'flow-service', code: '2100-404' };
    case ErrorCode.NotFound:
      return { status: 404, shape: 'flow-service', code: '1101-404' };
    case ErrorCode.ValidationFailed:
      return { status: 400, shape: 'flow-service', code: '1100-400' };
    case ErrorCode.MalformedJson:
      return { status: 400, shape: 'flow-service', code: '1100-400' };
    case ErrorCode.BodyEmpty:
      return { status: 400, shape: 'flow-service', code: '1405-400' };
    case ErrorCode.BodyTooLarge:
      return { status: 413, shape: 'flow-service', code: '1100-413' };
    case ErrorCode.LimitWithCount:
      return { status: 400, shape: 'flow-service', code: '1401-400' };
    case ErrorCode.IfMatchMissing:
      return { status: 400, shape: 'flow-service', code: '1403-400' };
    case ErrorCode.VersionMismatch:
      return { status: 412, shape: 'flow-service', code: '1404-412' };
    case ErrorCode.StateNotAllowed:
      return { status: 400, shape: 'flow-service', code: '1410-400' };
    case ErrorCode.InvalidSpec:
      return { status: 400, shape: 'flow-service', code: '1413-400' };
    case ErrorCode.SpecVersionMissing:
      return { status: 422, shape: 'flow-service', code: '1413-422' };
    case ErrorCode.SpecNotUpdatable:
      return { status: 400, shape: 'flow-service', code: '1414-400' };
    case ErrorCode.AuthSpecNotFound:
      return { status: 400, shape: 'flow-service', code: '1415-400' };
    case ErrorCode.ConnectionInUse:
      return { status: 400, shape: 'flow-service', code: '1418-400' };
    case ErrorCode.InvalidOrderBy:
      return { status: 400, shape: 'flow-service', code: '1433-400' };
    case ErrorCode.InvalidFilter:
      return { status: 400, shape: 'flow-service', code: '1450-400' };
    case ErrorCode.InvalidFilterField:
      return { status: 400, shape: 'flow-service', code: '1449-400' };
    case ErrorCode.InvalidQueryParam:
      return { status: 400, shape: 'flow-service', code: '1451-400' };
    case ErrorCode.PatchOpUnsupported:
      return { status: 400, shape: 'flow-service', code: '1434-400' };
    case ErrorCode.PatchInvalid:
      return { status: 400, shape: 'flow-service', code: '1455-400' };
    case ErrorCode.ActionNotAllowed:
      return { status: 400, shape: 'flow-service', code: '1422-400' };
    case ErrorCode.ActionUnsupported:
      return { status: 400, shape: 'flow-service', code: '1436-400' };
    case ErrorCode.InvalidContinuationToken:
      return { status: 400, shape: 'flow-service', code: '1451-400' };
    case ErrorCode.Conflict:
      return { status: 409, shape: 'flow-service', code: '1100-409' };
    case ErrorCode.Unprocessable:
      return { status: 422, shape: 'flow-service', code: '1100-422' };
    case ErrorCode.InUse:
      return { status: 400, shape: 'flow-service', code: '1447-400' };
    case ErrorCode.UnsupportedMediaType:
      return { status: 415, shape: 'flow-service', code: '1100-415' };
    case ErrorCode.RateLimited:
      return { status: 429, shape: 'flow-service', code: '1100-429' };
    case ErrorCode.RequestTimeout:
      // 503, as Flow Service documents "service is unavailable"; 504 is a gateway's answer.
      return { status: 503, shape: 'flow-service', code: '1100-503' };
    case ErrorCode.DatabaseUnavailable:
      return { status: 503, shape: 'flow-service', code: '1100-503' };
    case ErrorCode.Unauthorized:
      return { status: 401, shape: 'flow-service', code: '2001-401' };
    case ErrorCode.OAuthInvalidRequest:
      return { status: 400, shape: 'oauth', code: 'invalid_request' };
    case ErrorCode.OAuthInvalidClient:
      return { status: 401, shape: 'oauth', code: 'invalid_client' };
    case ErrorCode.OAuthUnsupportedGrantType:
      return { status: 400, shape: 'oauth', code: 'unsupported_grant_type' };
    case ErrorCode.Internal:
      return { status: 500, shape: 'flow-service', code: '1100-500' };
    default:
      return assertUnreachable(code);
  }
}
