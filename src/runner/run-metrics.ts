import {
  type ConsentChange,
  type RecordInput,
  statusOfReason,
} from '../records/record-reasons.js';

/**
 * Accumulates a run's metrics (Adobe's FlowRunItemDTO `metrics`, CONTRACT B §4.3)
 * from the outcome of one export step.
 */
export interface StepOutcome {
  sourceConnectionId: string;
  targetConnectionIds: string[];
  /** Profiles selected by a trigger. */
  input: number;
  /** Selected but not eligible (no mapped membership or a missing mandatory field). */
  skipped: number;
  /** Sent and acknowledged by the hub, per target. */
  output: number;
  failed: number;
  outputBytes: number;
  inputBytes: number;
  /** Per mapped segment: profiles received / activated. */
  segmentInput: Record<string, number>;
  segmentOutput: Record<string, number>;
  failures: { code: string; message: string; count: number }[];
  /** Failed and excluded records, stored with the step's commit (GET /runs/{id}/records). */
  records: RecordInput[];
  /** Consent a destination now holds (true) or was told is withdrawn (false), stored with the commit. */
  consent: ConsentChange[];
  /** A whole-send failure (e.g. wrong SAS key); the run shows it until a later step succeeds. */
  error?: { code: string; message: string };
  at: number;
}

/** An outcome that counts nothing yet: a step's start, or a failed attempt. */
export function emptyOutcome(
  sourceConnectionId: string,
  targetConnectionIds: string[],
  at: number,
): StepOutcome {
  return {
    sourceConnectionId,
    targetConnectionIds,
    input: 0,
    skipped: 0,
    output: 0,
    failed: 0,
    outputBytes: 0,
    inputBytes: 0,
    segmentInput: {},
    segmentOutput: {},
    failures: [],
    records: [],
    consent: [],
    at,
  };
}

interface EntitySummary {
  id: string;
  inputRecordCount?: number;
  outputRecordCount?: number;
}

interface Info {
  code: string;
  message: string;
  count: number;
  type: 'Error' | 'Warning';
}

export interface RunMetricsJson {
  durationSummary: { startedAtUTC: number; completedAtUTC: number };
  sizeSummary: { inputBytes: number; outputBytes: number };
  recordSummary: {
    inputRecordCount: number;
    outputRecordCount: number;
    createdRecordCount: number;
    skippedRecordCount: number;
    failedRecordCount: number;
    sourceSummaries: {
      id: string;
      inputRecordCount: number;
      skippedRecordCount: number;
      entitySummaries: EntitySummary[];
    }[];
    targetSummaries: {
      id: string;
      outputRecordCount: number;
      createdRecordCount: number;
      entitySummaries: EntitySummary[];
    }[];
    skippedInfo: Info[];
    failedInfo: Info[];
    /** Records kept for GET /runs/{id}/records, by status. */
    storedRecords?: { failed: number; excluded: number };
  };
  statusSummary: {
    status: 'success' | 'failed';
    errors: { code: string; message: string }[];
  };
}

export function emptyMetrics(at: number): RunMetricsJson {
  return {
    durationSummary: { startedAtUTC: at, completedAtUTC: at },
    sizeSummary: { inputBytes: 0, outputBytes: 0 },
    recordSummary: {
      inputRecordCount: 0,
      outputRecordCount: 0,
      createdRecordCount: 0,
      skippedRecordCount: 0,
      failedRecordCount: 0,
      sourceSummaries: [],
      targetSummaries: [],
      skippedInfo: [],
      failedInfo: [],
    },
    statusSummary: { status: 'success', errors: [] },
  };
}

function addEntities(
  list: EntitySummary[],
  counts: Record<string, number>,
  field: 'inputRecordCount' | 'outputRecordCount',
): void {
  for (const [segmentId, n] of Object.entries(counts)) {
    const id = `segment:${segmentId}`;
    let e = list.find((x) => x.id === id);
    if (!e) {
      e = { id };
      list.push(e);
    }
    e[field] = (e[field] ?? 0) + n;
  }
}

function addInfo(
  list: Info[],
  code: string,
  message: string,
  count: number,
): void {
  const existing = list.find((i) => i.code === code);
  if (existing) {
    existing.count += count;
    existing.message = message;
  } else {
    list.push({ code, message, count, type: 'Error' });
  }
}

export function accumulate(
  previous: Partial<RunMetricsJson> | undefined,
  step: StepOutcome,
): RunMetricsJson {
  const m: RunMetricsJson = previous?.recordSummary
    ? (structuredClone(previous) as RunMetricsJson)
    : emptyMetrics(step.at);
  const r = m.recordSummary;
  r.inputRecordCount += step.input;
  r.outputRecordCount += step.output;
  r.createdRecordCount += step.output;
  r.skippedRecordCount += step.skipped;
  r.failedRecordCount += step.failed;
  m.sizeSummary.inputBytes += step.inputBytes;
  m.sizeSummary.outputBytes += step.outputBytes;
  m.durationSummary.completedAtUTC = Math.max(
    m.durationSummary.completedAtUTC,
    step.at,
  );
  let source = r.sourceSummaries.find((s) => s.id === step.sourceConnectionId);
  if (!source) {
    source = {
      id: step.sourceConnectionId,
      inputRecordCount: 0,
      skippedRecordCount: 0,
      entitySummaries: [],
    };
    r.sourceSummaries.push(source);
  }
  source.inputRecordCount += step.input;
  source.skippedRecordCount += step.skipped;
  addEntities(source.entitySummaries, step.segmentInput, 'inputRecordCount');
  for (const targetId of step.targetConnectionIds) {
    let target = r.targetSummaries.find((t) => t.id === targetId);
    if (!target) {
      target = {
        id: targetId,
        outputRecordCount: 0,
        createdRecordCount: 0,
        entitySummaries: [],
      };
      r.targetSummaries.push(target);
    }
    target.outputRecordCount += step.output;
    target.createdRecordCount += step.output;
    addEntities(
      target.entitySummaries,
      step.segmentOutput,
      'outputRecordCount',
    );
  }
  if (step.skipped > 0) {
    addInfo(
      r.skippedInfo,
      'ACTIVATION-0001-SKIP',
      'Profiles not exported: not a member of a mapped segment, or a mandatory field is missing.',
      step.skipped,
    );
  }
  for (const f of step.failures)
    addInfo(r.failedInfo, f.code, f.message, f.count);
  if (step.records.length) {
    const stored = (r.storedRecords ??= { failed: 0, excluded: 0 });
    for (const rec of step.records) stored[statusOfReason(rec.reasonCode)]++;
  }
  // The status reflects the latest step: a later successful send clears an
  // earlier failure, while failedInfo keeps the history of the hour.
  if (step.error) {
    m.statusSummary = { status: 'failed', errors: [step.error] };
    addInfo(r.failedInfo, step.error.code, step.error.message, 0);
  } else if (step.failures.length) {
    m.statusSummary = {
      status: 'failed',
      errors: step.failures.map((f) => ({ code: f.code, message: f.message })),
    };
  } else if (step.output > 0) {
    m.statusSummary = { status: 'success', errors: [] };
  }
  return m;
}
