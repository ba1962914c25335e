/** What an accepted replay or resync answers (202): the flow, the operation and the run it started. */
export class FlowOperationDto {
  /** The flow. */
  id: string;
  /** @example resync */
  op: string;
  /** The run the operation created; follow it at GET /runs/{runId}. */
  runId: string;
}
