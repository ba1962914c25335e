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
}

export class RunListDto {
  items?: RunDto[];
  _links?: Record<string, unknown>;
  count?: number;
}
