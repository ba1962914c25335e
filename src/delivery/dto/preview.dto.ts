import {
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';

/** Which profile to preview: an identity, or a profile id without `entityIdNS`. */
export class PreviewQueryDto {
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
}

/** Why nothing (or nothing normal) would be sent. */
export class PreviewReasonDto {
  /** NOT_A_MEMBER, MISSING_MANDATORY, CONSENT, SIZE_LIMIT or BUILD_FAILED. @example MISSING_MANDATORY */
  code: string;
  message: string;
}

/** The message exactly as the runner would publish it. */
export class PreviewMessageDto {
  messageId: string;
  /** How the messageId is derived (the same export retried keeps it). @example uuid(sha256(flowId|targetConnectionId|profileId|change:1234:56)) */
  messageIdScheme: string;
  /** The partition key: the profile id. */
  partitionKey: string;
  /** The partition the key maps to on the hub (null when the hub could not be reached). */
  partitionId: string | null;
  /** The message's application properties (flowId, profileId, targetConnectionId, trigger). */
  applicationProperties: Record<string, string>;
  /** The body as the exact JSON text the runner publishes. */
  body: string;
}

/** What one target would get. */
export class TargetPreviewDto {
  targetConnectionId: string;
  eventHubName: string;
  /** `send`, `excluded` (a reason says why) or `none` (no export pending for the profile, or not a member). @example send */
  outcome: 'send' | 'excluded' | 'none';
  /** The message's `trigger` property (e.g. `segment,attribute`), or null when no export is pending. */
  trigger: string | null;
  reason: PreviewReasonDto | null;
  message: PreviewMessageDto | null;
}

/** What the flow would send for the profile now, per target. Nothing is sent or changed. */
export class FlowPreviewDto {
  flowId: string;
  profileId: string;
  entityId: string;
  /** The namespace given (null when entityId is a profile id). */
  entityIdNS: string | null;
  targets: TargetPreviewDto[];
}
