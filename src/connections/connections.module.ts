import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { ReferencesModule } from '../common/references.js';
import { EventHubsProbe } from '../event-hubs/event-hubs-probe.js';
import { ConnectionEdits } from './connection-edits.js';
import { ConnectionEntity } from './connection.entity.js';
import { ConnectionsController } from './connections.controller.js';
import { ConnectionsService } from './connections.service.js';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';

/** Base connections: credentials of an Event Hubs namespace, or the profile store. */
@Module({
  imports: [
    IdempotencyModule,
    AuthModule,
    ReferencesModule,
    TypeOrmModule.forFeature([ConnectionEntity]),
  ],
  controllers: [ConnectionsController],
  providers: [ConnectionsService, EventHubsProbe, ConnectionEdits],
  // The runner decrypts a flow's credentials through ConnectionsService and
  // listens to ConnectionEdits; target connections report their edits there.
  exports: [ConnectionsService, ConnectionEdits],
})
export class ConnectionsModule {}
