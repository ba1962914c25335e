import { Module } from '@nestjs/common';
import { IdempotencyService } from './idempotency.service.js';

/**
 * `Idempotency-Key` on the routes marked @Idempotent(), which names the
 * interceptor; a module with such routes imports this one, so Nest can build
 * the interceptor there from the service exported here. Routes without it
 * have no interceptor at all, and skip Nest's observable pipeline.
 */
@Module({
  providers: [IdempotencyService],
  exports: [IdempotencyService],
})
export class IdempotencyModule {}
