/**
 * Shared key for the local emulator. It is public on purpose: it only protects a loopback-only
 * development server and must never be used for a real Event Hubs namespace.
 */
export const DEFAULT_EMULATOR_KEY =
  'EmulatorDevelopmentKeyForLocalUseOnly0000000=';

export const DEFAULT_KEY_NAME = 'RootManageSharedAccessKey';
export const DEFAULT_CONSUMER_GROUP = '$default';
export const DEFAULT_PORT = 5673;
/** The Standard tier limit; the SDK sizes `createBatch()` from the value we advertise on attach. */
export const MAX_MESSAGE_SIZE = 1024 * 1024;
/** The service's quota of non-epoch readers per consumer group and partition. */
export const MAX_NON_EPOCH_READERS = 5;
