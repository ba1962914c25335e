import { Module } from '@nestjs/common';
import { ProfileStore } from './profile-store.js';

/** Profiles, identities and the change log: their tables and every statement over them. */
@Module({
  providers: [ProfileStore],
  exports: [ProfileStore],
})
export class ProfileStoreModule {}
