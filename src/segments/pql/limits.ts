/**
 * Definition-time limits on PQL text. They keep one tenant's definition from
 * costing the shared process much to parse, store or evaluate; evaluation has
 * its own bound (`EVALUATION_BUDGET`) that holds whatever was accepted.
 */
export interface PqlLimits {
  /** Longest PQL text, in characters (UTF-16 code units). */
  maxTextLength: number;
  /** Most nodes in the parsed tree: conditions, values and array items. */
  maxNodes: number;
  /** Most items in one array literal (`in`, `notIn`, `intersects`). */
  maxArrayItems: number;
  /** Longest `matches` or `like` pattern, in characters. */
  maxPatternLength: number;
  /**
   * The expression's patterns together may compile to about this many RE2
   * instructions (`estimateProgramSize`): compiling is paid when the
   * definition is written and once per process when it is first evaluated.
   */
  maxPatternSize: number;
}

export const DEFAULT_PQL_LIMITS: Readonly<PqlLimits> = {
  maxTextLength: 32_768,
  maxNodes: 2_000,
  maxArrayItems: 1_000,
  maxPatternLength: 1_000,
  maxPatternSize: 10_000,
};

/**
 * Work one `evaluatePql` call may do on the profile's values, in units of
 * about a nanosecond: RE2 steps (a pattern's program size per character
 * tested), characters compared, array elements looked up (see the weights in
 * `evaluator.ts`). A predicate whose work would exceed what is left is false,
 * so one definition costs at most about 2–3 ms per profile on one core,
 * whatever its patterns and the profile's values. For scale: `matches` with
 * a 20-step pattern can test strings up to 50,000 characters.
 */
export const EVALUATION_BUDGET = 2_000_000;
