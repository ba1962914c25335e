import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { RunEntity } from '../runs/run.entity.js';
import { DeliveryRecordEntity } from './delivery-record.entity.js';
import { RecordsController } from './records.controller.js';
import { RecordsService } from './records.service.js';

/** Records runs did not deliver (written by the runner with its steps). */
@Module({
  imports: [
    AuthModule,
    TypeOrmModule.forFeature([DeliveryRecordEntity, RunEntity]),
  ],
  controllers: [RecordsController],
  providers: [RecordsService],
  exports: [RecordsService],
})
export class RecordsModule {}
