import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiConsumes, ApiTags } from '@nestjs/swagger';
import { TokenRateLimit } from '../limits/rate-limit.decorator.js';
import { TokenRequestDto, TokenResponseDto } from './dto/token-request.dto.js';
import { TokenService } from './token.service.js';

@ApiTags('Authentication')
@Controller('ims/token/v3')
export class TokenController {
  constructor(private readonly tokens: TokenService) {}

  /** Exchange client credentials for a bearer token (Adobe IMS server-to-server style). */
  @Post()
  @HttpCode(200)
  @TokenRateLimit()
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  issue(@Body() body: TokenRequestDto): Promise<TokenResponseDto> {
    return this.tokens.issue(
      body.grant_type,
      body.client_id,
      body.client_secret,
    );
  }
}
