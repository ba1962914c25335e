/** A run item as Adobe's `FlowRunItemDTO` (CONTRACT B §4.3). */
export class RunDto {
  id: string;
  createdAt: number;
  updatedAt: number;
  flowId: string;
  sandboxId: string;
  sandboxName: string;
  imsOrgId: string;
  flowSpec: Record<string, unknown>;
  state: string;
  etag: string;
  /** recordSummary, sizeSummary, durationSummary, statusSummary. */
  metrics: Record<string, unknown>;
  activities: Record<string, unknown>[];
  /** `replay` or `resync` for the run of that operation (absent for an hour's run). */
  op?: string;
  /** `records`: the run's failed and excluded records. */
  _links: Record<string, { href: string }>;
}

export class RunListDto {
  items?: RunDto[];
  _links?: Record<string, unknown>;
  count?: number;
}
