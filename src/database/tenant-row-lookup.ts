import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { BatchedLookup } from './batched-lookup.js';
import { type PreparedStatement, prepared, queryPrepared } from './prepared.js';
import { withOwnDeadline } from './request-work.js';
import type { TenantRef } from './transaction.js';

/** Column types node-postgres parses into what TypeORM's entities hold. */
const PLAIN_TYPES = new Set([
  'uuid',
  'text',
  'jsonb',
  'timestamptz',
  'boolean',
  'integer',
  'int',
]);

interface Key {
  id: string;
  tenant: TenantRef;
}

interface Plan<E> {
  statement: PreparedStatement;
  hydrate(row: Record<string, unknown>): E;
}

/** Where the row of each key is in the statement's answer. */
const POSITION = '__n';

/**
 * Rows of a tenant-scoped table by id, as the entities TypeORM would
 * hydrate, for `GET …/{id}`: one named prepared statement (parsed and planned
 * once per connection) for all the lookups of one turn of the event loop
 * (BatchedLookup), under a deadline of its own (withOwnDeadline). A row
 * answers only the key that names its id and its tenant. Entities with
 * columns node-postgres would not give as TypeORM does (transformers, other
 * types) are refused when the first lookup plans the statement.
 */
export class TenantRowLookup<E extends ObjectLiteral> {
  private plan?: Plan<E>;
  private readonly batches: BatchedLookup<Key, E>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly target: EntityTarget<E>,
    timeoutMs: number,
  ) {
    this.batches = new BatchedLookup((keys) =>
      withOwnDeadline(dataSource, timeoutMs, () => this.fetch(keys)),
    );
  }

  get(tenant: TenantRef, id: string): Promise<E | undefined> {
    return this.batches.load({ id, tenant });
  }

  private async fetch(keys: Key[]): Promise<(E | undefined)[]> {
    const plan = (this.plan ??= this.planOf());
    const rows = await queryPrepared<Record<string, unknown>>(
      this.dataSource,
      plan.statement,
      [
        keys.map((k) => k.id),
        keys.map((k) => k.tenant.orgId),
        keys.map((k) => k.tenant.sandboxName),
      ],
    );
    const found: (E | undefined)[] = [];
    for (const row of rows)
      found[(row[POSITION] as number) - 1] = plan.hydrate(row);
    return found;
  }

  private planOf(): Plan<E> {
    const meta = this.dataSource.getMetadata(this.target);
    const columns = meta.columns.map((c) => {
      const type = typeof c.type === 'string' ? c.type : '';
      if (!PLAIN_TYPES.has(type) || c.transformer)
        throw new Error(
          `${meta.name}.${c.propertyName}: a ${String(type || c.type)} column is not read by TenantRowLookup`,
        );
      return { column: c.databaseName, property: c.propertyName };
    });
    const statement = prepared(
      `by-id:${meta.tableName}`,
      `SELECT k.n::int AS "${POSITION}", ${columns.map((c) => `e."${c.column}"`).join(', ')}
         FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS k(id, org_id, sandbox_name, n)
         JOIN "${meta.tableName}" e ON e.id = k.id AND e.org_id = k.org_id AND e.sandbox_name = k.sandbox_name`,
    );
    return {
      statement,
      hydrate: (row) => {
        const entity = meta.create() as Record<string, unknown>;
        for (const c of columns) entity[c.property] = row[c.column];
        return entity as E;
      },
    };
  }
}
