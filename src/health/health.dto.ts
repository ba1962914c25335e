export class HealthDto {
  /** `ok` when the database answers, otherwise `unavailable`. @example ok */
  status: string;
  database: { ready: boolean; latencyMs?: number; error?: string };
}
