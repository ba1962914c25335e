import { Controller, Get, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { HealthDto } from './health.dto.js';

@ApiTags('Operations')
@Controller('health')
export class HealthController {
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
      await this.dataSource.query('SELECT 1');
      return {
        status: 'ok',
        database: {
          ready: true,
          latencyMs: Math.round((performance.now() - started) * 10) / 10,
        },
      };
    } catch (err) {
      res.status(503);
      return {
        status: 'unavailable',
        database: {
          ready: false,
          error: err instanceof Error ? err.message : 'unknown',
        },
      };
    }
  }
}
