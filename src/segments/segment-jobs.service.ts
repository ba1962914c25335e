import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { notFound } from '../common/errors.js';
import {
  type ChangeRowInput,
  type Queryable,
  type TenantRef,
  appendChanges,
} from '../profiles/change-log.js';
import type { IdentityMap, JsonObject } from '../profiles/profile-merge.js';
import { withTransaction } from '../profiles/transaction.js';
import type { SegmentJobDto } from './dto/segment-definition.dto.js';
import type { StoredMemberships } from './membership-status.js';
import { MembershipService } from './membership.service.js';
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
    private readonly memberships: MembershipService,
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
       SELECT $1, $2, $3, $4, $5, 'queued', count(*)::int
         FROM profiles WHERE org_id = $1 AND sandbox_name = $2`,
      [tenant.orgId, tenant.sandboxName, segmentId, expressionVersion, kind],
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
      const rows = (await m.query(
        `INSERT INTO segment_jobs
           (org_id, sandbox_name, segment_id, expression_version, kind, status, total_count)
         SELECT d.org_id, d.sandbox_name, d.id, d.expression_version, 'sweep', 'queued',
                (SELECT count(*)::int FROM profiles p
                  WHERE p.org_id = d.org_id AND p.sandbox_name = d.sandbox_name)
           FROM segment_definitions d
          WHERE d.time_relative
            AND NOT EXISTS (SELECT 1 FROM segment_jobs j
                             WHERE j.segment_id = d.id AND j.status IN ('queued', 'running'))
         RETURNING id`,
      )) as unknown[];
      return rows.length;
    });
  }

  /** Exited memberships and finished jobs older than the retention period. */
  async purge(
    retentionDays: number,
  ): Promise<{ memberships: number; jobs: number }> {
    const memberships = await this.purgeExited(retentionDays);
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
   * Drops exited memberships older than the retention period from the
   * profiles holding them: pages of profiles in id order (the order
   * ingestion locks in; rows locked by a writer right now are skipped and
   * purged next time), so each pass reads the store once.
   */
  private async purgeExited(retentionDays: number): Promise<number> {
    const cutoff = new Date(
      Date.now() - retentionDays * 86_400_000,
    ).toISOString();
    let after = '00000000-0000-0000-0000-000000000000';
    let total = 0;
    for (;;) {
      const rows = (await this.dataSource.query(
        `WITH page AS MATERIALIZED (
           SELECT id, (SELECT count(*)::int FROM jsonb_each(memberships) e
                        WHERE e.value->>0 = 'exited' AND e.value->>1 < $1) AS n
             FROM profiles
            WHERE id > $2::uuid
            ORDER BY id LIMIT 5000),
         due AS (
           SELECT p.id FROM profiles p
            WHERE p.id = ANY(ARRAY(SELECT id FROM page WHERE n > 0))
            ORDER BY p.id
              FOR UPDATE SKIP LOCKED),
         purged AS (
           UPDATE profiles p
              SET memberships = (
                    SELECT COALESCE(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
                      FROM jsonb_each(p.memberships) e
                     WHERE NOT (e.value->>0 = 'exited' AND e.value->>1 < $1))
             FROM due WHERE p.id = due.id
           RETURNING p.id)
         SELECT (SELECT page.id::text FROM page ORDER BY page.id DESC LIMIT 1) AS last,
                (SELECT count(*)::int FROM page) AS seen,
                (SELECT COALESCE(sum(page.n), 0)::int
                   FROM purged JOIN page USING (id)) AS n`,
        [cutoff, after],
      )) as { last: string | null; seen: number; n: number }[];
      total += rows[0]?.n ?? 0;
      const last = rows[0]?.last;
      if (!last || (rows[0]?.seen ?? 0) < 5000) return total;
      after = last;
    }
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
      // Same lock order as ingestion (profile rows by id), so a concurrent
      // ingest of these profiles waits rather than evaluating stale data.
      const profiles = (await m.query(
        `SELECT id, attributes, identity_map, memberships FROM profiles
          WHERE org_id = $1 AND sandbox_name = $2
            AND ($3::uuid IS NULL OR id > $3::uuid)
          ORDER BY id LIMIT $4
            FOR UPDATE`,
        [tenant.orgId, tenant.sandboxName, job.cursor, batchSize],
      )) as {
        id: string;
        attributes: JsonObject;
        identity_map: IdentityMap;
        memberships: StoredMemberships;
      }[];
      const now = new Date();
      const changes = await this.memberships.evaluate(
        m,
        tenant,
        profiles.map((p) => ({
          profileId: p.id,
          doc: { ...p.attributes, identityMap: p.identity_map },
          memberships: p.memberships,
        })),
        [segment],
        now,
        job.tx,
      );
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
