import { etagOf } from '../common/etag.js';
import type { RunEntity } from './run.entity.js';

interface RunMetrics {
  durationSummary?: { startedAtUTC?: number; completedAtUTC?: number };
  statusSummary?: { status?: string };
}

/**
 * A run is `processing` during its hour and `success` after it (Adobe's
 * streaming runs); it is `failed` as soon as its latest step failed, so a
 * broken flow shows up without waiting for the hour to end.
 */
function runStatusOf(run: RunEntity, now = Date.now()): string {
  const m = run.metrics as RunMetrics;
  if (m.statusSummary?.status === 'failed') return 'failed';
  return now < run.hourStart.getTime() + 3_600_000 ? 'processing' : 'success';
}

/** `lastRunDetails` of a flow. */
export function runSummaryOf(run: RunEntity): Record<string, unknown> {
  const m = run.metrics as RunMetrics;
  return {
    id: run.id,
    state: runStatusOf(run),
    startedAtUTC: m.durationSummary?.startedAtUTC ?? run.hourStart.getTime(),
    completedAtUTC: m.durationSummary?.completedAtUTC ?? 0,
  };
}

export function toRunDto(run: RunEntity): Record<string, unknown> {
  const m = run.metrics as RunMetrics & Record<string, unknown>;
  const status = runStatusOf(run);
  return {
    id: run.id,
    createdAt: run.createdAt.getTime(),
    updatedAt: run.updatedAt.getTime(),
    createdBy: 'flowservice-eventhubs',
    updatedBy: 'flowservice-eventhubs',
    createdClient: 'flowservice-eventhubs',
    updatedClient: 'flowservice-eventhubs',
    sandboxId: run.sandboxId,
    sandboxName: run.sandboxName,
    imsOrgId: run.orgId,
    flowId: run.flowId,
    flowSpec: { id: run.flowSpecId, version: '1.0' },
    providerRefId: run.flowId,
    state: status,
    etag: etagOf(run.version),
    metrics: {
      ...m,
      durationSummary: {
        startedAtUTC:
          m.durationSummary?.startedAtUTC ?? run.hourStart.getTime(),
        completedAtUTC: m.durationSummary?.completedAtUTC ?? 0,
      },
      statusSummary: { ...m.statusSummary, status },
    },
    activities: [],
  };
}
