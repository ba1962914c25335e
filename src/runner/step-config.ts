import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import { ConnectionEntity } from '../connections/connection.entity.js';
import { FlowEntity } from '../flows/flow.entity.js';
import { TargetConnectionEntity } from '../target-connections/target-connection.entity.js';
import type { SegmentInfo } from './mapping.js';
import { RunnerRepository } from './runner.repository.js';

/** What a step needs besides its lane's cursor, as of the step's start. */
export interface StepConfig {
  flow: FlowEntity;
  /** The flow's target connections that exist (a missing one is the step's error to report). */
  targets: TargetConnectionEntity[];
  /** Their base connections that exist. */
  bases: ConnectionEntity[];
  /** A replay or resync is running on the lane. */
  jobRunning: boolean;
  /** The mapped segments' names and times (see RunnerRepository.segmentInfo). */
  segmentInfo(segmentIds: string[]): Promise<Map<string, SegmentInfo>>;
}

interface Entry {
  /** The versions the entities were read at (see STAMP_SQL). */
  stamp: string;
  flow: FlowEntity;
  targets: TargetConnectionEntity[];
  bases: ConnectionEntity[];
  segmentIds: string[];
  segmentStamp: string | null;
  segments: Map<string, SegmentInfo>;
}

/** Flows whose configuration a process keeps; past it the oldest is dropped. */
const MAX_FLOWS = 1_000;

/**
 * The flow, its targets and their bases cost three statements per step, and
 * the mapped segments a fourth; they change only when someone edits them,
 * while a busy lane steps many times a second. So each step reads only
 * their versions (every write of these rows sets a new `version`, which is
 * the resource's etag, and a segment definition's `updated_at`) in one
 * statement with the lane's job state, and reads the rows again only when a
 * version moved. The rows are read after the versions they are stamped
 * with, so what is used is never older than what the step saw.
 */
@Injectable()
export class StepConfigs {
  private readonly entries = new Map<string, Entry>();

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly repo: RunnerRepository,
  ) {}

  /** The lane's flow and what it refers to; null when the flow is gone. */
  async forStep(flowId: string, lane: number): Promise<StepConfig | null> {
    const cached = this.entries.get(flowId);
    const [row] = (await this.ds.query(
      `SELECT f.version::text || '|' || COALESCE((
                SELECT string_agg(t.id::text || ':' || t.version::text || ':' || COALESCE(b.version::text, '-'), ',' ORDER BY t.id)
                  FROM target_connections t LEFT JOIN connections b ON b.id = t.base_connection_id
                 WHERE t.id = ANY(f.target_connection_ids)), '') AS stamp,
              (SELECT count(*)::text || ':' || COALESCE(max(s.updated_at)::text, '-')
                 FROM segment_definitions s
                WHERE s.org_id = f.org_id AND s.sandbox_name = f.sandbox_name AND s.id = ANY($3::uuid[])) AS segment_stamp,
              EXISTS (SELECT 1 FROM delivery_jobs j WHERE j.flow_id = f.id AND j.lane = $2 AND j.state = 'running') AS job_running
         FROM flows f WHERE f.id = $1`,
      [flowId, lane, cached?.segmentIds ?? []],
    )) as { stamp: string; segment_stamp: string; job_running: boolean }[];
    if (!row) {
      this.entries.delete(flowId);
      return null;
    }
    const e =
      cached?.stamp === row.stamp ? cached : await this.read(flowId, row.stamp);
    if (!e) return null;
    return {
      flow: e.flow,
      targets: e.targets,
      bases: e.bases,
      jobRunning: row.job_running,
      segmentInfo: async (segmentIds) => {
        const same =
          e.segmentIds.length === segmentIds.length &&
          e.segmentIds.every((id, i) => id === segmentIds[i]);
        // The stamp was taken for the entry's ids: other ids are read afresh
        // and stamped by the next step's statement.
        if (same && e.segmentStamp === row.segment_stamp) return e.segments;
        e.segments = await this.repo.segmentInfo(e.flow, segmentIds);
        e.segmentIds = [...segmentIds];
        e.segmentStamp = same ? row.segment_stamp : null;
        return e.segments;
      },
    };
  }

  private async read(flowId: string, stamp: string): Promise<Entry | null> {
    const flow = await this.ds
      .getRepository(FlowEntity)
      .findOne({ where: { id: flowId } });
    if (!flow) {
      this.entries.delete(flowId);
      return null;
    }
    const targets = flow.targetConnectionIds.length
      ? await this.ds
          .getRepository(TargetConnectionEntity)
          .find({ where: { id: In(flow.targetConnectionIds) } })
      : [];
    const baseIds = targets.flatMap((t) =>
      t.baseConnectionId ? [t.baseConnectionId] : [],
    );
    const bases = baseIds.length
      ? await this.ds
          .getRepository(ConnectionEntity)
          .find({ where: { id: In(baseIds) } })
      : [];
    const entry: Entry = {
      stamp,
      flow,
      targets,
      bases,
      segmentIds: [],
      segmentStamp: null,
      segments: new Map(),
    };
    this.entries.delete(flowId);
    if (this.entries.size >= MAX_FLOWS) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(flowId, entry);
    return entry;
  }
}
