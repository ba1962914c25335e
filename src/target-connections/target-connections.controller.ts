import { linkedConnectionsController } from '../connections/linked-connections.controller.js';
import { TargetConnectionsService } from './target-connections.service.js';

export const TargetConnectionsController = linkedConnectionsController(
  'targetConnections',
  'Target connections',
  TargetConnectionsService,
);
