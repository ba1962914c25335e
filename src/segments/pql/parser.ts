import type {
  ArrayLiteralNode,
  CompareOp,
  DateLiteralNode,
  OccursSpec,
  PathNode,
  PqlNode,
  PqlValueNode,
  RelativeTimeWord,
  ScalarLiteralNode,
  StringFunctionName,
  StringLiteralNode,
  TimeNode,
  TimeUnit,
} from './ast.js';
import { PqlError } from './errors.js';
import { Lexer, offsetInStringLiteral, type Token } from './lexer.js';
import type { PqlLimits } from './limits.js';
import {
  type LinearMatcher,
  PatternError,
  compileLike,
  compileMatches,
  estimateProgramSize,
} from './regex.js';
import { DAY_MS, UNIT_WORDS, daysInMonth, utc } from './time.js';

const MAX_DEPTH = 64;

const COMPARE_OPS: ReadonlySet<string> = new Set([
  '=',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
]);

const STRING_FUNCTIONS: ReadonlySet<string> = new Set<StringFunctionName>([
  'startsWith',
  'endsWith',
  'contains',
  'doesNotStartWith',
  'doesNotEndWith',
  'doesNotContain',
  'equals',
  'notEqualTo',
]);

const RELATIVE_TIME_WORDS: ReadonlySet<string> = new Set<RelativeTimeWord>([
  'now',
  'today',
  'yesterday',
  'tomorrow',
]);

/** Words that cannot start a value (they are operators or clause words). */
const OPERATOR_WORDS: ReadonlySet<string> = new Set([
  'and',
  'or',
  'in',
  'notIn',
  'like',
  'occurs',
  'between',
]);

/** PQL constructs outside the supported subset, reported as such. */
const UNSUPPORTED_WORDS: ReadonlyMap<string, string> = new Map([
  ['xEvent', "ExperienceEvent queries ('xEvent') are not supported"],
  ['exists', "Unsupported quantifier 'exists'"],
  ['forall', "Unsupported quantifier 'forall'"],
  ['if', "Unsupported function 'if'"],
  ['let', "Unsupported expression 'let'"],
  ['sum', "Unsupported aggregation 'sum'"],
  ['count', "Unsupported aggregation 'count'"],
  ['average', "Unsupported aggregation 'average'"],
  ['min', "Unsupported aggregation 'min'"],
  ['max', "Unsupported aggregation 'max'"],
  ['select', "Unsupported expression 'select'"],
  ['chain', "Unsupported expression 'chain'"],
]);

function describe(tok: Token): string {
  switch (tok.type) {
    case 'eof':
      return 'end of input';
    case 'string':
      return 'a string';
    case 'number':
      return `'${tok.value}'`;
    default:
      return `'${tok.value}'`;
  }
}

export interface ParseOptions {
  /**
   * Limits checked when a definition is written. Omitted when re-reading
   * stored definitions, so lowering a limit never drops an accepted segment.
   */
  limits?: PqlLimits;
}

/**
 * Parses PQL text (`pql/text`) into a condition tree. Throws only `PqlError`,
 * for syntax errors, constructs outside the supported subset and exceeded
 * `options.limits`.
 */
export function parsePql(text: string, options: ParseOptions = {}): PqlNode {
  if (typeof text !== 'string') {
    throw new PqlError('PQL expression must be a string', '', 0);
  }
  const limits = options.limits;
  if (limits !== undefined && text.length > limits.maxTextLength) {
    throw new PqlError(
      `PQL text is ${text.length} characters long; at most ${limits.maxTextLength} are allowed`,
      text,
      limits.maxTextLength,
    );
  }
  const node = new Parser(text, limits).parseProgram();
  if (limits !== undefined) checkNodeCount(node, text, limits.maxNodes);
  return node;
}

