import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { type DatabaseTarget, databaseTarget, ensureSqliteFolder } from "./database-url.ts";
import { PrismaClient as PostgresClient } from "./generated/postgres/client.ts";
import { PrismaClient as SqliteClient } from "./generated/sqlite/client.ts";
import { migrate } from "./migrate.ts";

/** Both generated clients come from one schema, so they share this shape. */
export type Db = SqliteClient;
// Prisma.sql and Prisma.join build raw SQL that either provider's client runs.
export { Prisma } from "./generated/sqlite/client.ts";

export interface Database {
  db: Db;
  target: DatabaseTarget;
  close(): Promise<void>;
}

export interface CreateDatabaseOptions {
  url?: string;
  /** Apply pending migrations first (the default: a fresh clone starts with one command). */
  migrate?: boolean;
}

export async function createDatabase(options: CreateDatabaseOptions = {}): Promise<Database> {
  const target = databaseTarget(options.url);
  ensureSqliteFolder(target);
  if (options.migrate !== false) await migrate(target);
  let db: Db;
  if (target.provider === "postgresql") {
    db = new PostgresClient({ adapter: new PrismaPg({ connectionString: target.url }) }) as unknown as Db;
  } else {
    db = new SqliteClient({ adapter: new PrismaBetterSQLite3({ url: `file:${target.file}` }) });
    // WAL lets readers run beside the writer; NORMAL syncs at checkpoints, not at every commit,
    // which WAL keeps safe against corruption. busy_timeout waits for a lock instead of failing.
    await db.$queryRawUnsafe("PRAGMA journal_mode = WAL");
    await db.$queryRawUnsafe("PRAGMA synchronous = NORMAL");
    await db.$queryRawUnsafe("PRAGMA busy_timeout = 5000");
  }
  await db.$connect();
  return { db, target, close: () => db.$disconnect() };
}
