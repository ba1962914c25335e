import { createHash } from 'node:crypto';
import { DomainError, ErrorCode } from './errors.js';
import type { ListQueryDto } from './list-query.dto.js';
import { isResourceId } from './resource-id.js';

export type Op = '==' | '!=' | '>' | '>=' | '<' | '<=';

export interface Filter {
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
export const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Parses `property` filters (CONTRACT A3) with the catalogue's error codes. */
export function parseFilters(
  raw: string[] | undefined,
  spec: ListSpec,
): Filter[] {
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

export function parseOrderBy(raw: string | undefined, spec: ListSpec): Sort[] {
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

export function checkLimitWithCount(query: ListQueryDto): void {
  if (query.count && query.limit !== undefined) {
    throw new DomainError(
      ErrorCode.LimitWithCount,
      'The limit and count parameters cannot be given together in the same request.',
    );
  }
}

// ---------------------------------------------------------------------------
// Continuation tokens: the position after the last item of a page (its sort
// key and id), so items created or deleted between two calls do not shift the
// next page. Opaque (base64url JSON) and bound to the query by a hash of its
// other parameters.

export type KeyValue = string | number;

export interface Position {
  /** Sort-key values of the last item, in `orderby` order. */
  k: KeyValue[];
  /** Its id: the tiebreak after the sort keys. */
  i: string;
}

function queryHash(query: ListQueryDto): string {
  const { continuationToken: _ignored, ...rest } = query;
  return createHash('sha256')
    .update(JSON.stringify(rest))
    .digest('base64url')
    .slice(0, 12);
}

function badToken(): DomainError {
  return new DomainError(
    ErrorCode.InvalidContinuationToken,
    'Invalid continuationToken: it does not belong to this query.',
  );
}

export function decodeToken(
  query: ListQueryDto,
  isKey: ((v: unknown) => boolean)[],
): Position | undefined {
  if (!query.continuationToken) return undefined;
  let t: { k?: unknown; i?: unknown; h?: unknown };
  try {
    t = JSON.parse(
      Buffer.from(query.continuationToken, 'base64url').toString(),
    ) as typeof t;
  } catch {
    throw badToken();
  }
  if (
    typeof t !== 'object' ||
    t === null ||
    t.h !== queryHash(query) ||
    !isResourceId(t.i) ||
    !Array.isArray(t.k) ||
    t.k.length !== isKey.length ||
    !t.k.every((v, n) => isKey[n]?.(v))
  ) {
    throw badToken();
  }
  return { k: t.k as KeyValue[], i: t.i };
}

export function nextLink(
  query: ListQueryDto,
  basePath: string,
  last: Position,
): { next: { href: string } } {
  const token = Buffer.from(
    JSON.stringify({ k: last.k, i: last.i, h: queryHash(query) }),
  ).toString('base64url');
  const params = new URLSearchParams();
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  if (query.orderby) params.set('orderby', query.orderby);
  for (const p of query.property ?? []) params.append('property', p);
  params.set('continuationToken', token);
  return { next: { href: `${basePath}?${params.toString()}` } };
}

// ---------------------------------------------------------------------------
// In memory, for the static catalogue.

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

function sortValue(doc: Record<string, unknown>, field: string): KeyValue {
  const v = doc[field];
  return typeof v === 'number'
    ? v
    : typeof v === 'string'
      ? v.toLowerCase()
      : '';
}

/** Filters, sorts and pages a small static list (the catalogue) in memory. */
export function listDocuments<T extends object>(
  docs: T[],
  query: ListQueryDto,
  spec: ListSpec,
  basePath: string,
): ListPage<T> | { count: number } {
  checkLimitWithCount(query);
  const filters = parseFilters(query.property, spec);
  const sorts = parseOrderBy(query.orderby, spec);
  const filtered = docs.filter((d) => filters.every((f) => matches(d, f)));
  if (query.count) return { count: filtered.length };
  const position = (d: T): Position => {
    const r = d as Record<string, unknown>;
    return { k: sorts.map((s) => sortValue(r, s.field)), i: String(r.id) };
  };
  const order = (a: Position, b: Position): number => {
    for (const [n, s] of sorts.entries()) {
      const av = a.k[n] as KeyValue;
      const bv = b.k[n] as KeyValue;
      if (av < bv) return -s.dir;
      if (av > bv) return s.dir;
    }
    return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
  };
  filtered.sort((a, b) => order(position(a), position(b)));
  const after = decodeToken(
    query,
    sorts.map(() => (v) => typeof v === 'string' || typeof v === 'number'),
  );
  const rest = after
    ? filtered.filter((d) => order(position(d), after) > 0)
    : filtered;
  const limit = query.limit ?? 20;
  const items = rest.slice(0, limit);
  const page: ListPage<T> = { items };
  const last = items.at(-1);
  if (rest.length > limit && last)
    page._links = nextLink(query, basePath, position(last));
  return page;
}
