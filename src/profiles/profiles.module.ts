import { Module } from '@nestjs/common';
import { ProfileStoreModule } from '../profile-store/profile-store.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { MetricsModule } from '../metrics/metrics.module.js';
import { SegmentsModule } from '../segments/segments.module.js';
import { ProfileIngestService } from './profile-ingest.service.js';
import { ProfilesController } from './profiles.controller.js';
import { ProfilesService } from './profiles.service.js';

/** The profile API: ingestion (identity stitching, evaluation) and lookup/delete. */
@Module({
  imports: [ProfileStoreModule, SegmentsModule, AuthModule, MetricsModule],
  controllers: [ProfilesController],
  providers: [ProfileIngestService, ProfilesService],
  exports: [ProfileIngestService, ProfilesService],
})
export class ProfilesModule {}
