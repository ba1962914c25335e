import type { DataSource } from 'typeorm';

/**
 * A statement each pooled connection parses and plans once (a named
 * prepared statement), for reads a request runs often. PostgreSQL spends
 * more CPU parsing and planning a one-row lookup than executing it; a named
 * statement skips both after a connection's first use.
 *
 * The text must name its columns (no `*`): a prepared statement whose result
 * columns change under it fails ("cached plan must not change result type"),
 * while added columns leave a statement with explicit columns valid.
 */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

const texts = new Map<string, string>();

/**
 * Declares a statement; one name has one text in a process (the driver
 * refuses a name with two texts on one connection). Declaring it again with
 * the same text (another app in the same process) is allowed.
 */
export function prepared(name: string, text: string): PreparedStatement {
  const known = texts.get(name);
  if (known !== undefined && known !== text)
    throw new Error(`prepared statement ${name} declared with two texts`);
  texts.set(name, text);
  return { name, text };
}

/**
 * Runs `statement` with `values` on a connection of the pool. The query
 * runner comes from `dataSource.createQueryRunner`, so a request's deadline
 * cancels and refuses it like any other statement (request-work.ts).
 */
export async function queryPrepared<Row>(
  dataSource: DataSource,
  statement: PreparedStatement,
  values: unknown[],
): Promise<Row[]> {
  const runner = dataSource.createQueryRunner();
  try {
    // TypeORM hands the query to node-postgres as it is; node-postgres takes
    // a { name, text } config in place of the text and adds the values.
    return (await runner.query(
      statement as unknown as string,
      values,
    )) as Row[];
  } finally {
    await runner.release();
  }
}
