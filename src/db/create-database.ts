import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { type DatabaseTarget, databaseTarget, ensurePrivateSqliteFile, ensureSqliteFolder } from "./database-url.ts";
import { createDeliveryJobStore, type DeliveryJobStore } from "./delivery-job-store.ts";
import { PrismaClient as PostgresClient } from "./generated/postgres/client.ts";
import { Prisma, PrismaClient as SqliteClient } from "./generated/sqlite/client.ts";
import type { HotPathSql } from "./hot-path-sql.ts";
import { immediateTransactions } from "./immediate-transactions.ts";
import { migrate } from "./migrate.ts";
import { type SqliteHotPathOptions, startSqliteHotPath } from "./sqlite-hot-path.ts";

/** Both generated clients come from one schema, so they share this shape. */
export type Db = SqliteClient;
// Prisma.sql and Prisma.join build raw SQL that either provider's client runs.
export { Prisma };

export interface Database {
  db: Db;
  /** Webhook intake's and the embedded queue's door to their tables. */
  store: DeliveryJobStore;
  target: DatabaseTarget;
  close(): Promise<void>;
}

export interface CreateDatabaseOptions {
  url?: string;
  /** Apply pending migrations first (the default: a fresh clone starts with one command). */
  migrate?: boolean;
  /** SQLite: told of each checkpoint (the write-ahead log copied back into the database file). */
  onCheckpoint?: SqliteHotPathOptions["onCheckpoint"];
}

export async function createDatabase(options: CreateDatabaseOptions = {}): Promise<Database> {
  const target = databaseTarget(options.url);
  ensureSqliteFolder(target);
  ensurePrivateSqliteFile(target);
  if (options.migrate !== false) await migrate(target);
  let db: Db;
  let hotPath: HotPathSql;
  if (target.provider === "postgresql") {
    db = new PostgresClient({ adapter: new PrismaPg({ connectionString: target.url }) }) as unknown as Db;
    hotPath = prismaHotPath(db);
  } else {
    db = new SqliteClient({ adapter: immediateTransactions(new PrismaBetterSQLite3({ url: `file:${target.file}` })) });
    // WAL lets readers run beside the writer; NORMAL syncs at checkpoints, not at every commit,
    // which WAL keeps safe against corruption. busy_timeout waits for a lock instead of failing.
    await db.$queryRawUnsafe("PRAGMA journal_mode = WAL");
    await db.$queryRawUnsafe("PRAGMA synchronous = NORMAL");
    await db.$queryRawUnsafe(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    // An in-memory database exists only on its one connection.
    if (target.file === ":memory:") hotPath = prismaHotPath(db);
    else {
      hotPath = await startSqliteHotPath({
        file: target.file,
        busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS,
        onCheckpoint: options.onCheckpoint,
      });
      // The hot-path thread copies the log back between its groups; a commit here must not stop to do it.
      await db.$queryRawUnsafe("PRAGMA wal_autocheckpoint = 0");
    }
  }
  await db.$connect();
  providers.set(db, target.provider);
  return {
    db,
    store: createDeliveryJobStore(db, hotPath),
    target,
    close: async () => {
      await hotPath.close();
      await db.$disconnect();
    },
  };
}

const SQLITE_BUSY_TIMEOUT_MS = 5_000;

// Prisma's client does not say which provider it runs on, and both clients share one type.
const providers = new WeakMap<Db, DatabaseTarget["provider"]>();

/**
 * The provider of a client made by `createDatabase`, for the few statements that differ between
 * them; undefined for any other object (a test's stand-in).
 */
export function providerOf(db: Db): DatabaseTarget["provider"] | undefined {
  return providers.get(db);
}

/** The hot path on Prisma's own pool (PostgreSQL, and an in-memory SQLite database). */
function prismaHotPath(db: Db): HotPathSql {
  return {
    // Awaited here: Prisma's promises are lazy, and a hot-path statement runs when it is called.
    query: async <Row>(statement: Prisma.Sql) => await db.$queryRaw<Row[]>(statement),
    execute: async (statement) => await db.$executeRaw(statement),
    transaction: async (statements) => await db.$transaction(statements.map((statement) => db.$queryRaw(statement))),
    close: async () => {},
  };
}
