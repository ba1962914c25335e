import type { ProfileState } from '../profile-store/profile-state.js';
import {
  type FlowMapping,
  type PayloadOptions,
  buildPayload,
  isoSeconds,
  valueAt,
} from './mapping.js';

/**
 * The exported message's JSON text, written directly from a profile's state:
 * exactly `JSON.stringify(buildPayload(state, mapping, opts))`, without the
 * intermediate object. buildPayload stays the definition of the message;
 * this is its fast writer, and a spec holds the two byte for byte.
 *
 * No I/O here. A writer is compiled once per step for the flow's mapping.
 */
export interface BodyWriter {
  /** False when the mapping's shape needs buildPayload itself (see attributeTree). */
  readonly direct: boolean;
  write(state: ProfileState, opts: PayloadOptions): string;
}

/** Characters JSON.stringify escapes in a string (surrogates: only lone ones; all are left to it here). */
// eslint-disable-next-line no-control-regex -- control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify(value), with strings that need no escaping quoted directly (most values). */
function json(value: unknown): string {
  return typeof value === 'string' && !NEEDS_ESCAPE.test(value)
    ? `"${value}"`
    : JSON.stringify(value);
}

/** One key of the nested attribute part: a leaf (a mapped path) or an object of keys. */
interface AttrNode {
  keyJson: string;
  /** The mapped path of a leaf; null for an object. */
  path: string | null;
  children: AttrNode[];
}

/** A key JavaScript orders before the others in an object (an array index). */
const INDEX_LIKE = /^(?:0|[1-9]\d*)$/;

/** Keys whose insertion into an object does not behave like the others'. */
function specialKey(key: string): boolean {
  return INDEX_LIKE.test(key) || key === '__proto__';
}

/**
 * The attribute tree in the order buildPayload's objects get their keys, or
 * null when the mapping needs buildPayload's own semantics: a mapped path
 * that is a prefix of another (a value becomes an object), a top-level key
 * the message sets itself, or keys objects order by their value.
 */
function attributeTree(paths: string[]): AttrNode[] | null {
  const root: AttrNode[] = [];
  for (const path of paths) {
    const keys = path.split('.');
    if (keys.some(specialKey)) return null;
    const top = keys[0];
    if (top === 'segmentMembership' || top === 'identityMap') return null;
    let level = root;
    for (let i = 0; i < keys.length; i++) {
      const keyJson = JSON.stringify(keys[i]);
      let node = level.find((n) => n.keyJson === keyJson);
      const leaf = i === keys.length - 1;
      if (node) {
        // One mapped path is a prefix of (or equal to) another.
        if (leaf || node.path !== null) return null;
      } else {
        node = { keyJson, path: leaf ? path : null, children: [] };
        level.push(node);
      }
      level = node.children;
    }
  }
  return root;
}

/**
 * The attribute part when every mapped path has a value (the usual case):
 * fixed text around each value, so a message is one pass of concatenation.
 * `parts` has one more entry than `paths`.
 */
interface FullTemplate {
  paths: string[];
  parts: string[];
}

function fullTemplate(nodes: AttrNode[]): FullTemplate {
  const t: FullTemplate = { paths: [], parts: [] };
  let text = '';
  const walk = (level: AttrNode[]): void => {
    level.forEach((n, i) => {
      text += `${i === 0 ? '' : ','}${n.keyJson}:`;
      if (n.path !== null) {
        t.parts.push(text);
        t.paths.push(n.path);
        text = '';
      } else {
        text += '{';
        walk(n.children);
        text += '}';
      }
    });
  };
  walk(nodes);
  t.parts.push(text);
  return t;
}

