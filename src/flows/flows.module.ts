import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { ReferencesModule } from '../common/references.js';
import { RunEntity } from '../runs/run.entity.js';
import { SourceConnectionEntity } from '../source-connections/source-connection.entity.js';
import { TargetConnectionEntity } from '../target-connections/target-connection.entity.js';
import { FlowEntity } from './flow.entity.js';
import { FlowsController } from './flows.controller.js';
import { FlowsService } from './flows.service.js';

/** Flows: which segments and attributes go from a source to targets. */
@Module({
  imports: [
    AuthModule,
    ReferencesModule,
    // A flow shows its connections and its last run.
    TypeOrmModule.forFeature([
      FlowEntity,
      SourceConnectionEntity,
      TargetConnectionEntity,
      RunEntity,
    ]),
  ],
  controllers: [FlowsController],
  providers: [FlowsService],
})
export class FlowsModule {}
