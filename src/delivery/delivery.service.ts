import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import {
  DomainError,
  ErrorCode,
  notFound,
  validationFailed,
} from '../common/errors.js';
import type { Tenant } from '../common/request-context.js';
import { isResourceId } from '../common/resource-id.js';
import { tenantWhere } from '../common/resource.mapper.js';
import type { FlowOperationDto } from '../flows/dto/flow-operation.dto.js';
import { FlowEntity } from '../flows/flow.entity.js';
import { FlowOperations } from '../flows/flow-operations.js';
import { ProfilesService } from '../profiles/profiles.service.js';
import type { DeliveryJobOp } from '../runner/delivery-job.entity.js';
import { DeliveryJobs, JobRunning } from '../runner/delivery-jobs.js';
import { ExportPreview } from '../runner/export-preview.js';
import { RunEntity } from '../runs/run.entity.js';
import type { FlowPreviewDto, PreviewQueryDto } from './dto/preview.dto.js';

/** Delivery operations on a flow: the export preview, replay and resync. */
@Injectable()
export class DeliveryService implements OnModuleInit {
  constructor(
    @InjectRepository(FlowEntity)
    private readonly flows: Repository<FlowEntity>,
    @InjectRepository(RunEntity) private readonly runs: Repository<RunEntity>,
    private readonly profiles: ProfilesService,
    private readonly exportPreview: ExportPreview,
    private readonly jobs: DeliveryJobs,
    private readonly operations: FlowOperations,
  ) {}

  onModuleInit(): void {
    for (const op of ['replay', 'resync'] as const)
      this.operations.register(op, (tenant, flowId, params) =>
        this.start(tenant, flowId, op, params.runId),
      );
  }

  async preview(
    tenant: Tenant,
    flowId: string,
    query: PreviewQueryDto,
  ): Promise<FlowPreviewDto> {
    const flow = await this.flowOf(tenant, flowId);
    const profileId = await this.profiles.profileIdOf(tenant, query);
    return {
      flowId,
      profileId,
      entityId: query.entityId,
      entityIdNS: query.entityIdNS ?? null,
      targets: await this.exportPreview.preview(flow, profileId),
    };
  }

  /** Starts a replay or resync: its run's id, or 409 while one of the flow's runs. */
  private async start(
    tenant: Tenant,
    flowId: string,
    op: DeliveryJobOp,
    runId: string | undefined,
  ): Promise<FlowOperationDto> {
    if (runId !== undefined && op !== 'replay')
      throw validationFailed('runId is a parameter of op=replay only', [
        { path: 'runId', message: 'only with op=replay' },
      ]);
    if (runId !== undefined && !isResourceId(runId))
      throw validationFailed('runId must be a run id', [
        { path: 'runId', message: 'must be 8-4-4-4-12 hex digits' },
      ]);
    const flow = await this.flowOf(tenant, flowId);
    if (runId !== undefined) {
      const run = await this.runs.findOne({
        where: { id: runId, flowId, ...tenantWhere(tenant) },
        select: { id: true },
      });
      if (!run) throw notFound('runs', runId);
    }
    try {
      const job = await this.jobs.start(flow, op, runId ?? null);
      return { id: flowId, op, runId: job.runId };
    } catch (err) {
      if (err instanceof JobRunning)
        throw new DomainError(
          ErrorCode.Conflict,
          `A ${err.job.op} of flow ${flowId} is in progress (run ${err.job.runId}); try again when it has finished.`,
        );
      throw err;
    }
  }

  private async flowOf(tenant: Tenant, flowId: string): Promise<FlowEntity> {
    const flow = await this.flows.findOne({
      where: { id: flowId, ...tenantWhere(tenant) },
    });
    if (!flow) throw notFound('flows', flowId);
    return flow;
  }
}
