import {
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import {
  EventHubsEmulator,
  type EventHubsEmulatorOptions,
} from './emulator.js';

export const EVENT_HUBS_EMULATOR = Symbol('EVENT_HUBS_EMULATOR');

/** Ties the emulator's lifetime to the Nest application's (start on init, stop on shutdown). */
@Module({})
export class EventHubsEmulatorModule
  implements OnModuleInit, OnApplicationShutdown
{
  constructor(
    @Inject(EVENT_HUBS_EMULATOR) private readonly emulator: EventHubsEmulator,
  ) {}

  static forRoot(options: EventHubsEmulatorOptions = {}): DynamicModule {
    return {
      module: EventHubsEmulatorModule,
      global: true,
      providers: [
        {
          provide: EVENT_HUBS_EMULATOR,
          useValue: new EventHubsEmulator(options),
        },
      ],
      exports: [EVENT_HUBS_EMULATOR],
    };
  }

  async onModuleInit(): Promise<void> {
    await this.emulator.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.emulator.stop();
  }
}
