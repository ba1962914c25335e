import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { FlowEntity } from '../flows/flow.entity.js';
import { MetricsModule } from '../metrics/metrics.module.js';
import { FlowMetricsController } from './flow-metrics.controller.js';
import { FlowMetricsService } from './flow-metrics.service.js';

/** Per-flow lag and per-minute exports for dashboards (the console's sparklines). */
@Module({
  imports: [AuthModule, MetricsModule, TypeOrmModule.forFeature([FlowEntity])],
  controllers: [FlowMetricsController],
  providers: [FlowMetricsService],
})
export class FlowMetricsModule {}
