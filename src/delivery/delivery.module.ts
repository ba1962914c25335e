import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { FlowEntity } from '../flows/flow.entity.js';
import { FlowsModule } from '../flows/flows.module.js';
import { ProfilesModule } from '../profiles/profiles.module.js';
import { ExportCoreModule } from '../runner/export-core.module.js';
import { RunEntity } from '../runs/run.entity.js';
import { DeliveryController } from './delivery.controller.js';
import { DeliveryService } from './delivery.service.js';

/** The export preview, replay and resync, over the runner's own code. */
@Module({
  imports: [
    AuthModule,
    FlowsModule,
    ProfilesModule,
    ExportCoreModule,
    TypeOrmModule.forFeature([FlowEntity, RunEntity]),
  ],
  controllers: [DeliveryController],
  providers: [DeliveryService],
})
export class DeliveryModule {}
