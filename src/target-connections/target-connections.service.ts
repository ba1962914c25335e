import { Inject, Injectable } from '@nestjs/common';
import { ENV, type Env } from '../config/env.js';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ConnectionEdits } from '../connections/connection-edits.js';
import { References } from '../common/references.js';
import { LinkedConnectionsService } from '../connections/linked-connections.service.js';
import { TargetConnectionEntity } from './target-connection.entity.js';

@Injectable()
export class TargetConnectionsService extends LinkedConnectionsService<TargetConnectionEntity> {
  constructor(
    @InjectRepository(TargetConnectionEntity)
    repo: Repository<TargetConnectionEntity>,
    references: References,
    @Inject(ENV) env: Env,
    edits: ConnectionEdits,
  ) {
    super(
      repo,
      {
        resource: 'targetConnections',
        paramsSpec: (s) => s.targetSpec?.spec,
      },
      references,
      env.REQUEST_TIMEOUT_MS,
      edits,
    );
  }
}
