import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { ReferencesModule } from '../common/references.js';
import { RunsModule } from '../runs/runs.module.js';
import { SourceConnectionsModule } from '../source-connections/source-connections.module.js';
import { TargetConnectionsModule } from '../target-connections/target-connections.module.js';
import { FlowEntity } from './flow.entity.js';
import { FlowOperations } from './flow-operations.js';
import { FlowsController } from './flows.controller.js';
import { FlowsService } from './flows.service.js';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';

/** Flows: which segments and attributes go from a source to targets. */
@Module({
  imports: [
    IdempotencyModule,
    AuthModule,
    ReferencesModule,
    SourceConnectionsModule,
    TargetConnectionsModule,
    RunsModule,
    TypeOrmModule.forFeature([FlowEntity]),
  ],
  controllers: [FlowsController],
  providers: [FlowsService, FlowOperations],
  // Replay and resync register their operations.
  exports: [FlowOperations],
})
export class FlowsModule {}