/** Throws at the first node past `max` in reading order. */
function checkNodeCount(root: PqlNode, text: string, max: number): void {
  let count = 0;
  const visit = (start: number): void => {
    if (++count > max) {
      throw new PqlError(
        `Expression has more than ${max} nodes (conditions, values and array items); split it or simplify it`,
        text,
        start,
      );
    }
  };
  const walk = (node: PqlNode): void => {
    visit(node.start);
    switch (node.kind) {
      case 'and':
      case 'or':
        for (const operand of node.operands) walk(operand);
        return;
      case 'not':
        walk(node.operand);
        return;
      case 'compare':
        visit(node.left.start);
        visit(node.right.start);
        return;
      case 'in':
        visit(node.value.start);
        for (const item of node.list.items) visit(item.start);
        return;
      case 'intersects':
        for (const item of node.list.items) visit(item.start);
        return;
      case 'like':
        visit(node.value.start);
        return;
      case 'constant':
      case 'stringFunction':
      case 'matches':
      case 'nullCheck':
      case 'includes':
      case 'occurs':
        return;
    }
  };
  walk(root);
}

class Parser {
  private readonly lexer: Lexer;
  private pos = 0;
  private depth = 0;
  private lambdaVariable: string | undefined;
  /** Estimated RE2 program size of the patterns compiled so far. */
  private patternSize = 0;

  constructor(
    private readonly text: string,
    private readonly limits: PqlLimits | undefined,
  ) {
    this.lexer = new Lexer(text);
  }

  parseProgram(): PqlNode {
    this.parseLambdaHeader();
    if (this.peek().type === 'eof') {
      throw this.error('Expected an expression but found end of input');
    }
    const node = this.parseOr();
    const tok = this.peek();
    if (tok.type !== 'eof') {
      throw this.error(
        `Expected 'and', 'or' or end of input but found ${describe(tok)}`,
        tok,
      );
    }
    return node;
  }

  // ---- helpers ------------------------------------------------------------

  private peek(offset = 0): Token {
    return this.lexer.at(this.pos + offset);
  }

  private next(): Token {
    const tok = this.peek();
    if (tok.type !== 'eof') this.pos++;
    return tok;
  }

  private isPunct(value: string, offset = 0): boolean {
    const tok = this.peek(offset);
    return tok.type === 'punct' && tok.value === value;
  }

  private isWord(value: string, offset = 0): boolean {
    const tok = this.peek(offset);
    return tok.type === 'ident' && tok.value === value;
  }

  private expectPunct(value: string, context: string): Token {
    const tok = this.peek();
    if (tok.type === 'punct' && tok.value === value) return this.next();
    throw this.error(
      `Expected '${value}' ${context} but found ${describe(tok)}`,
      tok,
    );
  }

  private error(reason: string, at: Token | number = this.peek()): PqlError {
    return new PqlError(
      reason,
      this.text,
      typeof at === 'number' ? at : at.start,
    );
  }

  private enter(tok: Token): void {
    if (++this.depth > MAX_DEPTH) {
      throw this.error(
        `Expression is nested too deeply (more than ${MAX_DEPTH} levels)`,
        tok,
      );
    }
  }

  // ---- grammar ------------------------------------------------------------

  /** `(Profile) =>` or `Profile =>` before the body names the profile variable. */
  private parseLambdaHeader(): void {
    if (
      this.isPunct('(') &&
      this.peek(1).type === 'ident' &&
      this.isPunct(')', 2) &&
      this.isPunct('=>', 3)
    ) {
      this.lambdaVariable = this.peek(1).value;
      this.pos += 4;
    } else if (this.peek().type === 'ident' && this.isPunct('=>', 1)) {
      this.lambdaVariable = this.peek().value;
      this.pos += 2;
    }
  }

  private parseOr(): PqlNode {
    const first = this.parseAnd();
    if (!this.isWord('or')) return first;
    const operands = [first];
    while (this.isWord('or')) {
      this.next();
      operands.push(this.parseAnd());
    }
    return {
      kind: 'or',
      operands,
      start: first.start,
      end: operands[operands.length - 1].end,
    };
  }

