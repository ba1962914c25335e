import { Injectable } from '@nestjs/common';
import type { Queryable, TenantRef } from '../database/transaction.js';
import { TimeSlice } from '../memberships/time-slice.js';
import type { SegmentRule } from '../memberships/transitions.js';
import { type PqlNode, evaluatePql, parsePql } from './pql/index.js';

/** A segment ready to evaluate. */
export interface CompiledSegment extends SegmentRule<Record<string, unknown>> {
  version: number;
  timeRelative: boolean;
  node: PqlNode;
}

const MAX_CACHED = 10_000;

/**
 * The tenant's segments, parsed once per expression version. Loaded per
 * ingestion batch (one small query) so a new or edited definition takes
 * effect on the next batch without any cross-process invalidation.
 */
@Injectable()
export class SegmentCatalog {
  private readonly parsed = new Map<string, PqlNode | null>();

  async forTenant(
    q: Queryable,
    tenant: TenantRef,
    onlyIds?: string[],
  ): Promise<CompiledSegment[]> {
    const rows = (await q.query(
      `SELECT id, expression->>'value' AS text, expression_version AS version,
              time_relative
         FROM segment_definitions
        WHERE org_id = $1 AND sandbox_name = $2
          AND ($3::uuid[] IS NULL OR id = ANY($3::uuid[]))
        ORDER BY created_at, id`,
      [tenant.orgId, tenant.sandboxName, onlyIds ?? null],
    )) as {
      id: string;
      text: string;
      version: number;
      time_relative: boolean;
    }[];
    const out: CompiledSegment[] = [];
    // Compiling hundreds of new definitions (after a restart, say) takes
    // turns with other work on the event loop.
    const slice = new TimeSlice();
    for (const r of rows) {
      await slice.maybeYield();
      const node = this.parse(`${r.id}:${r.version}`, r.text);
      if (node)
        out.push({
          id: r.id,
          version: r.version,
          timeRelative: r.time_relative,
          node,
          isMember: (doc, now) => evaluatePql(node, doc, now),
        });
    }
    return out;
  }

  private parse(key: string, text: string): PqlNode | null {
    const cached = this.parsed.get(key);
    if (cached !== undefined) return cached;
    if (this.parsed.size >= MAX_CACHED) this.parsed.clear();
    let node: PqlNode | null;
    try {
      node = parsePql(text);
    } catch {
      // Stored expressions were validated on write; an unparsable one (e.g.
      // after a grammar change) evaluates as "no segment" rather than failing
      // every ingestion of the tenant.
      node = null;
    }
    this.parsed.set(key, node);
    return node;
  }
}
