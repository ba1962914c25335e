export class HealthDto {
  /** `ok` when the database answers, otherwise `unavailable`. @example ok */
  status: string;
  /** `error` is a fixed text: the driver's message stays in the server's log. */
  database: { ready: boolean; latencyMs?: number; error?: string };
}