  private parseAnd(): PqlNode {
    const first = this.parseUnary();
    if (!this.isWord('and')) return first;
    const operands = [first];
    while (this.isWord('and')) {
      this.next();
      operands.push(this.parseUnary());
    }
    return {
      kind: 'and',
      operands,
      start: first.start,
      end: operands[operands.length - 1].end,
    };
  }

  private parseUnary(): PqlNode {
    const tok = this.peek();
    this.enter(tok);
    try {
      if (this.isWord('not') || this.isPunct('!')) {
        this.next();
        this.expectPunct('(', `after '${tok.value}'`);
        const operand = this.parseOr();
        const close = this.expectPunct(')', `to close '${tok.value} ('`);
        return { kind: 'not', operand, start: tok.start, end: close.end };
      }
      if (this.isPunct('(')) {
        this.next();
        const inner = this.parseOr();
        const close = this.expectPunct(')', "to close '('");
        return { ...inner, start: tok.start, end: close.end };
      }
      return this.parsePredicate();
    } finally {
      this.depth--;
    }
  }

  private parsePredicate(): PqlNode {
    const startTok = this.peek();
    const subject = this.parseOperand();
    if (subject.kind !== 'value') return subject.node;
    const left = subject.node;
    const tok = this.peek();

    if (tok.type === 'punct' && COMPARE_OPS.has(tok.value)) {
      this.next();
      const rightTok = this.peek();
      const right = this.parseOperand();
      if (right.kind !== 'value') {
        throw this.error(
          `Expected a value after '${tok.value}' but found a condition`,
          rightTok,
        );
      }
      return {
        kind: 'compare',
        op: tok.value as CompareOp,
        left,
        right: right.node,
        start: left.start,
        end: right.node.end,
      };
    }
    if (tok.type === 'ident') {
      switch (tok.value) {
        case 'in':
        case 'notIn': {
          this.next();
          if (!this.isPunct('[')) {
            throw this.error(
              `Expected an array literal '[...]' after '${tok.value}' but found ${describe(this.peek())}`,
            );
          }
          const list = this.parseArray();
          return {
            kind: 'in',
            negated: tok.value === 'notIn',
            value: left,
            list,
            start: left.start,
            end: list.end,
          };
        }
        case 'like': {
          this.next();
          const pattern = this.expectString("after 'like'");
          return {
            kind: 'like',
            value: left,
            pattern,
            matcher: this.compilePattern(pattern, compileLike),
            start: left.start,
            end: pattern.end,
          };
        }
        case 'occurs': {
          if (left.kind !== 'path') {
            throw this.error(
              "'occurs' must follow an attribute path",
              startTok,
            );
          }
          this.next();
          const { spec, end } = this.parseOccurs();
          return {
            kind: 'occurs',
            target: left,
            spec,
            start: left.start,
            end,
          };
        }
        default:
          break;
      }
    }
    const endsCondition =
      tok.type === 'eof' ||
      (tok.type === 'punct' && tok.value === ')') ||
      (tok.type === 'ident' && (tok.value === 'and' || tok.value === 'or'));
    if (!endsCondition || (left.kind !== 'path' && left.kind !== 'boolean')) {
      throw this.error(
        `Expected a comparison operator, 'in', 'notIn', 'like' or 'occurs' after '${this.text.slice(left.start, left.end)}' but found ${describe(tok)}`,
        tok,
      );
    }
    if (left.kind === 'path') {
      // A bare boolean attribute used as a condition.
      return {
        kind: 'compare',
        op: '=',
        left,
        right: { kind: 'boolean', value: true, start: left.end, end: left.end },
        start: left.start,
        end: left.end,
      };
    }
    return {
      kind: 'constant',
      value: left.value,
      start: left.start,
      end: left.end,
    };
  }

