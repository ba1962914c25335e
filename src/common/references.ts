import { Injectable, Module } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Tenant } from './request-context.js';

/** A row of `resource` that points at the row asked about. */
export interface Referrer {
  resource: string;
  id: string;
  params: Record<string, unknown>;
}

/** Finds the rows of one resource that point at `id`, inside the caller's transaction. */
export type ReferrerLookup = (
  em: EntityManager,
  tenant: Tenant,
  id: string,
) => Promise<Referrer[]>;

/**
 * Who points at a row. A resource refuses deletion while others refer to it,
 * but those others sit above it (flows → source/target connections → base
 * connections): each registers here how to find its references, so the
 * resource referred to never imports the ones referring to it.
 */
@Injectable()
export class References {
  private readonly lookups = new Map<
    string,
    { from: string; lookup: ReferrerLookup }[]
  >();

  /** `from` (a resource name) refers to `to`; called once at start-up by `from`'s owner. */
  register(from: string, to: string, lookup: ReferrerLookup): void {
    const list = this.lookups.get(to) ?? [];
    list.push({ from, lookup });
    // Sorted by resource so answers (and error messages) do not depend on module order.
    list.sort((a, b) => a.from.localeCompare(b.from));
    this.lookups.set(to, list);
  }

  /** Every registered referrer of row `id` of `resource`, grouped by resource name. */
  async of(
    em: EntityManager,
    tenant: Tenant,
    resource: string,
    id: string,
  ): Promise<Referrer[]> {
    const found: Referrer[] = [];
    // One after the other: they share the caller's transaction (one connection).
    for (const { lookup } of this.lookups.get(resource) ?? [])
      found.push(...(await lookup(em, tenant, id)));
    return found;
  }
}

/** Imported by every resource module that refers to, or is referred to by, another. */
@Module({ providers: [References], exports: [References] })
export class ReferencesModule {}
