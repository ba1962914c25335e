import {
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';
import { ID_MESSAGE, RESOURCE_ID_PATTERN } from './resource-id.js';

/** Reference to a catalogue spec. */
export class SpecRefDto {
  /** @example bf9f5905-92b7-48bf-bf20-455bc6b60a4e */
  @Matches(RESOURCE_ID_PATTERN, { message: ID_MESSAGE })
  id: string;

  /**
   * Required: a missing version is answered 422, as Adobe does ("connectionSpec.version 'version' is required for spec info").
   * @example 1.0
   */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(16)
  version: string;
}

export class DataFormatDto {
  /** @example json */
  @IsString()
  @Matches(/^json$/i, { message: 'data.format must be json' })
  format: string;
}

/** `201` body of every create. */
export class CreatedDto {
  /** @example 5e45582a-5336-4ea1-9ec9-d0004a9f344a */
  id: string;
  /** Quoted version; send it back as `If-Match`. @example "\"8b0351ca-0000-0200-0000-61c4d6700000\"" */
  etag: string;
}
