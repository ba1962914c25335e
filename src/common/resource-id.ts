/**
 * The shape of a Flow Service id: 8-4-4-4-12 hex digits, any version or
 * variant. Adobe looks an id up rather than judging it, so a well-formed id
 * that does not exist is a 404, and only a malformed one is a 400. PostgreSQL's
 * `uuid` type accepts exactly this shape (in either case).
 */
export const RESOURCE_ID_PATTERN =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isResourceId(value: unknown): value is string {
  return typeof value === 'string' && RESOURCE_ID_PATTERN.test(value);
}

/** class-validator message for an id field of the wrong shape. */
export const ID_MESSAGE =
  '$property must be an id: 8-4-4-4-12 hex digits (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)';
