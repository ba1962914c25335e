import type {
  ArrayLiteralNode,
  OccursSpec,
  PathNode,
  PqlNode,
  PqlValueNode,
  ScalarLiteralNode,
  TimeNode,
} from './ast.js';

/** A node of Adobe's `pql/json` expression format. */
export type PqlJson =
  | { nodeType: 'parameterReference'; position: number }
  | { nodeType: 'fieldLookup'; fieldName: string; object: PqlJson }
  | {
      nodeType: 'literal';
      literalType: 'String' | 'Integer' | 'Double' | 'Boolean' | 'List';
      value: string | number | boolean | PqlJson[];
    }
  | { nodeType: 'fnApply'; fnName: string; params: PqlJson[] };

function fn(fnName: string, ...params: PqlJson[]): PqlJson {
  return { nodeType: 'fnApply', fnName, params };
}

function str(value: string): PqlJson {
  return { nodeType: 'literal', literalType: 'String', value };
}

function int(value: number): PqlJson {
  return { nodeType: 'literal', literalType: 'Integer', value };
}

function path(node: PathNode): PqlJson {
  let object: PqlJson = { nodeType: 'parameterReference', position: 1 };
  for (const fieldName of node.segments) {
    object = { nodeType: 'fieldLookup', fieldName, object };
  }
  return object;
}

function scalar(node: ScalarLiteralNode): PqlJson {
  switch (node.kind) {
    case 'string':
      return str(node.value);
    case 'number':
      return {
        nodeType: 'literal',
        literalType: node.integer ? 'Integer' : 'Double',
        value: node.value,
      };
    case 'boolean':
      return { nodeType: 'literal', literalType: 'Boolean', value: node.value };
    case 'date':
      return fn('date', ...node.parts.map(int));
  }
}

function time(node: TimeNode): PqlJson {
  return node.kind === 'date' ? scalar(node) : fn(node.word);
}

function value(node: PqlValueNode): PqlJson {
  if (node.kind === 'path') return path(node);
  if (node.kind === 'relativeTime') return fn(node.word);
  return scalar(node);
}

function list(node: ArrayLiteralNode): PqlJson {
  return {
    nodeType: 'literal',
    literalType: 'List',
    value: node.items.map(scalar),
  };
}

function occurs(target: PqlJson, spec: OccursSpec): PqlJson {
  switch (spec.form) {
    case 'relative':
      return fn(
        'occurs',
        target,
        str(spec.op),
        int(spec.amount),
        str(spec.unit),
        str(spec.direction),
        time(spec.anchor),
      );
    case 'period':
      return fn('occurs', target, str(spec.which), str(spec.unit));
    case 'between':
      return fn(
        'occurs',
        target,
        str('between'),
        time(spec.from),
        time(spec.to),
      );
    default:
      return fn('occurs', target, str(spec.form), time(spec.anchor));
  }
}

/**
 * Converts a parsed condition to Adobe's `pql/json` shape: `fnApply` nodes
 * named after the operator or function, `fieldLookup` chains ending in
 * `parameterReference` 1, typed `literal`s. Best effort: the shape of
 * comparisons, paths and scalar literals follows Adobe's published example;
 * lists, `date(...)`, time words and `occurs` use a consistent but
 * unverified encoding (lists as `literalType: "List"`, `occurs` as
 * `fnApply "occurs"` with its clause words as string literals).
 */
export function toPqlJson(node: PqlNode): PqlJson {
  switch (node.kind) {
    case 'and':
    case 'or':
      return fn(node.kind, ...node.operands.map(toPqlJson));
    case 'not':
      return fn('not', toPqlJson(node.operand));
    case 'constant':
      return { nodeType: 'literal', literalType: 'Boolean', value: node.value };
    case 'compare':
      return fn(node.op, value(node.left), value(node.right));
    case 'in':
      return fn(
        node.negated ? 'notIn' : 'in',
        value(node.value),
        list(node.list),
      );
    case 'like':
      return fn('like', value(node.value), str(node.pattern.value));
    case 'stringFunction':
      return node.caseSensitive
        ? fn(node.fn, path(node.target), str(node.argument.value))
        : fn(node.fn, path(node.target), str(node.argument.value), {
            nodeType: 'literal',
            literalType: 'Boolean',
            value: false,
          });
    case 'matches':
      return fn('matches', path(node.target), str(node.pattern.value));
    case 'nullCheck':
      return fn(node.negated ? 'isNotNull' : 'isNull', path(node.target));
    case 'includes':
      return fn('includes', path(node.target), scalar(node.value));
    case 'intersects':
      return fn('intersects', path(node.target), list(node.list));
    case 'occurs':
      return occurs(path(node.target), node.spec);
  }
}
