import { Module } from '@nestjs/common';
import { MembershipService } from './membership.service.js';
import { SegmentCatalog } from './segment-catalog.js';

/** Segment definitions, membership evaluation and the background worker. */
@Module({
  providers: [SegmentCatalog, MembershipService],
  exports: [SegmentCatalog, MembershipService],
})
export class SegmentsModule {}
