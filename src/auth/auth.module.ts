import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClientEntity } from '../tenancy/client.entity.js';
import { TenancyModule } from '../tenancy/tenancy.module.js';
import { PlatformAuthGuard } from './platform-auth.guard.js';
import { PlatformAuthenticator } from './platform-authenticator.js';
import { TokenController } from './token.controller.js';
import { TokenService } from './token.service.js';

/**
 * The token endpoint and the Platform gateway checks. A module whose
 * controllers use `PlatformApi()` imports this one: Nest builds the guard in
 * that module, from the token service and tenancy exported here.
 */
@Module({
  imports: [TenancyModule, TypeOrmModule.forFeature([ClientEntity])],
  controllers: [TokenController],
  providers: [TokenService, PlatformAuthenticator, PlatformAuthGuard],
  exports: [
    TokenService,
    PlatformAuthenticator,
    PlatformAuthGuard,
    TenancyModule,
  ],
})
export class AuthModule {}
