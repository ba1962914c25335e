import { Inject, Injectable } from '@nestjs/common';
import { ENV, type Env } from '../config/env.js';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { References } from '../common/references.js';
import { LinkedConnectionsService } from '../connections/linked-connections.service.js';
import { SourceConnectionEntity } from './source-connection.entity.js';

@Injectable()
export class SourceConnectionsService extends LinkedConnectionsService<SourceConnectionEntity> {
  constructor(
    @InjectRepository(SourceConnectionEntity)
    repo: Repository<SourceConnectionEntity>,
    references: References,
    @Inject(ENV) env: Env,
  ) {
    super(
      repo,
      {
        resource: 'sourceConnections',
        paramsSpec: (s) =>
          s.sourceSpec?.spec as Record<string, unknown> | undefined,
      },
      references,
      env.REQUEST_TIMEOUT_MS,
    );
  }
}
