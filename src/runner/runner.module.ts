import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ConnectionEntity } from '../connections/connection.entity.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { FlowEntity } from '../flows/flow.entity.js';
import { MetricsModule } from '../metrics/metrics.module.js';
import { TargetConnectionEntity } from '../target-connections/target-connection.entity.js';
import { ProfileStoreModule } from '../profile-store/profile-store.module.js';
import { SegmentsModule } from '../segments/segments.module.js';
import { ExportCoreModule } from './export-core.module.js';
import { ExportExecutor } from './export-executor.js';
import { FlowCursorEntity } from './flow-cursor.entity.js';
import { RetryOnConnectionEdit } from './retry-on-edit.js';
import { RunnerScheduler } from './runner.scheduler.js';
import { StepConfigs } from './step-config.js';

@Module({})
export class RunnerModule {
  /** The scheduler only ticks when RUNNER_ENABLED; the module is always loaded so tests can drive it. */
  static forRoot(databaseUrl: string): DynamicModule {
    return {
      module: RunnerModule,
      imports: [
        ExportCoreModule,
        ProfileStoreModule,
        SegmentsModule,
        ConnectionsModule,
        MetricsModule,
        TypeOrmModule.forFeature([
          FlowEntity,
          TargetConnectionEntity,
          ConnectionEntity,
          FlowCursorEntity,
        ]),
      ],
      providers: [
        { provide: 'DATABASE_URL', useValue: databaseUrl },
        ExportExecutor,
        StepConfigs,
        RunnerScheduler,
        RetryOnConnectionEdit,
      ],
      exports: [RunnerScheduler, ExportCoreModule],
    };
  }
}