  /** A value, or a condition when the operand is a boolean method call. */
  private parseOperand():
    | { kind: 'value'; node: PqlValueNode }
    | { kind: 'condition'; node: PqlNode } {
    const tok = this.peek();
    switch (tok.type) {
      case 'string':
      case 'number':
        return { kind: 'value', node: this.parseScalar() };
      case 'param':
        return this.parsePathOrCall();
      case 'punct':
        if (tok.value === '[') {
          throw this.error(
            "An array literal is only allowed after 'in', 'notIn' or in a function argument",
          );
        }
        throw this.error(`Expected a value but found ${describe(tok)}`);
      case 'eof':
        throw this.error('Expected a value but found end of input');
      case 'ident':
        break;
    }
    const word = tok.value;
    if (word === 'true' || word === 'false' || word === 'date') {
      if (word !== 'date' || this.isPunct('(', 1)) {
        return { kind: 'value', node: this.parseScalar() };
      }
    }
    if (RELATIVE_TIME_WORDS.has(word)) {
      this.next();
      return {
        kind: 'value',
        node: {
          kind: 'relativeTime',
          word: word as RelativeTimeWord,
          start: tok.start,
          end: tok.end,
        },
      };
    }
    if (OPERATOR_WORDS.has(word) || word === 'not') {
      throw this.error(`Expected a value but found keyword '${word}'`);
    }
    const unsupported = UNSUPPORTED_WORDS.get(word);
    if (unsupported !== undefined) throw this.error(unsupported);
    if (this.isPunct('(', 1)) {
      throw this.error(`Unsupported function '${word}'`);
    }
    return this.parsePathOrCall();
  }

  private parsePathOrCall():
    { kind: 'value'; node: PathNode } | { kind: 'condition'; node: PqlNode } {
    const first = this.next();
    const segments: string[] = [];
    if (first.type === 'param') {
      if (first.value !== '$1') {
        throw this.error(
          `Only the first parameter ($1, the profile) is supported, not '${first.value}'`,
          first,
        );
      }
      if (!this.isPunct('.')) {
        throw this.error("Expected '.' and an attribute name after '$1'");
      }
    } else if (first.value !== this.lambdaVariable) {
      segments.push(first.value);
    } else if (!this.isPunct('.')) {
      throw this.error(
        `Expected '.' and an attribute name after '${first.value}'`,
      );
    }
    let end = first.end;
    while (this.isPunct('.')) {
      this.next();
      const name = this.peek();
      if (name.type !== 'ident') {
        throw this.error(
          `Expected an attribute or function name after '.' but found ${describe(name)}`,
        );
      }
      this.next();
      if (this.isPunct('(')) {
        if (segments.length === 0) {
          throw this.error(
            `Expected an attribute path before '${name.value}()'`,
            name,
          );
        }
        const target: PathNode = {
          kind: 'path',
          segments,
          path: segments.join('.'),
          start: first.start,
          end,
        };
        const node = this.parseMethodCall(target, name);
        if (this.isPunct('.')) {
          throw this.error(
            `Unsupported: calls chained after '${name.value}()'`,
          );
        }
        return { kind: 'condition', node };
      }
      segments.push(name.value);
      end = name.end;
    }
    if (segments[0] === 'xEvent') {
      throw this.error(UNSUPPORTED_WORDS.get('xEvent') ?? '', first);
    }
    return {
      kind: 'value',
      node: {
        kind: 'path',
        segments,
        path: segments.join('.'),
        start: first.start,
        end,
      },
    };
  }

