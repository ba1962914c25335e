import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ConnectionEntity } from '../connections/connection.entity.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { EventPublisher, SdkEventPublisher } from '../event-hubs/publisher.js';
import { ProfileStoreModule } from '../profile-store/profile-store.module.js';
import { SegmentsModule } from '../segments/segments.module.js';
import { TargetConnectionEntity } from '../target-connections/target-connection.entity.js';
import { DeliveryJobs } from './delivery-jobs.js';
import { ExportPreview } from './export-preview.js';
import { RunnerRepository } from './runner.repository.js';

/**
 * What the runner and the delivery API share, one instance each: the
 * publisher (its producers), the runner's reads, replay/resync jobs and the
 * export preview. A static module, so the API has it even where the runner's
 * scheduler is not loaded.
 */
@Module({
  imports: [
    ProfileStoreModule,
    SegmentsModule,
    ConnectionsModule,
    TypeOrmModule.forFeature([TargetConnectionEntity, ConnectionEntity]),
  ],
  providers: [
    { provide: EventPublisher, useClass: SdkEventPublisher },
    RunnerRepository,
    DeliveryJobs,
    ExportPreview,
  ],
  exports: [EventPublisher, RunnerRepository, DeliveryJobs, ExportPreview],
})
export class ExportCoreModule {}
