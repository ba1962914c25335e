import { Foundation1764100000000 } from './1764100000000-Foundation.js';
import { RunnerCursors1764300000000 } from './1764300000000-RunnerCursors.js';

/** Every migration, in order. New migrations are appended here by hand. */
export const MIGRATIONS: (new () => unknown)[] = [
  Foundation1764100000000,
  RunnerCursors1764300000000,
];