/** Objects without a value below them are left out, as setAt never creates them. */
function writeAttributes(
  nodes: AttrNode[],
  attributes: Record<string, unknown>,
): string {
  let out = '';
  for (const n of nodes) {
    let part: string;
    if (n.path !== null) {
      const v = valueAt(attributes, n.path);
      if (v === undefined) continue;
      part = json(v);
    } else {
      const inner = writeAttributes(n.children, attributes);
      if (inner === '') continue;
      part = `{${inner}}`;
    }
    out += out === '' ? `${n.keyJson}:${part}` : `,${n.keyJson}:${part}`;
  }
  return out;
}

/** The exported identityMap (see exportedIdentityMap): only each identity's `id`, as a string. */
function writeIdentityMap(identityMap: Record<string, unknown>): string {
  let out = '';
  for (const ns of Object.keys(identityMap)) {
    const ids = identityMap[ns];
    // Assigning `__proto__` sets the prototype of exportedIdentityMap's
    // object instead of a key: JSON.stringify never shows it.
    if (!Array.isArray(ids) || ns === '__proto__') continue;
    let list = '';
    for (const i of ids as unknown[]) {
      const id =
        i && typeof i === 'object' ? (i as { id?: unknown }).id : undefined;
      if (typeof id !== 'string' && typeof id !== 'number') continue;
      const item = `{"id":${json(String(id))}}`;
      list += list === '' ? item : `,${item}`;
    }
    const entry = `${json(ns)}:[${list}]`;
    out += out === '' ? entry : `,${entry}`;
  }
  return out;
}

/** What one mapped segment's entry adds after `status` for these options. */
function segmentExtras(id: string, opts: PayloadOptions): string {
  const info = opts.segments.get(id);
  let out = '';
  if (opts.includeSegmentNames && info)
    out += `,"name":${JSON.stringify(info.name)}`;
  if (opts.includeSegmentTimestamps) {
    if (info)
      out += `,"createdAt":${JSON.stringify(info.createdAt)},"updatedAt":${JSON.stringify(info.updatedAt)}`;
    out += `,"mappingCreatedAt":${JSON.stringify(opts.mappingCreatedAt)},"mappingUpdatedAt":${JSON.stringify(opts.mappingUpdatedAt)}`;
  }
  return out;
}

/** The writer for a mapping: direct when its shape allows, else buildPayload + JSON.stringify. */
export function bodyWriter(mapping: FlowMapping): BodyWriter {
  const tree = attributeTree(mapping.attributePaths);
  if (!tree || mapping.segmentIds.some(specialKey))
    return {
      direct: false,
      write: (state, opts) =>
        JSON.stringify(buildPayload(state, mapping, opts)),
    };
  const full = fullTemplate(tree);
  const segmentKeys = mapping.segmentIds.map((id) => JSON.stringify(id));
  // Per options object (one per target kind in a step): each segment's extras.
  const extrasCache = new WeakMap<PayloadOptions, string[]>();
  return {
    direct: true,
    write(state, opts) {
      let extras = extrasCache.get(opts);
      if (!extras) {
        extras = mapping.segmentIds.map((id) => segmentExtras(id, opts));
        extrasCache.set(opts, extras);
      }
      let attrs = full.parts[0] as string;
      for (let i = 0; i < full.paths.length; i++) {
        const v = valueAt(state.attributes, full.paths[i] as string);
        if (v === undefined) {
          attrs = writeAttributes(tree, state.attributes);
          break;
        }
        attrs += json(v) + (full.parts[i + 1] as string);
      }
      let ups = '';
      for (let i = 0; i < mapping.segmentIds.length; i++) {
        const m = state.memberships[mapping.segmentIds[i] as string];
        if (!m) continue;
        const entry = `${segmentKeys[i] as string}:{"lastQualificationTime":${json(isoSeconds(m.lastQualificationTime))},"status":${json(m.status)}${extras[i] as string}}`;
        ups += ups === '' ? entry : `,${entry}`;
      }
      const rest = `"segmentMembership":{"ups":{${ups}}},"identityMap":{${writeIdentityMap(state.identityMap)}}}`;
      return attrs === '' ? `{${rest}` : `{${attrs},${rest}`;
    },
  };
}
