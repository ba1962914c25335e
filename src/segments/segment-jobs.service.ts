import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { notFound } from '../common/errors.js';
import {
  type Queryable,
  type TenantRef,
  withTransaction,
} from '../database/transaction.js';
import type { StoredMemberships } from '../memberships/stored-membership.js';
import { TimeSlice } from '../memberships/time-slice.js';
import {
  type MembershipChange,
  membershipTransitionsSliced,
} from '../memberships/transitions.js';
import {
  type ChangeRowInput,
  appendChanges,
} from '../profile-store/change-log.js';
import {
  patchMemberships,
  purgeExitedMemberships,
} from '../profile-store/membership-writes.js';
import {
  countProfiles,
  lockProfilePage,
} from '../profile-store/profile-rows.js';
import type { SegmentJobDto } from './dto/segment-definition.dto.js';
import { SegmentCatalog } from './segment-catalog.js';
import { SegmentJobEntity, type SegmentJobKind } from './segment-job.entity.js';

export const DEFAULT_JOB_BATCH_SIZE = 500;
export const DEFAULT_LEASE_MS = 60_000;
/** A job whose batches keep failing stops after this many claims. */
const MAX_ATTEMPTS = 5;

export type BatchOutcome = 'continue' | 'done' | 'lost' | 'cancelled';

interface JobRow {
  id: string;
  org_id: string;
  sandbox_name: string;
  segment_id: string;
  expression_version: number;
  status: string;
  cursor: string | null;
  lease_owner: string | null;
}

/**
 * Background evaluation of one segment over all profiles of its sandbox.
 * Jobs are claimed with FOR UPDATE SKIP LOCKED under a lease; each batch's
 * memberships, change rows and the job's cursor commit together, so a job
 * whose worker died is re-claimed after its lease expires and resumes at
 * the first profile not yet done.
 */
@Injectable()
export class SegmentJobsService {
  constructor(
    private readonly dataSource: DataSource,
    @InjectRepository(SegmentJobEntity)
    private readonly jobs: Repository<SegmentJobEntity>,
    private readonly catalog: SegmentCatalog,
  ) {}

  /** Queues an evaluation (in the caller's transaction) and cancels older unfinished ones. */
  async enqueue(
    q: Queryable,
    tenant: TenantRef,
    segmentId: string,
    expressionVersion: number,
    kind: SegmentJobKind,
  ): Promise<void> {
    await q.query(
      `UPDATE segment_jobs SET status = 'cancelled', lease_owner = NULL,
              finished_at = now(), updated_at = now()
        WHERE org_id = $1 AND sandbox_name = $2 AND segment_id = $3
          AND status IN ('queued', 'running')`,
      [tenant.orgId, tenant.sandboxName, segmentId],
    );
    await q.query(
      `INSERT INTO segment_jobs
         (org_id, sandbox_name, segment_id, expression_version, kind, status, total_count)
       VALUES ($1, $2, $3, $4, $5, 'queued', $6)`,
      [
        tenant.orgId,
        tenant.sandboxName,
        segmentId,
        expressionVersion,
        kind,
        await countProfiles(q, tenant),
      ],
    );
  }

  /**
   * Queues a `sweep` for every time-relative segment that has no unfinished
   * job. One replica at a time (advisory lock), so sweeps are not doubled.
   */
  async enqueueSweeps(): Promise<number> {
    return this.dataSource.transaction(async (m) => {
      const [lock] = (await m.query(
        'SELECT pg_try_advisory_xact_lock(727002) AS ok',
      )) as { ok: boolean }[];
      if (!lock?.ok) return 0;
      const due = (await m.query(
        `SELECT d.org_id, d.sandbox_name, d.id, d.expression_version
           FROM segment_definitions d
          WHERE d.time_relative
            AND NOT EXISTS (SELECT 1 FROM segment_jobs j
                             WHERE j.segment_id = d.id AND j.status IN ('queued', 'running'))`,
      )) as {
        org_id: string;
        sandbox_name: string;
        id: string;
        expression_version: number;
      }[];
      const totals = new Map<string, number>();
      for (const d of due) {
        const key = `${d.org_id}\u0000${d.sandbox_name}`;
        const total =
          totals.get(key) ??
          (await countProfiles(m, {
            orgId: d.org_id,
            sandboxName: d.sandbox_name,
          }));
        totals.set(key, total);
        await m.query(
          `INSERT INTO segment_jobs
             (org_id, sandbox_name, segment_id, expression_version, kind, status, total_count)
           VALUES ($1, $2, $3, $4, 'sweep', 'queued', $5)`,
          [d.org_id, d.sandbox_name, d.id, d.expression_version, total],
        );
      }
      return due.length;
    });
  }

