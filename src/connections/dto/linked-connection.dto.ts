import { Type } from 'class-transformer';
import {
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateNested,
  Matches,
} from 'class-validator';
import { ID_MESSAGE, RESOURCE_ID_PATTERN } from '../../common/resource-id.js';
import { DataFormatDto, SpecRefDto } from '../../common/common.dto.js';

/** Body of `POST /sourceConnections` and `POST /targetConnections`. */
export class CreateLinkedConnectionDto {
  /** @example Event Hubs target connection */
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  name: string;

  @IsOptional()
  @IsString()
  @MaxLength(2048)
  description?: string;

  /** Base connection this connection uses (same connection spec). */
  @IsOptional()
  @Matches(RESOURCE_ID_PATTERN, { message: ID_MESSAGE })
  baseConnectionId?: string;

  @IsObject()
  @ValidateNested()
  @Type(() => SpecRefDto)
  connectionSpec: SpecRefDto;

  @IsOptional()
  @ValidateNested()
  @Type(() => DataFormatDto)
  data?: DataFormatDto;

  /**
   * Validated against the spec's target (or source) JSON Schema.
   * @example {"eventHubName":"profiles","includeSegmentNames":true}
   */
  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;
}

export class PatchableLinkedConnectionDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  name: string;

  @IsOptional()
  @IsString()
  @MaxLength(2048)
  description?: string;

  @IsObject()
  params: Record<string, unknown>;
}

export class LinkedConnectionDto {
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
  baseConnectionId?: string;
  state: string;
  data: DataFormatDto;
  connectionSpec: SpecRefDto;
  params: Record<string, unknown>;
  version: string;
  etag: string;
  inheritedAttributes: Record<string, unknown>;
  typeInfo?: Record<string, unknown>;
}

export class LinkedConnectionListDto {
  items?: LinkedConnectionDto[];
  _links?: Record<string, unknown>;
  count?: number;
}
