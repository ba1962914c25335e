import { Injectable } from '@nestjs/common';
import type { Tenant } from '../common/request-context.js';
import type { FlowOperationDto } from './dto/flow-operation.dto.js';

export type FlowOperation = (
  tenant: Tenant,
  flowId: string,
  params: { runId?: string },
) => Promise<FlowOperationDto>;

/**
 * Operations of `POST /flows/{id}/action` that other areas provide (replay,
 * resync): they register here, so flows know nothing of them and the
 * dependency points from them to flows only.
 */
@Injectable()
export class FlowOperations {
  private readonly ops = new Map<string, FlowOperation>();

  register(op: string, run: FlowOperation): void {
    this.ops.set(op, run);
  }

  get(op: string): FlowOperation | undefined {
    return this.ops.get(op);
  }
}
