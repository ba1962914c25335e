import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { RunEntity } from './run.entity.js';
import { RunsController } from './runs.controller.js';
import { RunsService } from './runs.service.js';

/** Runs: what each flow exported per hour (written by the runner). */
@Module({
  imports: [AuthModule, TypeOrmModule.forFeature([RunEntity])],
  controllers: [RunsController],
  providers: [RunsService],
  // Flows show their last run.
  exports: [RunsService],
})
export class RunsModule {}
