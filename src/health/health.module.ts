import { Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';

/** Readiness for load balancers. */
@Module({ controllers: [HealthController] })
export class HealthModule {}
