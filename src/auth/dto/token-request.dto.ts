import { IsOptional, IsString, MaxLength } from 'class-validator';

/** OAuth 2.0 client-credentials grant, as form fields or JSON. */
export class TokenRequestDto {
  /** Must be `client_credentials`; checked by the service so errors keep OAuth's shape. @example client_credentials */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  grant_type?: string;

  /** The client id printed at start-up or by `npm run cli -- clients create`. */
  @IsOptional()
  @IsString()
  @MaxLength(256)
  client_id?: string;

  /** The client secret (shown once when the client was created). */
  @IsOptional()
  @IsString()
  @MaxLength(512)
  client_secret?: string;

  /** Accepted for compatibility with Adobe IMS requests; ignored. */
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  scope?: string;
}

export class TokenResponseDto {
  access_token: string;
  /** @example bearer */
  token_type: string;
  /** Lifetime in seconds. @example 86400 */
  expires_in: number;
}
