/**
 * Lists of stored resources, filtered, sorted, counted and paged in
 * PostgreSQL with the same `property`/`orderby` language and continuation
 * tokens as the in-memory lists of listing.ts.
 */
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { DomainError, ErrorCode } from './errors.js';
import type { ListQueryDto } from './list-query.dto.js';
import {
  checkLimitWithCount,
  decodeToken,
  type Filter,
  type ListPage,
  type ListSpec,
  nextLink,
  NUMBER_RE,
  type Op,
  parseFilters,
  parseOrderBy,
  type Position,
} from './listing.js';
import { JsonText } from './json-text.js';
import { isResourceId } from './resource-id.js';

/**
 * How a response field is computed in SQL, so that filters see exactly what
 * the response shows.
 * - `text`: a string, compared case-insensitively; `null` means absent.
 * - `uuid` / `uuid[]`: an id (or ids); equality uses the column's type (and its index).
 * - `epochMs`: a `timestamptz` shown as epoch milliseconds.
 * - `jsonb`: any JSON; the rest of the filter path is followed inside it,
 *   descending into arrays as the response's arrays are.
 * - `stringSet`: a jsonb array of lowercased strings (an indexed expression):
 *   `==`/`!=` are containment tests.
 */
export interface SqlField {
  type: 'text' | 'uuid' | 'uuid[]' | 'epochMs' | 'jsonb' | 'stringSet';
  sql: string;
  /**
   * For a computed `text` field with few values: the predicate for each
   * (lowercased) value, simpler than the expression (and able to use a
   * partial index). A value not listed matches nothing.
   */
  equals?: Record<string, string>;
}

export interface SqlListSpec {
  /**
   * Filterable fields by response path (`connectionSpec.id`); a filter uses
   * the longest one its path starts with. Root names double as `filterable`.
   */
  fields: Record<string, SqlField>;
  /** Sortable fields: a `text`, `uuid` or `epochMs` field each. */
  sortable: Record<string, SqlField>;
}

/** Binds parameters with names unique within one query. */
class Params {
  private n = 0;
  readonly values: Record<string, unknown> = {};
  bind(value: unknown): string {
    const name = `lp${this.n++}`;
    this.values[name] = value;
    return `:${name}`;
  }
  bindList(values: unknown[]): string {
    const name = `lp${this.n++}`;
    this.values[name] = values;
    return `(:...${name})`;
  }
}

const SQL_OP: Record<Op, string> = {
  '==': '=',
  '!=': '<>',
  '>': '>',
  '>=': '>=',
  '<': '<',
  '<=': '<=',
};

/** A `timestamptz` at `ms` epoch milliseconds, as a SQL expression. */
function timestampAt(ms: number, p: Params): string {
  return `('epoch'::timestamptz + CAST(${p.bind(ms)} AS float8) * interval '1 millisecond')`;
}

/** Every timestamp the database can hold lies within these epoch milliseconds. */
const MS_RANGE = 8.64e15;

/**
 * `epochMs` compares the whole milliseconds the response shows (the stored
 * microseconds truncated) as ranges of the column itself, so its index applies.
 */
function epochMsPredicate(
  sql: string,
  op: Op,
  value: string,
  field: string,
  p: Params,
): string {
  const n = Number(value);
  if (!NUMBER_RE.test(value) || !Number.isFinite(n)) {
    throw new DomainError(
      ErrorCode.InvalidFilter,
      `Invalid value ${value} for field ${field}`,
    );
  }
  // ms(x) >= b  <=>  x >= b ms, for whole b; the bounds outside the range are constant.
  const atLeast = (b: number): string =>
    b > MS_RANGE
      ? 'false'
      : b < -MS_RANGE
        ? 'true'
        : `${sql} >= ${timestampAt(b, p)}`;
  const below = (b: number): string => `NOT (${atLeast(b)})`;
  switch (op) {
    case '>':
      return atLeast(Math.floor(n) + 1);
    case '>=':
      return atLeast(Math.ceil(n));
    case '<':
      return below(Math.ceil(n));
    case '<=':
      return below(Math.floor(n) + 1);
    case '==':
      return Number.isInteger(n)
        ? `(${atLeast(n)} AND ${below(n + 1)})`
        : 'false';
    case '!=':
      return Number.isInteger(n)
        ? `NOT (${atLeast(n)} AND ${below(n + 1)})`
        : 'true';
  }
}

