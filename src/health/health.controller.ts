import { Controller, Get, Inject, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { APP_LOGGER } from '../logging/logger.js';
import { HealthDto } from './health.dto.js';
import { readiness } from './readiness.js';

@ApiTags('Operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {}

  /** Readiness: 200 when the database answers, 503 otherwise. */
  @Get()
  // Declared explicitly: with any response decorator present, the plugin's
  // read-only metadata (tests) no longer adds the return type's 200.
  @ApiOkResponse({ type: HealthDto, description: 'The database answers.' })
  @ApiServiceUnavailableResponse({
    type: HealthDto,
    description:
      'The database does not answer (why is logged, never answered).',
  })
  async health(@Res({ passthrough: true }) res: Response): Promise<HealthDto> {
    const health = await readiness(
      () => this.dataSource.query('SELECT 1'),
      (err) => this.logger.warn({ err }, 'health: the database is not ready'),
    );
    if (!health.database.ready) res.status(503);
    return health;
  }
}
