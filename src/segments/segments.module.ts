import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { SegmentCatalog } from './segment-catalog.js';
import { SegmentDefinitionEntity } from './segment-definition.entity.js';
import { SegmentJobEntity } from './segment-job.entity.js';
import { SegmentWorker } from './segment-worker.js';
import { SegmentJobsService } from './segment-jobs.service.js';
import { SegmentMetricsService } from './segment-metrics.service.js';
import { SegmentsController } from './segments.controller.js';
import { SegmentsService } from './segments.service.js';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';

/** Segment definitions, membership evaluation and the background worker. */
@Module({
  imports: [
    IdempotencyModule,
    AuthModule,
    TypeOrmModule.forFeature([SegmentDefinitionEntity, SegmentJobEntity]),
  ],
  controllers: [SegmentsController],
  providers: [
    SegmentCatalog,
    SegmentsService,
    SegmentJobsService,
    SegmentMetricsService,
    SegmentWorker,
  ],
  exports: [SegmentCatalog, SegmentsService, SegmentJobsService, SegmentWorker],
})
export class SegmentsModule {}