/** One JSON leaf `l` against one value, as `compare` does in memory. */
function jsonLeafPredicate(
  leaf: string,
  op: Op,
  value: string,
  p: Params,
): string {
  const lower = p.bind(value.toLowerCase());
  const n = Number(value);
  const numeric = NUMBER_RE.test(value) && Number.isFinite(n);
  const sqlOp = SQL_OP[op];
  // A boolean only equals or differs (`>` on a boolean means `==`, as in memory).
  const boolOp = op === '!=' ? '<>' : '=';
  // A number against a value that is not one matches nothing (only `!=`).
  const number = numeric
    ? `(${leaf})::numeric ${sqlOp} CAST(${p.bind(n)} AS numeric)`
    : op === '!='
      ? 'true'
      : 'false';
  return `(CASE jsonb_typeof(${leaf})
    WHEN 'string' THEN lower(${leaf} #>> '{}') COLLATE "C" ${sqlOp} ${lower} COLLATE "C"
    WHEN 'number' THEN ${number}
    WHEN 'boolean' THEN (${leaf})::text ${boolOp} ${lower}
    WHEN 'null' THEN ${op === '!=' ? 'true' : 'false'}
    ELSE false END)`;
}

function jsonPathOf(path: string[]): string {
  return `lax $${path.map((k) => `."${k}"`).join('')}[*]`;
}

function filterPredicate(f: Filter, spec: SqlListSpec, p: Params): string {
  const field = f.path.join('.');
  let depth = f.path.length;
  let target: SqlField | undefined;
  for (; depth > 0; depth--) {
    target = spec.fields[f.path.slice(0, depth).join('.')];
    if (target) break;
  }
  if (!target) {
    throw new DomainError(
      ErrorCode.InvalidFilterField,
      `Invalid field ${f.path[0] ?? ''} in filter params`,
    );
  }
  const rest = f.path.slice(depth);
  const { sql, type } = target;
  // A path that goes on below a plain value finds nothing there.
  if (rest.length && type !== 'jsonb') return f.op === '!=' ? 'true' : 'false';
  const anyOf = (one: (v: string) => string): string =>
    `(${f.values.map(one).join(' OR ')})`;
  const allOf = (one: (v: string) => string): string =>
    `(${f.values.map(one).join(' AND ')})`;
  switch (type) {
    case 'jsonb': {
      const leaves = `jsonb_path_query(${sql}, CAST(${p.bind(jsonPathOf(rest))} AS jsonpath))`;
      if (f.op === '!=') {
        return `NOT EXISTS (SELECT 1 FROM ${leaves} AS l(v) WHERE NOT ${allOf((v) => jsonLeafPredicate('l.v', '!=', v, p))})`;
      }
      return `EXISTS (SELECT 1 FROM ${leaves} AS l(v) WHERE ${anyOf((v) => jsonLeafPredicate('l.v', f.op, v, p))})`;
    }
    case 'stringSet': {
      if (f.op === '==' || f.op === '!=') {
        const contains = anyOf(
          (v) =>
            `${sql} @> CAST(${p.bind(JSON.stringify([v.toLowerCase()]))} AS jsonb)`,
        );
        return f.op === '==' ? contains : `NOT ${contains}`;
      }
      const leaves = `jsonb_array_elements(${sql})`;
      return `EXISTS (SELECT 1 FROM ${leaves} AS l(v) WHERE ${jsonLeafPredicate('l.v', f.op, f.values[0] ?? '', p)})`;
    }
    case 'epochMs':
      return f.op === '!='
        ? allOf((v) => epochMsPredicate(sql, '!=', v, field, p))
        : anyOf((v) => epochMsPredicate(sql, f.op, v, field, p));
    case 'text': {
      const { equals } = target;
      if (equals && (f.op === '==' || f.op === '!=')) {
        const hits = [
          ...new Set(f.values.map((v) => equals[v.toLowerCase()] ?? 'false')),
        ];
        const any = `(${hits.join(' OR ')})`;
        // The predicates may be NULL (a missing JSON value): that is no match.
        return f.op === '==' ? any : `${any} IS NOT TRUE`;
      }
      const lowered = `lower(${sql}) COLLATE "C"`;
      if (f.op === '!=') {
        const vs = f.values.map((v) => v.toLowerCase());
        return `(${sql} IS NULL OR ${lowered} NOT IN ${p.bindList(vs)})`;
      }
      return anyOf(
        (v) =>
          `${lowered} ${SQL_OP[f.op]} ${p.bind(v.toLowerCase())} COLLATE "C"`,
      );
    }
    case 'uuid':
    case 'uuid[]': {
      const ids = f.values.filter(isResourceId).map((v) => v.toLowerCase());
      const array = ids.length
        ? `ARRAY[${ids.map((id) => `CAST(${p.bind(id)} AS uuid)`).join(', ')}]`
        : undefined;
      if (f.op === '==' || f.op === '!=') {
        // A value that is not an id equals no id.
        const hit = !array
          ? 'false'
          : type === 'uuid'
            ? `${sql} = ANY(${array})`
            : `${sql} && ${array}`;
        if (f.op === '==') return hit;
        return type === 'uuid'
          ? `(${sql} IS NULL OR NOT ${hit})`
          : `NOT ${hit}`;
      }
      const bound = p.bind((f.values[0] ?? '').toLowerCase());
      return type === 'uuid'
        ? `${sql}::text COLLATE "C" ${SQL_OP[f.op]} ${bound} COLLATE "C"`
        : `EXISTS (SELECT 1 FROM unnest(${sql}) AS u(v) WHERE u.v::text COLLATE "C" ${SQL_OP[f.op]} ${bound} COLLATE "C")`;
    }
  }
}

