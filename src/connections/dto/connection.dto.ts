import { Type } from 'class-transformer';
import {
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { SpecRefDto } from '../../common/common.dto.js';

export class AuthDto {
  /** Name of an authSpec of the connection spec. @example Azure EventHub authentication credentials */
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  specName: string;

  /**
   * Parameters, validated against the authSpec's JSON Schema. Secret fields are encrypted at rest and returned as `********`.
   * @example {"sasKeyName":"RootManageSharedAccessKey","sasKey":"<key>","namespace":"127.0.0.1:5673"}
   */
  @IsObject()
  params: Record<string, unknown>;
}

export class CreateConnectionDto {
  /** @example Event Hubs namespace */
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  name: string;

  @IsOptional()
  @IsString()
  @MaxLength(2048)
  description?: string;

  /** Required for specs with an authSpec (Event Hubs); omitted for the profile store. */
  @IsOptional()
  @ValidateNested()
  @Type(() => AuthDto)
  auth?: AuthDto;

  @IsObject()
  @ValidateNested()
  @Type(() => SpecRefDto)
  connectionSpec: SpecRefDto;
}

/** The fields a PATCH may change, validated like a create after the patch is applied. */
export class PatchableConnectionDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  name: string;

  @IsOptional()
  @IsString()
  @MaxLength(2048)
  description?: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => AuthDto)
  auth?: AuthDto;
}

export class ConnectionDto {
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
  connectionSpec: SpecRefDto;
  state: string;
  auth?: AuthDto;
  version: string;
  etag: string;
}

export class ConnectionListDto {
  items?: ConnectionDto[];
  _links?: Record<string, unknown>;
  count?: number;
}

export class ConnectionTestDto {
  result: boolean;
  /** Why the test failed. */
  reason?: string;
}
