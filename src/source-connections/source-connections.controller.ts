import { linkedConnectionsController } from '../connections/linked-connections.controller.js';
import { SourceConnectionsService } from './source-connections.service.js';

export const SourceConnectionsController = linkedConnectionsController(
  'sourceConnections',
  'Source connections',
  SourceConnectionsService,
);