  private parseMethodCall(target: PathNode, name: Token): PqlNode {
    const fn = name.value;
    const supported =
      STRING_FUNCTIONS.has(fn) ||
      fn === 'matches' ||
      fn === 'isNull' ||
      fn === 'isNotNull' ||
      fn === 'includes' ||
      fn === 'intersects';
    if (!supported) throw this.error(`Unsupported function '${fn}'`, name);
    this.expectPunct('(', `after '${fn}'`);
    const args: { node: ScalarLiteralNode | ArrayLiteralNode; tok: Token }[] =
      [];
    if (!this.isPunct(')')) {
      for (;;) {
        const tok = this.peek();
        const node = this.isPunct('[') ? this.parseArray() : this.parseScalar();
        args.push({ node, tok });
        if (!this.isPunct(',')) break;
        this.next();
      }
    }
    const close = this.expectPunct(')', `to close '${fn}('`);
    const span = { start: target.start, end: close.end };
    const arity = (min: number, max: number, shape: string): void => {
      if (args.length < min || args.length > max) {
        throw this.error(
          `'${fn}' expects ${shape}, got ${args.length} argument(s)`,
          name,
        );
      }
    };

    if (fn === 'isNull' || fn === 'isNotNull') {
      arity(0, 0, 'no arguments');
      return {
        kind: 'nullCheck',
        negated: fn === 'isNotNull',
        target,
        ...span,
      };
    }
    if (fn === 'includes') {
      arity(1, 1, 'one literal argument');
      const value = args[0].node;
      if (value.kind === 'array') {
        throw this.error(
          "'includes' expects a single value; use 'intersects' for an array",
          args[0].tok,
        );
      }
      return { kind: 'includes', target, value, ...span };
    }
    if (fn === 'intersects') {
      arity(1, 1, 'one array argument');
      const list = args[0].node;
      if (list.kind !== 'array') {
        throw this.error("'intersects' expects an array literal", args[0].tok);
      }
      return { kind: 'intersects', target, list, ...span };
    }
    if (fn === 'matches') {
      arity(1, 1, 'one string argument (a regular expression)');
      const pattern = this.stringArg(args[0], fn);
      return {
        kind: 'matches',
        target,
        pattern,
        matcher: this.compilePattern(pattern, compileMatches),
        ...span,
      };
    }
    arity(1, 2, 'a string and an optional case-sensitivity boolean');
    const argument = this.stringArg(args[0], fn);
    let caseSensitive = true;
    if (args.length === 2) {
      const flag = args[1].node;
      if (flag.kind !== 'boolean') {
        throw this.error(
          `The second argument of '${fn}' must be true or false`,
          args[1].tok,
        );
      }
      caseSensitive = flag.value;
    }
    return {
      kind: 'stringFunction',
      fn: fn as StringFunctionName,
      target,
      argument,
      caseSensitive,
      needle: caseSensitive ? argument.value : argument.value.toLowerCase(),
      ...span,
    };
  }

  private stringArg(
    arg: { node: ScalarLiteralNode | ArrayLiteralNode; tok: Token },
    fn: string,
  ): StringLiteralNode {
    if (arg.node.kind !== 'string') {
      throw this.error(`'${fn}' expects a string argument`, arg.tok);
    }
    return arg.node;
  }

  /**
   * A `like` or `matches` pattern compiled to RE2. Errors point at the
   * offending construct inside the literal and name its pattern offset too.
   */
  private compilePattern(
    pattern: StringLiteralNode,
    compile: (source: string) => LinearMatcher,
  ): LinearMatcher {
    if (this.limits !== undefined) {
      const { maxPatternLength, maxPatternSize } = this.limits;
      if (pattern.value.length > maxPatternLength) {
        throw this.error(
          `Pattern is ${pattern.value.length} characters long; at most ${maxPatternLength} are allowed`,
          pattern.start,
        );
      }
      this.patternSize += estimateProgramSize(pattern.value);
      if (this.patternSize > maxPatternSize) {
        throw this.error(
          `Patterns expand to about ${this.patternSize} regular-expression instructions up to here; at most ${maxPatternSize} are allowed (a repeat x{n} counts x n times)`,
          pattern.start,
        );
      }
    }
    try {
      return compile(pattern.value);
    } catch (e) {
      if (!(e instanceof PatternError)) throw e;
      const at =
        e.index === 0
          ? pattern.start
          : offsetInStringLiteral(this.text, pattern.start, e.index);
      throw this.error(`${e.reason}, at pattern offset ${e.index}`, at);
    }
  }

