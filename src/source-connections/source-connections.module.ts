import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { ReferencesModule } from '../common/references.js';
import { SourceConnectionEntity } from './source-connection.entity.js';
import { SourceConnectionsController } from './source-connections.controller.js';
import { SourceConnectionsService } from './source-connections.service.js';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';

/** Source connections: where a flow reads (the profile store), linked to a base connection. */
@Module({
  imports: [
    IdempotencyModule,
    AuthModule,
    ReferencesModule,
    TypeOrmModule.forFeature([SourceConnectionEntity]),
  ],
  controllers: [SourceConnectionsController],
  providers: [SourceConnectionsService],
  // Flows check and show their connections.
  exports: [SourceConnectionsService],
})
export class SourceConnectionsModule {}