  /** Exited memberships and finished jobs older than the retention period. */
  async purge(
    retentionDays: number,
  ): Promise<{ memberships: number; jobs: number }> {
    const memberships = await purgeExitedMemberships(
      this.dataSource,
      retentionDays,
    );
    const jobs = (await this.dataSource.query(
      `WITH gone AS (
         DELETE FROM segment_jobs
          WHERE status IN ('succeeded', 'failed', 'cancelled')
            AND finished_at < now() - make_interval(days => $1)
         RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [retentionDays],
    )) as { n: number }[];
    return { memberships, jobs: jobs[0]?.n ?? 0 };
  }

  /**
   * Claims the oldest queued job, or a running one whose lease expired;
   * `only` restricts it to one sandbox (a dedicated worker, or a test).
   */
  async claim(
    owner: string,
    leaseMs = DEFAULT_LEASE_MS,
    only?: TenantRef,
  ): Promise<JobRow | null> {
    const rows = (await this.dataSource.query(
      `UPDATE segment_jobs j
          SET status = 'running', lease_owner = $1,
              lease_expires_at = now() + make_interval(secs => $2::double precision / 1000),
              attempts = j.attempts + 1,
              started_at = COALESCE(j.started_at, now()), updated_at = now()
        WHERE j.id = (SELECT id FROM segment_jobs
                       WHERE (status = 'queued'
                              OR (status = 'running' AND lease_expires_at < now()))
                         AND ($3::text IS NULL OR (org_id = $3 AND sandbox_name = $4))
                       ORDER BY created_at
                       LIMIT 1
                         FOR UPDATE SKIP LOCKED)
        RETURNING j.id, j.org_id, j.sandbox_name, j.segment_id,
                  j.expression_version, j.status, j.cursor, j.lease_owner, j.attempts`,
      [owner, leaseMs, only?.orgId ?? null, only?.sandboxName ?? null],
    )) as [(JobRow & { attempts: number })[], number];
    const job = rows[0]?.[0];
    if (!job) return null;
    if (job.attempts > MAX_ATTEMPTS) {
      await this.dataSource.query(
        `UPDATE segment_jobs SET status = 'failed', lease_owner = NULL,
                finished_at = now(), updated_at = now(),
                error = COALESCE(error, 'too many attempts')
          WHERE id = $1`,
        [job.id],
      );
      return null;
    }
    return job;
  }

  /**
   * Evaluates the next batch of a claimed job. Returns `lost` when the lease
   * went to another worker (nothing is written then).
   */
  async runBatch(
    jobId: string,
    owner: string,
    batchSize = DEFAULT_JOB_BATCH_SIZE,
    leaseMs = DEFAULT_LEASE_MS,
  ): Promise<BatchOutcome> {
    return withTransaction(this.dataSource, async (m) => {
      const [job] = (await m.query(
        // The transaction's id stamps the `realized` memberships it sets
        // (locking the job row assigns one anyway).
        `SELECT id, org_id, sandbox_name, segment_id, expression_version, status,
                cursor, lease_owner, pg_current_xact_id()::text AS tx
           FROM segment_jobs WHERE id = $1 FOR UPDATE`,
        [jobId],
      )) as (JobRow & { tx: string })[];
      if (!job || job.status !== 'running' || job.lease_owner !== owner)
        return 'lost';
      const tenant = { orgId: job.org_id, sandboxName: job.sandbox_name };
      const segments = await this.catalog.forTenant(m, tenant, [
        job.segment_id,
      ]);
      const segment = segments[0];
      if (!segment || segment.version !== job.expression_version) {
        await m.query(
          `UPDATE segment_jobs SET status = 'cancelled', lease_owner = NULL,
                  finished_at = now(), updated_at = now() WHERE id = $1`,
          [job.id],
        );
        return 'cancelled';
      }
      const profiles = await lockProfilePage(m, tenant, job.cursor, batchSize);
      const now = new Date();
      const evaluation = { now, nowIso: now.toISOString(), txId: job.tx };
      const patches = new Map<string, StoredMemberships>();
      const changes = new Map<string, MembershipChange[]>();
      const slice = new TimeSlice();
      for (const p of profiles) {
        const t = await membershipTransitionsSliced(
          { ...p.attributes, identityMap: p.identity_map },
          [segment],
          p.memberships,
          evaluation,
          slice,
        );
        // Only entries and exits are the job's to write: a re-evaluation
        // that finds a `realized` member still a member is no news, and
        // turning it `existing` here would make a flow that has not exported
        // it yet show the qualification as `existing` (the flows' positions
        // decide that: memberships/seen.ts).
        if (t.patch && t.changes.length) patches.set(p.id, t.patch);
        if (t.changes.length) changes.set(p.id, t.changes);
      }
      await patchMemberships(m, tenant, patches);
      const rows: ChangeRowInput[] = [];
      let entered = 0;
      let exited = 0;
      for (const p of profiles) {
        const mc = changes.get(p.id);
        if (!mc) continue;
        for (const c of mc) {
          if (c.to === 'realized') entered++;
          else exited++;
        }
        rows.push({
          profileId: p.id,
          changedAt: now,
          changedPaths: [],
          identitiesChanged: false,
          membershipChanges: mc,
          deleted: false,
          snapshot: null,
        });
      }
      await appendChanges(m, tenant, rows);
      const done = profiles.length < batchSize;
      const last = profiles[profiles.length - 1]?.id ?? job.cursor;
      await m.query(
        `UPDATE segment_jobs
            SET cursor = $2, processed_count = processed_count + $3,
                entered_count = entered_count + $4, exited_count = exited_count + $5,
                status = CASE WHEN $6 THEN 'succeeded' ELSE status END,
                finished_at = CASE WHEN $6 THEN now() ELSE finished_at END,
                lease_owner = CASE WHEN $6 THEN NULL ELSE lease_owner END,
                lease_expires_at = now() + make_interval(secs => $7::double precision / 1000),
                error = NULL, updated_at = now()
          WHERE id = $1`,
        [job.id, last, profiles.length, entered, exited, done, leaseMs],
      );
      return done ? 'done' : 'continue';
    });
  }

  /**
   * A worker that shuts down hands its running jobs back at their cursor
   * (every batch before it is committed), without counting an attempt, so
   * another worker resumes them now rather than when the lease lapses.
   */
  async release(owner: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE segment_jobs SET status = 'queued', lease_owner = NULL,
              attempts = GREATEST(attempts - 1, 0), updated_at = now()
        WHERE lease_owner = $1 AND status = 'running'`,
      [owner],
    );
  }

  /** Records a batch failure; the job is retried by the next claim (up to 5 attempts). */
  async fail(jobId: string, owner: string, error: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE segment_jobs SET status = 'queued', lease_owner = NULL,
              error = $3, updated_at = now()
        WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
      [jobId, owner, error.slice(0, 2000)],
    );
  }