/** The sort expression of a field and how its token value is read back. */
function sortKey(f: SqlField): {
  order: string;
  select: string;
  value: (v: string) => string;
  check: (v: unknown) => boolean;
} {
  switch (f.type) {
    case 'epochMs':
      // Tokens carry the exact microseconds, so ties within a millisecond page correctly.
      return {
        order: f.sql,
        select: `(extract(epoch from ${f.sql}) * 1000000)::bigint::text`,
        value: (v) =>
          `('epoch'::timestamptz + CAST(${v} AS bigint) * interval '1 microsecond')`,
        check: (v) => typeof v === 'string' && /^-?\d{1,17}$/.test(v),
      };
    case 'uuid':
      return {
        order: f.sql,
        select: `${f.sql}::text`,
        value: (v) => `CAST(${v} AS uuid)`,
        check: isResourceId,
      };
    default:
      return {
        order: `lower(${f.sql}) COLLATE "C"`,
        select: `lower(${f.sql})`,
        value: (v) => `${v} COLLATE "C"`,
        check: (v) => typeof v === 'string' && v.length <= 4096,
      };
  }
}

export type SqlListResult<E> =
  { count: number } | { rows: E[]; links?: { next: { href: string } } };

/**
 * Filters, sorts and pages a tenant's rows in PostgreSQL. `qb` selects the
 * entity (alias `e`) already restricted to the tenant. Pages are keyset pages
 * over the sort keys and the id, so writes between two calls neither skip nor
 * repeat an item that existed throughout.
 */
export async function listRows<E extends ObjectLiteral>(
  qb: SelectQueryBuilder<E>,
  query: ListQueryDto,
  spec: SqlListSpec,
  basePath: string,
): Promise<SqlListResult<E>> {
  const page = pageQuery(qb, query, spec);
  if ('count' in page) return { count: await page.count };
  const { entities, raw } = await qb.getRawAndEntities();
  return pageResult(
    query,
    basePath,
    page.keys.length,
    page.limit,
    entities,
    raw as Record<string, string>[],
    (e) => String((e as unknown as { id: unknown }).id),
  );
}

/**
 * listRows for resources whose items PostgreSQL builds itself: each row is
 * `columns` (name → SQL over alias `e`) as the driver returns them (a `json`
 * expression arrives parsed), and no entity is loaded.
 */
export async function listProjections<E extends ObjectLiteral>(
  qb: SelectQueryBuilder<E>,
  query: ListQueryDto,
  spec: SqlListSpec,
  basePath: string,
  columns: Record<string, string>,
): Promise<SqlListResult<Record<string, unknown>>> {
  qb.select('e.id', 'list_id');
  for (const [name, sql] of Object.entries(columns)) qb.addSelect(sql, name);
  const page = pageQuery(qb, query, spec);
  if ('count' in page) return { count: await page.count };
  const raw = (await qb.getRawMany()) as Record<string, unknown>[];
  return pageResult(
    query,
    basePath,
    page.keys.length,
    page.limit,
    raw,
    raw as Record<string, string>[],
    (r) => String(r.list_id),
  );
}

