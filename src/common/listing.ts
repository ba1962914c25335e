import { createHash } from 'node:crypto';
import { DomainError, ErrorCode } from './errors.js';
import type { ListQueryDto } from './list-query.dto.js';

type Op = '==' | '!=' | '>' | '>=' | '<' | '<=';

interface Filter {
  path: string[];
  op: Op;
  values: string[];
}

interface Sort {
  field: string;
  dir: 1 | -1;
}

export interface ListSpec {
  /** Root fields `property` may filter on (a path's first segment, without `[]`). */
  filterable: string[];
  /** Fields `orderby` may name. */
  sortable: string[];
}

export interface ListPage<T> {
  items: T[];
  _links?: { next?: { href: string } };
}

const OP_RE = /(==|!=|>=|<=|>|<|~|!>|!<|=(?!=))/;
const PATH_RE =
  /^[A-Za-z_$][A-Za-z0-9_$]*(\[\])?(\.[A-Za-z_$][A-Za-z0-9_$:-]*(\[\])?)*$/;

/** Parses `property` filters (CONTRACT A3) with the catalogue's error codes. */
function parseFilters(raw: string[] | undefined, spec: ListSpec): Filter[] {
  return (raw ?? []).map((expr) => {
    const m = OP_RE.exec(expr);
    if (!m) {
      throw new DomainError(
        ErrorCode.InvalidQueryParam,
        `Invalid query value ${expr} provided`,
      );
    }
    const op = m[1] as string;
    const pathText = expr.slice(0, m.index).trim();
    const valueText = expr.slice(m.index + op.length);
    if (!['==', '!=', '>', '>=', '<', '<='].includes(op)) {
      throw new DomainError(ErrorCode.InvalidFilter, `Invalid operator ${op}`);
    }
    if (!PATH_RE.test(pathText)) {
      throw new DomainError(
        ErrorCode.InvalidFilterField,
        `Invalid field ${pathText} in filter params`,
      );
    }
    const root = pathText.split(/[.[]/)[0] ?? '';
    if (!spec.filterable.includes(root)) {
      throw new DomainError(
        ErrorCode.InvalidFilterField,
        `Invalid field ${root} in filter params`,
      );
    }
    const values = valueText.split(',').map((v) => v.trim());
    if (values.some((v) => v === '')) {
      throw new DomainError(
        ErrorCode.InvalidQueryParam,
        `Invalid query value ${expr} provided`,
      );
    }
    if (values.length > 1 && op !== '==' && op !== '!=') {
      throw new DomainError(
        ErrorCode.InvalidFilter,
        `'${op}' is not allowed for multiple values`,
      );
    }
    return {
      path: pathText.replace(/\[\]/g, '').split('.'),
      op: op as Op,
      values,
    };
  });
}

function parseOrderBy(raw: string | undefined, spec: ListSpec): Sort[] {
  if (raw === undefined || raw.trim() === '')
    return [{ field: 'createdAt', dir: -1 }];
  return raw.split(',').map((part) => {
    const t = part.trim();
    const dir: 1 | -1 = t.startsWith('-') ? -1 : 1;
    const field = t.replace(/^[+-]/, '');
    if (!spec.sortable.includes(field)) {
      throw new DomainError(
        ErrorCode.InvalidOrderBy,
        `Incorrect field= ${field} passed in orderBy, example are +name, -name, name.`,
      );
    }
    return { field, dir };
  });
}

/** Every leaf value at `path`, descending into arrays wherever they occur. */
function valuesAt(doc: unknown, path: string[]): unknown[] {
  let current: unknown[] = [doc];
  for (const key of path) {
    const next: unknown[] = [];
    for (const c of current) {
      const items = Array.isArray(c) ? c : [c];
      for (const item of items) {
        if (item && typeof item === 'object' && key in item) {
          next.push((item as Record<string, unknown>)[key]);
        }
      }
    }
    current = next;
  }
  return current.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

function compare(
  actual: unknown,
  expected: string,
  op: Op,
  field: string,
): boolean {
  if (actual === null || actual === undefined) return op === '!=';
  if (typeof actual === 'number') {
    const n = Number(expected);
    if (!Number.isFinite(n)) {
      throw new DomainError(
        ErrorCode.InvalidFilter,
        `Invalid value ${expected} for field ${field}`,
      );
    }
    return cmp(actual - n, op);
  }
  if (typeof actual === 'boolean') {
    return cmp(
      String(actual) === expected.toLowerCase() ? 0 : 1,
      op === '==' || op === '!=' ? op : '==',
    );
  }
  if (typeof actual === 'string') {
    // Adobe's own examples mix `Failed` and `failed`; compare case-insensitively.
    const a = actual.toLowerCase();
    const e = expected.toLowerCase();
    return cmp(a < e ? -1 : a > e ? 1 : 0, op);
  }
  return false;
}

function cmp(d: number, op: Op): boolean {
  switch (op) {
    case '==':
      return d === 0;
    case '!=':
      return d !== 0;
    case '>':
      return d > 0;
    case '>=':
      return d >= 0;
    case '<':
      return d < 0;
    case '<=':
      return d <= 0;
  }
}

function matches(doc: unknown, f: Filter): boolean {
  const field = f.path.join('.');
  const actual = valuesAt(doc, f.path);
  if (f.op === '!=') {
    return actual.every((a) =>
      f.values.every((v) => compare(a, v, '!=', field)),
    );
  }
  return actual.some((a) => f.values.some((v) => compare(a, v, f.op, field)));
}

function sortValue(
  doc: Record<string, unknown>,
  field: string,
): string | number {
  const v = doc[field];
  return typeof v === 'number'
    ? v
    : typeof v === 'string'
      ? v.toLowerCase()
      : '';
}

function queryHash(query: ListQueryDto): string {
  const { continuationToken: _ignored, ...rest } = query;
  return createHash('sha256')
    .update(JSON.stringify(rest))
    .digest('base64url')
    .slice(0, 12);
}

/**
 * Filters, sorts and pages response documents in memory. Tenants hold
 * hundreds, not millions, of connections and flows, and filtering the
 * response shape makes every documented path (inheritedAttributes,
 * transformations[]…) filterable exactly as it is returned.
 */
export function listDocuments<T extends object>(
  docs: T[],
  query: ListQueryDto,
  spec: ListSpec,
  basePath: string,
): ListPage<T> | { count: number } {
  if (query.count && query.limit !== undefined) {
    throw new DomainError(
      ErrorCode.LimitWithCount,
      'The limit and count parameters cannot be given together in the same request.',
    );
  }
  const filters = parseFilters(query.property, spec);
  const sorts = parseOrderBy(query.orderby, spec);
  const filtered = docs.filter((d) => filters.every((f) => matches(d, f)));
  if (query.count) return { count: filtered.length };
  filtered.sort((a, b) => {
    for (const s of sorts) {
      const av = sortValue(a as Record<string, unknown>, s.field);
      const bv = sortValue(b as Record<string, unknown>, s.field);
      if (av < bv) return -s.dir;
      if (av > bv) return s.dir;
    }
    const ai = String((a as Record<string, unknown>).id);
    const bi = String((b as Record<string, unknown>).id);
    return ai < bi ? -1 : ai > bi ? 1 : 0;
  });
  const limit = query.limit ?? 20;
  const hash = queryHash(query);
  let offset = 0;
  if (query.continuationToken) {
    try {
      const t = JSON.parse(
        Buffer.from(query.continuationToken, 'base64url').toString(),
      ) as {
        o?: unknown;
        h?: unknown;
      };
      if (
        typeof t.o !== 'number' ||
        !Number.isInteger(t.o) ||
        t.o < 0 ||
        t.h !== hash
      ) {
        throw new Error('bad token');
      }
      offset = t.o;
    } catch {
      throw new DomainError(
        ErrorCode.InvalidContinuationToken,
        'Invalid continuationToken: it does not belong to this query.',
      );
    }
  }
  const items = filtered.slice(offset, offset + limit);
  const page: ListPage<T> = { items };
  if (offset + limit < filtered.length) {
    const token = Buffer.from(
      JSON.stringify({ o: offset + limit, h: hash }),
    ).toString('base64url');
    const params = new URLSearchParams();
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.orderby) params.set('orderby', query.orderby);
    for (const p of query.property ?? []) params.append('property', p);
    params.set('continuationToken', token);
    page._links = { next: { href: `${basePath}?${params.toString()}` } };
  }
  return page;
}
