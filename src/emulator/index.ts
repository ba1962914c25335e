export { EventHubsEmulator } from './emulator.js';
export type {
  EmulatorCounters,
  EventHubsEmulatorOptions,
  HubConfig,
  HubInfo,
  PartitionProperties,
  StoredEventView,
} from './emulator.js';
export { DEFAULT_EMULATOR_KEY, DEFAULT_KEY_NAME } from './defaults.js';
export type { FaultSpec, FiredFault, FaultRecord } from './faults.js';
export { partitionForKey, hashPartitionKey } from './partition-key.js';
export { createSasToken } from './sas.js';
