import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value;

const MINUTES_MESSAGE = 'minutes must be a whole number from 1 to 1440';

export class FlowMetricsQueryDto {
  /** How many minutes the series covers, ending with the current one (1–1440, default 60). @example 60 */
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: MINUTES_MESSAGE })
  @Min(1, { message: MINUTES_MESSAGE })
  @Max(1440, { message: MINUTES_MESSAGE })
  minutes?: number;
}

export class FlowMinutePointDto {
  /** Start of the UTC minute, epoch milliseconds. */
  at: number;
  /** Messages the event hubs acknowledged in that minute (one per target). */
  exports: number;
  /** Records that could not be sent (e.g. over the hub's size limit) in that minute. */
  failures: number;
}

export class FlowMetricsDto {
  /** The flow's id. */
  flowId: string;
  /** `enabled` or `disabled`. */
  state: string;
  /**
   * Age in seconds of the oldest committed profile change the flow has not
   * exported yet (0 when caught up); null before the runner first picked the flow up.
   */
  lagSeconds: number | null;
  /** Time of the flow's last successful export step, epoch milliseconds, or null. */
  lastSuccessAt: number | null;
  /** Minutes covered by `points`. */
  minutes: number;
  /** Messages acknowledged over the whole window (the sum of `points`). */
  exports: number;
  /** Records that could not be sent over the whole window (the sum of `points`). */
  failures: number;
  /** One point per minute, oldest first, the last one being the current (partial) minute. */
  points: FlowMinutePointDto[];
}
