import { Controller, Get, Logger, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { HealthDto } from './health.dto.js';

/**
 * A probe must answer even when the database hangs (a full pool, a host that
 * drops packets) rather than refuses: load balancers time out probes after
 * a few seconds and would count a late answer as a failure anyway.
 */
const PROBE_TIMEOUT_MS = 2_000;

@ApiTags('Operations')
@Controller('health')
export class HealthController {
  private readonly logger = new Logger('HealthController');
  /** Whether the last probe failed, so an outage is logged once, not per probe. */
  private down = false;

  constructor(private readonly dataSource: DataSource) {}

  /** Readiness: 200 when the database answers, 503 otherwise. */
  @Get()
  // Declared explicitly: with any response decorator present, the plugin's
  // read-only metadata (tests) no longer adds the return type's 200.
  @ApiOkResponse({ type: HealthDto, description: 'The database answers.' })
  @ApiServiceUnavailableResponse({
    type: HealthDto,
    description: 'The database does not answer.',
  })
  async health(@Res({ passthrough: true }) res: Response): Promise<HealthDto> {
    const started = performance.now();
    try {
      await this.probe();
      if (this.down) this.logger.log('database answers again');
      this.down = false;
      return {
        status: 'ok',
        database: {
          ready: true,
          latencyMs: Math.round((performance.now() - started) * 10) / 10,
        },
      };
    } catch (err) {
      // The driver's text names hosts and ports: it goes to the log, not to
      // an unauthenticated endpoint.
      if (!this.down)
        this.logger.warn(
          `database does not answer: ${err instanceof Error ? err.message : String(err)}`,
        );
      this.down = true;
      res.status(503);
      return {
        status: 'unavailable',
        database: { ready: false, error: 'The database does not answer.' },
      };
    }
  }

  private async probe(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.dataSource.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)),
            PROBE_TIMEOUT_MS,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
