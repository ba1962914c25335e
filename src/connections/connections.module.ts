import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { ReferencesModule } from '../common/references.js';
import { EventHubsProbe } from '../event-hubs/event-hubs-probe.js';
import { ConnectionEntity } from './connection.entity.js';
import { ConnectionsController } from './connections.controller.js';
import { ConnectionsService } from './connections.service.js';

/** Base connections: credentials of an Event Hubs namespace, or the profile store. */
@Module({
  imports: [
    AuthModule,
    ReferencesModule,
    TypeOrmModule.forFeature([ConnectionEntity]),
  ],
  controllers: [ConnectionsController],
  providers: [ConnectionsService, EventHubsProbe],
  // The runner decrypts a flow's credentials through ConnectionsService.
  exports: [ConnectionsService],
})
export class ConnectionsModule {}
