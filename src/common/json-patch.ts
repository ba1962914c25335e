import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { DomainError, ErrorCode } from './errors.js';
import type { PatchOperationDto } from './patch-operation.dto.js';

const { applyPatch, JsonPatchError } = fastJsonPatch;

export interface PatchRules {
  /** Pointer prefixes that may be patched, e.g. `/name`, `/transformations`. */
  allowed: string[];
  /** Pointer prefixes with a dedicated error (read-only fields). */
  readOnly?: Record<string, DomainError>;
}

/**
 * Applies a JSON Patch to a copy of `doc`. Nothing is changed when any
 * operation fails, so a failed PATCH leaves the resource as it was.
 */
export function applyJsonPatch<T extends object>(
  doc: T,
  ops: PatchOperationDto[],
  rules: PatchRules,
): T {
  if (ops.length === 0) {
    throw new DomainError(
      ErrorCode.BodyEmpty,
      'The request body cannot be null or empty.',
    );
  }
  const normalized: Operation[] = ops.map((o) => {
    const op = o.op.toLowerCase();
    if (op !== 'add' && op !== 'replace' && op !== 'remove') {
      throw new DomainError(
        ErrorCode.PatchOpUnsupported,
        `Unsupported operation '${o.op}' received.`,
      );
    }
    const under = (prefix: string): boolean =>
      o.path === prefix || o.path.startsWith(`${prefix}/`);
    for (const [prefix, error] of Object.entries(rules.readOnly ?? {})) {
      if (under(prefix)) throw error;
    }
    if (!rules.allowed.some(under)) {
      throw new DomainError(
        ErrorCode.PatchInvalid,
        `An error has occurred while validating patch instructions: path ${o.path} cannot be patched.`,
      );
    }
    if (op === 'remove') return { op, path: o.path };
    if (o.value === undefined) {
      throw new DomainError(
        ErrorCode.PatchInvalid,
        `An error has occurred while validating patch instructions: Missing field "value" for ${o.op} ${o.path}.`,
      );
    }
    return { op, path: o.path, value: o.value } as Operation;
  });
  try {
    return applyPatch(structuredClone(doc), normalized, true, false)
      .newDocument;
  } catch (err) {
    if (err instanceof JsonPatchError) {
      throw new DomainError(
        ErrorCode.PatchInvalid,
        `An error has occurred while validating patch instructions: ${err.name} at ${err.operation?.path ?? '?'}.`,
      );
    }
    throw err;
  }
}
