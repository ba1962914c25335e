import { linkedConnectionsController } from '../connections/linked-connections.controller-factory.js';
import { SourceConnectionsService } from './source-connections.service.js';

export class SourceConnectionsController extends linkedConnectionsController({
  path: 'data/foundation/flowservice/sourceConnections',
  tag: 'Source connections',
  noun: 'source connection',
  service: SourceConnectionsService,
}) {}
