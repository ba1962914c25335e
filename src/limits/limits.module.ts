import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { RateLimiter } from './rate-limiter.service.js';

/**
 * Per-client rate limits (request timeouts are middleware: see configureApp).
 * RateLimitGuard is built in each module whose controllers use it (as Nest
 * does with guards), so what it injects is exported here.
 */
@Module({
  imports: [MetricsModule],
  providers: [RateLimiter, RateLimitGuard],
  exports: [RateLimiter, RateLimitGuard, MetricsModule],
})
export class LimitsModule {}