  private expectString(context: string): StringLiteralNode {
    const tok = this.peek();
    if (tok.type !== 'string') {
      throw this.error(
        `Expected a string ${context} but found ${describe(tok)}`,
      );
    }
    this.next();
    return { kind: 'string', value: tok.value, start: tok.start, end: tok.end };
  }

  private parseScalar(): ScalarLiteralNode {
    const tok = this.peek();
    if (tok.type === 'string') {
      this.next();
      return {
        kind: 'string',
        value: tok.value,
        start: tok.start,
        end: tok.end,
      };
    }
    if (tok.type === 'number') {
      this.next();
      const value = Number(tok.value);
      if (!Number.isFinite(value)) {
        throw this.error(`Number '${tok.value}' is out of range`, tok);
      }
      return {
        kind: 'number',
        value,
        integer: /^-?\d+$/.test(tok.value),
        start: tok.start,
        end: tok.end,
      };
    }
    if (tok.type === 'ident') {
      if (tok.value === 'true' || tok.value === 'false') {
        this.next();
        return {
          kind: 'boolean',
          value: tok.value === 'true',
          start: tok.start,
          end: tok.end,
        };
      }
      if (tok.value === 'date' && this.isPunct('(', 1)) {
        return this.parseDate();
      }
    }
    throw this.error(
      `Expected a literal (string, number, true, false or date(...)) but found ${describe(tok)}`,
    );
  }

  private parseArray(): ArrayLiteralNode {
    const open = this.expectPunct('[', 'to start an array');
    const items: ScalarLiteralNode[] = [];
    const max = this.limits?.maxArrayItems;
    if (!this.isPunct(']')) {
      for (;;) {
        if (max !== undefined && items.length === max) {
          throw this.error(
            `Array literal has more than ${max} items; at most ${max} are allowed`,
          );
        }
        items.push(this.parseScalar());
        if (!this.isPunct(',')) break;
        this.next();
      }
    }
    const close = this.expectPunct(']', 'to close the array');
    return { kind: 'array', items, start: open.start, end: close.end };
  }

  private parseDate(): DateLiteralNode {
    const word = this.next();
    this.expectPunct('(', "after 'date'");
    const parts: number[] = [];
    const partToks: Token[] = [];
    for (;;) {
      const tok = this.peek();
      if (tok.type !== 'number' || !/^\d+$/.test(tok.value)) {
        throw this.error(
          `Expected a non-negative integer in date(...) but found ${describe(tok)}`,
        );
      }
      this.next();
      parts.push(Number(tok.value));
      partToks.push(tok);
      if (!this.isPunct(',')) break;
      this.next();
    }
    const close = this.expectPunct(')', "to close 'date('");
    if (parts.length < 3 || parts.length > 7) {
      throw this.error(
        'date(...) expects year, month, day and optionally hour, minute, second, millisecond',
        word,
      );
    }
    const [year, month, day, hour = 0, minute = 0, second = 0, ms = 0] = parts;
    const check = (ok: boolean, index: number, what: string): void => {
      if (!ok) throw this.error(`Invalid date: ${what}`, partToks[index]);
    };
    check(year <= 9999, 0, 'year must be at most 9999');
    check(month >= 1 && month <= 12, 1, 'month must be 1-12');
    check(
      day >= 1 && day <= daysInMonth(year, month),
      2,
      `day must be 1-${daysInMonth(year, month)}`,
    );
    check(hour <= 23, 3, 'hour must be 0-23');
    check(minute <= 59, 4, 'minute must be 0-59');
    check(second <= 59, 5, 'second must be 0-59');
    check(ms <= 999, 6, 'millisecond must be 0-999');
    const startMs = utc(year, month - 1, day, hour, minute, second, ms);
    return {
      kind: 'date',
      parts,
      startMs,
      endMs: parts.length === 3 ? startMs + DAY_MS : startMs + 1,
      start: word.start,
      end: close.end,
    };
  }

