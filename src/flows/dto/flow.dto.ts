import { Type } from 'class-transformer';
import {
  Allow,
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateNested,
  Matches,
} from 'class-validator';
import { ID_MESSAGE, RESOURCE_ID_PATTERN } from '../../common/resource-id.js';
import { SpecRefDto } from '../../common/common.dto.js';
import { TransformationDto } from './transformation.dto.js';

export class CreateFlowDto {
  /** @example Azure Event Hubs */
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  name: string;

  @IsOptional()
  @IsString()
  @MaxLength(2048)
  description?: string;

  @IsObject()
  @ValidateNested()
  @Type(() => SpecRefDto)
  flowSpec: SpecRefDto;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1)
  @Matches(RESOURCE_ID_PATTERN, { each: true, message: ID_MESSAGE })
  sourceConnectionIds: string[];

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10)
  @Matches(RESOURCE_ID_PATTERN, { each: true, message: ID_MESSAGE })
  targetConnectionIds: string[];

  @IsArray()
  @ArrayMaxSize(1)
  @ValidateNested({ each: true })
  @Type(() => TransformationDto)
  transformations: TransformationDto[];

  /** Not allowed: a new flow is always `enabled` (1410-400). */
  @Allow()
  state?: unknown;

  /** Accepted for compatibility with source flows; streaming flows ignore it. */
  @IsOptional()
  @IsObject()
  scheduleParams?: Record<string, unknown>;
}

/** What JSON Patch may change on a flow; validated like a create after patching. */
export class PatchableFlowDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  name: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1)
  @Matches(RESOURCE_ID_PATTERN, { each: true, message: ID_MESSAGE })
  sourceConnectionIds: string[];

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10)
  @Matches(RESOURCE_ID_PATTERN, { each: true, message: ID_MESSAGE })
  targetConnectionIds: string[];

  @IsOptional()
  @IsString()
  @MaxLength(2048)
  description?: string;

  @IsArray()
  @ArrayMaxSize(1)
  @ValidateNested({ each: true })
  @Type(() => TransformationDto)
  transformations: TransformationDto[];
}

export class FlowDto {
  id: string;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
  updatedBy: string;
  createdClient: string;
  updatedClient: string;
  sandboxId: string;
  sandboxName: string;
  imsOrgId: string;
  name: string;
  description: string;
  flowSpec: SpecRefDto;
  state: string;
  version: string;
  etag: string;
  sourceConnectionIds: string[];
  targetConnectionIds: string[];
  inheritedAttributes: Record<string, unknown>;
  transformations: TransformationDto[];
  /** Link to this flow's runs. */
  runs: string;
  lastOperation: Record<string, unknown>;
  lastRunDetails?: Record<string, unknown>;
}

export class FlowListDto {
  items?: FlowDto[];
  _links?: Record<string, unknown>;
  count?: number;
}
