/** Body of `POST /data/core/ups/ingest/profiles` with `Content-Type: application/json`. */
export class IngestProfilesDto {
  /**
   * XDM profile fragments (1 to 1,000), each with an `identityMap`
   * `{namespace: [{id, primary?, authenticatedState?}]}`. For more, send
   * `application/x-ndjson` (one fragment per line).
   * @example [{"identityMap":{"email":[{"id":"jane@example.com","primary":true}]},"person":{"name":{"firstName":"Jane"}}}]
   */
  profiles: Record<string, unknown>[];
}

export class IngestRecordResultDto {
  /** Position of the record in `profiles` (or among the non-blank NDJSON lines). */
  index: number;

  /** 1-based NDJSON line of the record (NDJSON only). */
  line?: number;

  /** @example ok */
  status: 'ok' | 'error';

  /** The merged profile the record was stored in. */
  profileId?: string;

  /** True when no stored profile matched the record's identities. */
  created?: boolean;

  /** Profiles absorbed into `profileId` because the record linked them. */
  mergedProfileIds?: string[];

  /** Why the record was rejected. */
  reason?: string;
}

export class IngestPositionDto {
  /** Position among the non-blank NDJSON lines. */
  index: number;

  /** 1-based NDJSON line. */
  line?: number;
}

/**
 * 200 when every record was stored, 207 when at least one was rejected
 * (the others are stored regardless), 503 when the server failed part way.
 */
export class IngestResponseDto {
  results: IngestRecordResultDto[];

  /** Records stored. */
  accepted: number;

  /** Records rejected (see `results[].reason`). */
  rejected: number;

  /**
   * Of the rejected, records not stored because the server failed part way
   * (the response is then a 503): send them again; the others are stored.
   */
  notStored: number;

  /**
   * NDJSON over 10,000 records: `results` lists only rejected records (the
   * first 1,000); the counts stay exact.
   */
  summarized?: boolean;

  /**
   * NDJSON after a server failure or a shutdown (503): the first record not
   * stored. It and every record after it must be sent again; the records
   * before it have their outcome above.
   */
  notStoredFrom?: IngestPositionDto;
}