/** Adds the filters, the position after the token, the sort and the limit to `qb`; or counts. */
function pageQuery<E extends ObjectLiteral>(
  qb: SelectQueryBuilder<E>,
  query: ListQueryDto,
  spec: SqlListSpec,
): { count: Promise<number> } | { keys: unknown[]; limit: number } {
  checkLimitWithCount(query);
  const names: ListSpec = {
    filterable: [
      ...new Set(Object.keys(spec.fields).map((k) => k.split('.')[0] ?? '')),
    ],
    sortable: Object.keys(spec.sortable),
  };
  const filters = parseFilters(query.property, names);
  const sorts = parseOrderBy(query.orderby, names);
  const p = new Params();
  for (const f of filters) qb.andWhere(filterPredicate(f, spec, p));
  if (query.count) {
    return {
      count: qb
        .select('count(*)::int', 'count')
        .setParameters(p.values)
        .getRawOne<{ count: number }>()
        .then((row) => row?.count ?? 0),
    };
  }
  const keys = sorts.map((s) => ({
    ...sortKey(spec.sortable[s.field] as SqlField),
    dir: s.dir,
  }));
  const after = decodeToken(
    query,
    keys.map((k) => k.check),
  );
  if (after) {
    // (k1, …, id) after the token's position, each key in its own direction.
    const id = p.bind(after.i);
    const terms: string[] = [];
    const equal: string[] = [];
    keys.forEach((k, n) => {
      const v = k.value(p.bind(after.k[n]));
      terms.push(
        [...equal, `${k.order} ${k.dir === 1 ? '>' : '<'} ${v}`].join(' AND '),
      );
      equal.push(`${k.order} = ${v}`);
    });
    terms.push([...equal, `e.id > CAST(${id} AS uuid)`].join(' AND '));
    // The first key's bound alone, implied by the terms, lets an index on it
    // start at the position instead of filtering every row before it.
    const [k0] = keys;
    const bound = k0
      ? `${k0.order} ${k0.dir === 1 ? '>=' : '<='} ${k0.value(p.bind(after.k[0]))} AND `
      : '';
    qb.andWhere(`(${bound}((${terms.join(') OR (')})))`);
  }
  keys.forEach((k, n) => {
    qb.addSelect(k.select, `list_key_${n}`);
    qb.addOrderBy(k.order, k.dir === 1 ? 'ASC' : 'DESC');
  });
  qb.addOrderBy('e.id', 'ASC');
  const limit = query.limit ?? 20;
  qb.limit(limit + 1).setParameters(p.values);
  return { keys, limit };
}

/** The first `limit` rows, and a next link from the last one's keys when there are more. */
function pageResult<T>(
  query: ListQueryDto,
  basePath: string,
  keyCount: number,
  limit: number,
  items: T[],
  raw: Record<string, string>[],
  idOf: (item: T, n: number) => string,
): SqlListResult<T> {
  const rows = items.slice(0, limit);
  const lastRaw = raw[limit - 1];
  const last = rows.at(-1);
  if (items.length > limit && last !== undefined && lastRaw) {
    const position: Position = {
      k: Array.from(
        { length: keyCount },
        (_, n) => lastRaw[`list_key_${n}`] ?? '',
      ),
      i: idOf(last, rows.length - 1),
    };
    return { rows, links: nextLink(query, basePath, position) };
  }
  return { rows };
}

/** A page of mapped items from `listRows`, in the response shape. */
export function pageOf<E, T>(
  result: SqlListResult<E>,
  map: (rows: E[]) => T[],
): ListPage<T> | { count: number } {
  if ('count' in result) return result;
  const page: ListPage<T> = { items: map(result.rows) };
  if (result.links) page._links = result.links;
  return page;
}

/** `pageOf` for items that are JSON text already: the same bytes, never parsed. */
export function pageJson<E>(
  result: SqlListResult<E>,
  itemJson: (row: E) => string,
): JsonText | { count: number } {
  if ('count' in result) return result;
  const links = result.links ? `,"_links":${JSON.stringify(result.links)}` : '';
  return new JsonText(
    `{"items":[${result.rows.map(itemJson).join(',')}]${links}}`,
  );
}

/** Response fields every tenant-scoped resource has, as SQL over alias `e`. */
export const META_FIELDS: Record<string, SqlField> = {
  id: { type: 'uuid', sql: 'e.id' },
  name: { type: 'text', sql: 'e.name' },
  description: { type: 'text', sql: "coalesce(e.description, '')" },
  // Stored in lower case, one of these (what the services write): a plain
  // comparison the planner has statistics for.
  state: {
    type: 'text',
    sql: 'e.state',
    equals: {
      enabled: `e.state = 'enabled'`,
      disabled: `e.state = 'disabled'`,
    },
  },
  createdAt: { type: 'epochMs', sql: 'e.created_at' },
  updatedAt: { type: 'epochMs', sql: 'e.updated_at' },
};

/** `orderby` fields of every tenant-scoped resource. */
export const META_SORTABLE: Record<string, SqlField> = {
  name: META_FIELDS.name as SqlField,
  createdAt: META_FIELDS.createdAt as SqlField,
  updatedAt: META_FIELDS.updatedAt as SqlField,
  id: META_FIELDS.id as SqlField,
  state: META_FIELDS.state as SqlField,
};

/** `{id, version}` of a spec reference, whole and by part. */
export function specRefFields(
  name: string,
  idSql: string,
  versionSql: string,
): Record<string, SqlField> {
  return {
    [name]: {
      type: 'jsonb',
      sql: `jsonb_build_object('id', ${idSql}, 'version', ${versionSql})`,
    },
    [`${name}.id`]: { type: 'uuid', sql: idSql },
    [`${name}.version`]: { type: 'text', sql: versionSql },
  };
}
