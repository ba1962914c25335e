import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

const toBool = ({ value }: { value: unknown }): unknown =>
  value === 'true' ? true : value === 'false' ? false : value;
const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value;
const toArray = ({ value }: { value: unknown }): unknown =>
  value === undefined ? undefined : Array.isArray(value) ? value : [value];

const LIMIT_MESSAGE = 'limit must be a whole number from 1 to 100';

/** Query parameters shared by every Flow Service list (CONTRACT A3). */
export class ListQueryDto {
  /** Page size, 1–100 (default 20). Cannot be combined with `count`. */
  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: LIMIT_MESSAGE })
  @Min(1, { message: LIMIT_MESSAGE })
  @Max(100, { message: LIMIT_MESSAGE })
  limit?: number;

  /** Opaque token from `_links.next.href` of the previous page. */
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  continuationToken?: string;

  /** Sort fields, comma-separated, `+` ascending (default) or `-` descending. @example -createdAt */
  @IsOptional()
  @IsString()
  @MaxLength(512)
  orderby?: string;

  /** Return only `{"count": N}` for the filtered items. */
  @IsOptional()
  @Transform(toBool)
  @IsBoolean({ message: 'count must be true or false' })
  count?: boolean;

  /**
   * Filters, repeatable and AND-ed: `field==a,b`, `!=`, `>`, `>=`, `<`, `<=`; `[]` looks inside arrays.
   * @example state==enabled
   */
  @IsOptional()
  @Transform(toArray)
  @IsString({ each: true })
  @MaxLength(2048, { each: true })
  property?: string[];
}
