import { ApiProperty } from '@nestjs/swagger';
import {
  Allow,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';

/** One RFC 6902 operation. `add`, `replace` and `remove` are supported, in any case. */
export class PatchOperationDto {
  /** @example replace */
  @IsString()
  @MaxLength(16)
  op: string;

  /** JSON Pointer. @example /name */
  @IsString()
  @Matches(/^\//, { message: 'path must be a JSON Pointer starting with /' })
  @MaxLength(1024)
  path: string;

  @ApiProperty({
    required: false,
    description:
      'New value (also tolerated on remove, as Adobe examples send one).',
  })
  @Allow()
  value?: unknown;

  @IsOptional()
  @IsString()
  @MaxLength(1024)
  from?: string;
}
