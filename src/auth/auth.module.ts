import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LimitsModule } from '../limits/limits.module.js';
import { ClientEntity } from '../tenancy/client.entity.js';
import { TenancyModule } from '../tenancy/tenancy.module.js';
import { PlatformAuthGuard } from './platform-auth.guard.js';
import { PlatformAuthenticator } from './platform-authenticator.js';
import { TokenController } from './token.controller.js';
import { TokenService } from './token.service.js';

/**
 * The token endpoint and the Platform gateway checks. A module whose
 * controllers use `PlatformApi()` imports this one: Nest builds the guards
 * (authentication, then the rate limit) in that module, from the token
 * service, tenancy and limits exported here.
 */
@Module({
  imports: [
    TenancyModule,
    LimitsModule,
    TypeOrmModule.forFeature([ClientEntity]),
  ],
  controllers: [TokenController],
  providers: [TokenService, PlatformAuthenticator, PlatformAuthGuard],
  exports: [
    TokenService,
    PlatformAuthenticator,
    PlatformAuthGuard,
    TenancyModule,
    LimitsModule,
  ],
})
export class AuthModule {}