  private parseTime(context: string): TimeNode {
    const tok = this.peek();
    if (tok.type === 'ident') {
      if (RELATIVE_TIME_WORDS.has(tok.value)) {
        this.next();
        return {
          kind: 'relativeTime',
          word: tok.value as RelativeTimeWord,
          start: tok.start,
          end: tok.end,
        };
      }
      if (tok.value === 'date' && this.isPunct('(', 1)) return this.parseDate();
      if (this.isPunct('(', 1)) {
        throw this.error(`Unsupported function '${tok.value}'`);
      }
    }
    throw this.error(
      `Expected now, today, yesterday, tomorrow or date(...) ${context} but found ${describe(tok)}`,
    );
  }

  private parseUnit(): TimeUnit {
    const tok = this.peek();
    const unit = tok.type === 'ident' ? UNIT_WORDS.get(tok.value) : undefined;
    if (unit === undefined) {
      throw this.error(
        `Expected a time unit (millisecond(s) … millennia) but found ${describe(tok)}`,
      );
    }
    this.next();
    return unit;
  }

  private parseOccurs(): { spec: OccursSpec; end: number } {
    const tok = this.peek();
    if (tok.type === 'punct' && COMPARE_OPS.has(tok.value)) {
      this.next();
      const amountTok = this.peek();
      if (amountTok.type !== 'number' || !/^\d+$/.test(amountTok.value)) {
        throw this.error(
          `Expected a non-negative integer after 'occurs ${tok.value}' but found ${describe(amountTok)}`,
        );
      }
      this.next();
      const unit = this.parseUnit();
      const dirTok = this.peek();
      if (
        dirTok.type !== 'ident' ||
        (dirTok.value !== 'before' &&
          dirTok.value !== 'after' &&
          dirTok.value !== 'from')
      ) {
        throw this.error(
          `Expected 'before', 'after' or 'from' but found ${describe(dirTok)}`,
        );
      }
      this.next();
      const anchor = this.parseTime(`after '${dirTok.value}'`);
      return {
        spec: {
          form: 'relative',
          op: tok.value as CompareOp,
          amount: Number(amountTok.value),
          unit,
          direction: dirTok.value === 'before' ? 'before' : 'after',
          anchor,
        },
        end: anchor.end,
      };
    }
    if (tok.type === 'ident') {
      switch (tok.value) {
        case 'last':
        case 'this':
        case 'next': {
          this.next();
          const unitTok = this.peek();
          const unit = this.parseUnit();
          return {
            spec: { form: 'period', which: tok.value, unit },
            end: unitTok.end,
          };
        }
        case 'between': {
          this.next();
          const from = this.parseTime("after 'between'");
          if (!this.isWord('and')) {
            throw this.error(
              `Expected 'and' in 'occurs between … and …' but found ${describe(this.peek())}`,
            );
          }
          this.next();
          const to = this.parseTime("after 'and'");
          return { spec: { form: 'between', from, to }, end: to.end };
        }
        case 'before':
        case 'after':
        case 'on': {
          this.next();
          const anchor = this.parseTime(`after '${tok.value}'`);
          return { spec: { form: tok.value, anchor }, end: anchor.end };
        }
        default:
          if (
            RELATIVE_TIME_WORDS.has(tok.value) ||
            (tok.value === 'date' && this.isPunct('(', 1))
          ) {
            const anchor = this.parseTime('');
            return { spec: { form: 'on', anchor }, end: anchor.end };
          }
      }
    }
    throw this.error(
      `Expected a comparison, 'last', 'this', 'next', 'between', 'before', 'after' or 'on' after 'occurs' but found ${describe(tok)}`,
    );
  }
}
