import { linkedConnectionsController } from '../connections/linked-connections.controller-factory.js';
import { TargetConnectionsService } from './target-connections.service.js';

export class TargetConnectionsController extends linkedConnectionsController({
  path: 'data/foundation/flowservice/targetConnections',
  tag: 'Target connections',
  noun: 'target connection',
  service: TargetConnectionsService,
}) {}
