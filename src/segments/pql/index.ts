export * from './ast.js';
export { PqlError } from './errors.js';
export { parsePql } from './parser.js';
export { evaluatePql, isTimeRelative, referencedPaths } from './evaluator.js';
export { toPqlJson, type PqlJson } from './pql-json.js';