  async get(tenant: TenantRef, id: string): Promise<SegmentJobDto> {
    const job = await this.jobs.findOneBy({
      id,
      orgId: tenant.orgId,
      sandboxName: tenant.sandboxName,
    });
    if (!job) throw notFound('Segment job', id);
    return toJobDto(job);
  }

  /** The most recent job of each segment. */
  async latest(
    tenant: TenantRef,
    segmentIds: string[],
  ): Promise<Map<string, SegmentJobDto>> {
    const out = new Map<string, SegmentJobDto>();
    if (segmentIds.length === 0) return out;
    const jobs = await this.jobs.find({
      where: {
        orgId: tenant.orgId,
        sandboxName: tenant.sandboxName,
        segmentId: In(segmentIds),
      },
      order: { createdAt: 'DESC' },
    });
    for (const j of jobs)
      if (!out.has(j.segmentId)) out.set(j.segmentId, toJobDto(j));
    return out;
  }
}

export function toJobDto(j: SegmentJobEntity): SegmentJobDto {
  return {
    id: j.id,
    segmentId: j.segmentId,
    kind: j.kind,
    status: j.status,
    processedProfiles: j.processedCount,
    totalProfiles: j.totalCount,
    enteredProfiles: j.enteredCount,
    exitedProfiles: j.exitedCount,
    attempts: j.attempts,
    error: j.error,
    createdAt: j.createdAt.getTime(),
    startedAt: j.startedAt?.getTime() ?? null,
    finishedAt: j.finishedAt?.getTime() ?? null,
    updatedAt: j.updatedAt.getTime(),
  };
}
