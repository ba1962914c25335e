import { Ajv, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
import { DomainError, ErrorCode, type ErrorDetail } from './errors.js';

// ajv-formats is CommonJS; under nodenext its default import is the module object.
const addFormats =
  (formatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default ??
  formatsModule;

const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
const compiled = new WeakMap<object, ValidateFunction>();

/**
 * Validates `value` against a catalogue JSON Schema (auth, source and target
 * params) and throws a 400 listing every problem at its path under `prefix`.
 */
export function assertMatchesSchema(
  schema: Record<string, unknown>,
  value: unknown,
  prefix: string,
): void {
  let validate = compiled.get(schema);
  if (!validate) {
    const { $schema: _ignored, ...rest } = schema;
    validate = ajv.compile(rest);
    compiled.set(schema, validate);
  }
  if (validate(value)) return;
  const details: ErrorDetail[] = (validate.errors ?? []).map((e) => ({
    path: `${prefix}${e.instancePath.replace(/\//g, '.')}`,
    message:
      e.keyword === 'additionalProperties'
        ? `property ${String((e.params as { additionalProperty?: string }).additionalProperty)} should not exist`
        : (e.message ?? 'is invalid'),
  }));
  throw new DomainError(
    ErrorCode.ValidationFailed,
    `Invalid ${prefix}: ${details.map((d) => `${d.path} ${d.message}`).join('; ')}`,
    details,
  );
}
