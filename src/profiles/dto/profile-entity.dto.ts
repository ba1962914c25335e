export class ProfileEntityDto {
  /** The profile id. */
  entityId: string;

  /** Where the data came from (one merged store here). @example ["ups"] */
  sources: string[];

  /** The merged profile: attributes, `identityMap` and `segmentMembership.ups`. */
  entity: Record<string, unknown>;

  /** ISO-8601 time of the last change of attributes or identities. */
  lastModifiedAt: string;
}

export class ProfileDeletedDto {
  /** The deleted profile's id. */
  entityId: string;

  /** @example true */
  deleted: boolean;
}
