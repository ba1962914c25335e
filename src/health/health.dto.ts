export class HealthDto {
  /** `ok` when the database answers, otherwise `unavailable`. @example ok */
  status: string;
  /** Whether the database answered, and how fast; why it did not is only logged. */
  database: { ready: boolean; latencyMs?: number };
}
