import { Module } from '@nestjs/common';
import { ProfileStoreModule } from '../profile-store/profile-store.module.js';
import { SegmentsModule } from '../segments/segments.module.js';
import { ProfileIngestService } from './profile-ingest.service.js';
import { ProfilesController } from './profiles.controller.js';
import { ProfilesService } from './profiles.service.js';

/** The profile API: ingestion (identity stitching, evaluation) and lookup/delete. */
@Module({
  imports: [ProfileStoreModule, SegmentsModule],
  controllers: [ProfilesController],
  providers: [ProfileIngestService, ProfilesService],
  exports: [ProfileIngestService, ProfilesService],
})
export class ProfilesModule {}
