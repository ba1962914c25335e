import { Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

export class SegmentExpressionDto {
  /** Only `PQL`. @example PQL */
  @IsIn(['PQL'])
  type: string;

  /** Only `pql/text`. @example pql/text */
  @IsIn(['pql/text'])
  format: string;

  /** The PQL condition. @example homeAddress.countryCode = "US" and person.birthYear < 1980 */
  @IsString()
  @IsNotEmpty()
  @MaxLength(65536)
  value: string;
}

export class SegmentSchemaDto {
  /** @example _xdm.context.profile */
  @IsOptional()
  @IsIn(['_xdm.context.profile'])
  name?: string;

  /** Accepted for compatibility (Adobe allows a schema id instead of a name). */
  @IsOptional()
  @IsString()
  @MaxLength(512)
  id?: string;
}

export class EnabledFlagDto {
  @IsBoolean()
  enabled: boolean;
}

/** Adobe's evaluation modes; every segment here is evaluated continuously (streaming). */
export class EvaluationInfoDto {
  @IsOptional()
  @ValidateNested()
  @Type(() => EnabledFlagDto)
  batch?: EnabledFlagDto;

  @IsOptional()
  @ValidateNested()
  @Type(() => EnabledFlagDto)
  continuous?: EnabledFlagDto;

  @IsOptional()
  @ValidateNested()
  @Type(() => EnabledFlagDto)
  synchronous?: EnabledFlagDto;
}

export class DataGovernancePolicyDto {
  @IsOptional()
  @IsBoolean()
  excludeOptOut?: boolean;
}

export class CreateSegmentDefinitionDto {
  /** Unique within the sandbox. @example People in the US */
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  name: string;

  @IsOptional()
  @IsString()
  @MaxLength(4096)
  description?: string;

  @ValidateNested()
  @Type(() => SegmentExpressionDto)
  expression: SegmentExpressionDto;

  /** Defaults to `{"name": "_xdm.context.profile"}`. */
  @IsOptional()
  @ValidateNested()
  @Type(() => SegmentSchemaDto)
  schema?: SegmentSchemaDto;

  /** @example ups */
  @IsOptional()
  @IsIn(['ups'])
  profileInstanceId?: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => EvaluationInfoDto)
  evaluationInfo?: EvaluationInfoDto;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3650)
  ttlInDays?: number;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  payloadSchema?: string;

  @IsOptional()
  @IsString()
  @MaxLength(128)
  mergePolicyId?: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => DataGovernancePolicyDto)
  dataGovernancePolicy?: DataGovernancePolicyDto;
}

/**
 * PATCH body: the whole definition (Adobe's PATCH is a full overwrite).
 * Read-only fields of a fetched definition are accepted and ignored, so a
 * GET → edit → PATCH round trip works.
 */
export class UpdateSegmentDefinitionDto extends CreateSegmentDefinitionDto {
  /** Read-only, ignored. */
  @IsOptional()
  @IsString()
  id?: string;

  /** Read-only, ignored. */
  @IsOptional()
  @IsString()
  imsOrgId?: string;

  /** Read-only, ignored. */
  @IsOptional()
  @IsObject()
  sandbox?: Record<string, unknown>;

  /** Read-only, ignored. */
  @IsOptional()
  @IsNumber()
  creationTime?: number;

  /** Read-only, ignored. */
  @IsOptional()
  @IsNumber()
  updateTime?: number;

  /** Read-only, ignored. */
  @IsOptional()
  @IsNumber()
  updateEpoch?: number;

  /** Read-only, ignored. */
  @IsOptional()
  @IsNumber()
  baselineTime?: number;

  /** Read-only, ignored. */
  @IsOptional()
  @IsObject()
  evaluationJob?: Record<string, unknown>;
}

export class ListSegmentDefinitionsQueryDto {
  /** Offset of the first item. @example 0 */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  start?: number;

  /** Page size (default 20, max 100). @example 20 */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  /** `[name|creationTime|updateTime]:[asc|desc]` (default `creationTime:desc`). @example updateTime:desc */
  @IsOptional()
  @IsString()
  @Matches(/^(name|creationTime|updateTime):(asc|desc)$/, {
    message:
      'sort must be name|creationTime|updateTime followed by :asc or :desc',
  })
  sort?: string;
}

export class SegmentJobDto {
  id: string;

  segmentId: string;

  /** `evaluate` (new or edited definition) or `sweep` (time-relative re-evaluation). */
  kind: string;

  /** `queued`, `running`, `succeeded`, `failed` or `cancelled`. */
  status: string;

  /** Profiles evaluated so far. */
  processedProfiles: number;

  /** Profiles in the sandbox when the job was created. */
  totalProfiles: number;

  /** Profiles that entered the segment during this job. */
  enteredProfiles: number;

  /** Profiles that left the segment during this job. */
  exitedProfiles: number;

  attempts: number;

  error: string | null;

  /** Epoch milliseconds. */
  createdAt: number;

  startedAt: number | null;

  finishedAt: number | null;

  updatedAt: number;
}

export class SegmentSandboxDto {
  sandboxId: string;
  sandboxName: string;
  type: string;
  default: boolean;
}

export class SegmentDefinitionResponseDto {
  id: string;
  schema: { name: string };
  ttlInDays?: number;
  profileInstanceId: string;
  imsOrgId: string;
  sandbox: SegmentSandboxDto;
  name: string;
  description: string;
  expression: SegmentExpressionDto;
  mergePolicyId?: string;
  payloadSchema?: string;
  evaluationInfo: Record<string, unknown>;
  dataGovernancePolicy: Record<string, unknown>;
  /** Epoch milliseconds. */
  creationTime: number;
  /** Epoch seconds. */
  updateEpoch: number;
  /** Epoch milliseconds. */
  updateTime: number;
  /** Ours: the latest background evaluation of this definition over existing profiles. */
  evaluationJob?: SegmentJobDto;
}

export class SegmentPageDto {
  totalCount: number;
  totalPages: number;
  sortField: string;
  sort: string;
  pageSize: number;
  limit: number;
}

export class SegmentDefinitionListDto {
  segments: SegmentDefinitionResponseDto[];
  page: SegmentPageDto;
  /** `next` href when there are more pages. */
  link: Record<string, string>;
}

export class SegmentDeletedDto {
  /** @example true */
  status: boolean;
  message: string;
}
