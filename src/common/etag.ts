import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode } from './errors.js';

export const newVersion = (): string => randomUUID();

/** Etags are the version in double quotes (CONTRACT A4). */
export const etagOf = (version: string): string => `"${version}"`;

/**
 * Checks If-Match (header, or the `if-match` query parameter Adobe's Postman
 * collection sends). Missing → 1403-400; unquoted or stale → 1404-412.
 */
export function checkIfMatch(
  ifMatch: string | undefined,
  currentVersion: string,
): void {
  const supplied = ifMatch?.trim();
  if (!supplied) {
    throw new DomainError(
      ErrorCode.IfMatchMissing,
      "The header 'If-Match' is missing in the request.",
    );
  }
  const current = etagOf(currentVersion);
  const candidates = supplied
    .split(',')
    .map((s) => s.trim().replace(/^W\//, ''));
  if (candidates.includes('*') || candidates.includes(current)) return;
  throw new DomainError(
    ErrorCode.VersionMismatch,
    `Supplied version=[${supplied}] does not match the current version on entity=[${current}]`,
  );
}
