import {
  IsIn,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';

/** Adobe's Profile access query: `schema.name`, `entityId`, `entityIdNS`. */
export class EntityQueryDto {
  /** Only `_xdm.context.profile`. @example _xdm.context.profile */
  @IsIn(['_xdm.context.profile'])
  'schema.name': string;

  /** An identity value, or the profile id when `entityIdNS` is omitted. @example jane@example.com */
  @IsString()
  @IsNotEmpty()
  @MaxLength(1024)
  entityId: string;

  /** Identity namespace code (case-insensitive). @example email */
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, {
    message: 'entityIdNS must be a namespace code',
  })
  entityIdNS?: string;

  /** Accepted for compatibility; every attribute is returned. */
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  fields?: string;

  /** Accepted for compatibility; there is one merge policy. */
  @IsOptional()
  @IsString()
  @MaxLength(128)
  mergePolicyId?: string;
}
