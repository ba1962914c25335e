import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { ReferencesModule } from '../common/references.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { TargetConnectionEntity } from './target-connection.entity.js';
import { TargetConnectionsController } from './target-connections.controller.js';
import { TargetConnectionsService } from './target-connections.service.js';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';

/** Target connections: where a flow publishes (an event hub), linked to a base connection. */
@Module({
  imports: [
    IdempotencyModule,
    AuthModule,
    ReferencesModule,
    ConnectionsModule,
    TypeOrmModule.forFeature([TargetConnectionEntity]),
  ],
  controllers: [TargetConnectionsController],
  providers: [TargetConnectionsService],
  // Flows check and show their connections.
  exports: [TargetConnectionsService],
})
export class TargetConnectionsModule {}
