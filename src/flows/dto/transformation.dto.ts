import { Type } from 'class-transformer';
import {
  IsArray,
  IsIn,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';

/** An XDM attribute path such as `person.name.firstName`. */
const ATTRIBUTE_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export class ProfileSelectorValueDto {
  /** XDM path of the attribute to export. @example personalEmail.address */
  @IsString()
  @Matches(ATTRIBUTE_PATH, {
    message: 'path must be a dotted XDM attribute path',
  })
  @MaxLength(512)
  path: string;

  /** Only `EXISTS` (Adobe: "currently hardcoded"). */
  @IsOptional()
  @IsIn(['EXISTS'])
  operator?: string;

  /** Accepted for compatibility with Adobe's UI-created flows. */
  @IsOptional()
  @IsObject()
  identity?: Record<string, unknown>;

  /** Accepted for compatibility with Adobe's UI-created flows. */
  @IsOptional()
  @IsObject()
  mapping?: Record<string, unknown>;
}

export class ProfileSelectorDto {
  @IsIn(['JSON_PATH'])
  type: string;

  @IsObject()
  @ValidateNested()
  @Type(() => ProfileSelectorValueDto)
  value: ProfileSelectorValueDto;
}

export class SegmentSelectorValueDto {
  /** Segment definition id. @example 72ddd79b-6b0a-4e97-a8d2-112ccd81bd02 */
  @IsString()
  @IsNotEmpty()
  @Matches(/^[A-Za-z0-9_-]{1,128}$/, { message: 'id must be a segment id' })
  id: string;

  @IsOptional()
  @IsString()
  @MaxLength(512)
  name?: string;

  @IsOptional()
  @IsString()
  @MaxLength(2048)
  description?: string;

  /** Epoch seconds as a string (system-generated in Adobe). */
  @IsOptional()
  @IsString()
  @MaxLength(32)
  createTime?: string;

  @IsOptional()
  @IsString()
  @MaxLength(32)
  updateTime?: string;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  namespace?: string;

  @IsOptional()
  @IsString()
  @MaxLength(128)
  systemSegmentId?: string;
}

export class SegmentSelectorDto {
  @IsIn(['PLATFORM_SEGMENT'])
  type: string;

  @IsObject()
  @ValidateNested()
  @Type(() => SegmentSelectorValueDto)
  value: SegmentSelectorValueDto;
}

export class PrimaryFieldDto {
  @IsIn(['IDENTITY', 'ATTRIBUTE'])
  fieldType: string;

  @IsOptional()
  @IsString()
  @MaxLength(128)
  identityNamespace?: string;

  @IsOptional()
  @IsString()
  @MaxLength(512)
  attributePath?: string;
}

export class ProfileSelectorsDto {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ProfileSelectorDto)
  selectors: ProfileSelectorDto[];

  /** Profiles lacking one of these attributes are not exported. */
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @Matches(ATTRIBUTE_PATH, { each: true })
  mandatoryFields?: string[];

  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => PrimaryFieldDto)
  primaryFields?: PrimaryFieldDto[];
}

export class SegmentSelectorsDto {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => SegmentSelectorDto)
  selectors: SegmentSelectorDto[];
}

export class TransformationParamsDto {
  @IsOptional()
  @ValidateNested()
  @Type(() => ProfileSelectorsDto)
  profileSelectors?: ProfileSelectorsDto;

  @IsOptional()
  @ValidateNested()
  @Type(() => SegmentSelectorsDto)
  segmentSelectors?: SegmentSelectorsDto;
}

export class TransformationDto {
  /** @example GeneralTransform */
  @IsIn(['GeneralTransform'])
  name: string;

  @IsObject()
  @ValidateNested()
  @Type(() => TransformationParamsDto)
  params: TransformationParamsDto;
}
