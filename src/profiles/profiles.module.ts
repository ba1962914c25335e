import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { MetricsModule } from '../metrics/metrics.module.js';
import { SegmentsModule } from '../segments/segments.module.js';
import { ChangeLogReader } from './change-log.reader.js';
import { ProfileIngestService } from './profile-ingest.service.js';
import { ProfileStateReader } from './profile-state.reader.js';
import { ProfilesController } from './profiles.controller.js';
import { ProfilesService } from './profiles.service.js';

/** Profile store, ingestion and identity stitching, and the change log readers. */
@Module({
  imports: [SegmentsModule, AuthModule, MetricsModule],
  controllers: [ProfilesController],
  providers: [
    ProfileIngestService,
    ProfilesService,
    ChangeLogReader,
    ProfileStateReader,
  ],
  exports: [
    ProfileIngestService,
    ProfilesService,
    ChangeLogReader,
    ProfileStateReader,
  ],
})
export class ProfilesModule {}
