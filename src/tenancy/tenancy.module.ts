import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClientEntity } from './client.entity.js';
import { SandboxEntity } from './sandbox.entity.js';
import { TenancyCache } from './tenancy-cache.js';
import { TenancyService } from './tenancy.service.js';

/** API clients and the sandboxes of each org. */
@Module({
  imports: [TypeOrmModule.forFeature([ClientEntity, SandboxEntity])],
  providers: [TenancyService, TenancyCache],
  exports: [TenancyService, TenancyCache],
})
export class TenancyModule {}
