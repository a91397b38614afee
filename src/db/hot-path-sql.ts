import type { Prisma } from "./generated/sqlite/client.ts";

/**
 * Raw statements on the paths that run once per webhook delivery or per job (intake, the embedded
 * queue's claim and completion). On SQLite they run on a connection of their own in a worker thread
 * (`sqlite-hot-path.ts`): a Prisma query costs about a millisecond of the main thread there, and a
 * statement sent on Prisma's connection would join whatever transaction another handler has open.
 * On PostgreSQL they go through Prisma, whose pool already gives each its own connection.
 * Statements are built with `Prisma.sql`; rows come back as the driver gives them (dates as stored).
 */
export interface HotPathSql {
  /** Rows of a SELECT, or of a write with RETURNING. */
  query<Row>(statement: Prisma.Sql): Promise<Row[]>;
  /** How many rows a write changed. */
  execute(statement: Prisma.Sql): Promise<number>;
  /**
   * The statements in one transaction, all taking effect or none; resolves with the rows each
   * returned (a write without RETURNING returns none).
   */
  transaction(statements: readonly Prisma.Sql[]): Promise<unknown[][]>;
  close(): Promise<void>;
}
