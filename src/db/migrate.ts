import { createHash, randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import pg from "pg";
import type { DatabaseTarget } from "./database-url.ts";

/**
 * Applies prisma/migrations (or prisma/postgres/migrations) at start, recording them in Prisma's own
 * `_prisma_migrations` table so `prisma migrate status` agrees. Done in-process because Prisma's JS
 * schema engine cannot yet migrate PostgreSQL through its adapter (prisma/orm#27403), and because a
 * fresh clone must start with one command.
 */
export async function migrate(target: DatabaseTarget, root = process.cwd()): Promise<string[]> {
  const folder = join(root, target.provider === "postgresql" ? "prisma/postgres/migrations" : "prisma/migrations");
  const migrations = readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(folder, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
  const runner = target.provider === "postgresql" ? await postgresRunner(target.url) : sqliteRunner(target.file);
  try {
    // Every step, creating the bookkeeping table included, runs under the lock: processes starting
    // together on an empty database otherwise race on that CREATE TABLE and one of them crashes.
    await runner.lock();
    await runner.exec(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP, "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const applied = new Map(
      (
        await runner.rows(
          `SELECT "migration_name", "checksum" FROM "_prisma_migrations" WHERE "rolled_back_at" IS NULL AND "finished_at" IS NOT NULL`,
        )
      ).map((row) => [String(row.migration_name), String(row.checksum)]),
    );
    const done: string[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.name);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new Error(`migration ${migration.name} was changed after it was applied; add a new migration instead`);
        }
        continue;
      }
      const appliedHere = await runner.transaction(migration.sql, {
        id: randomUUID(),
        checksum: migration.checksum,
        name: migration.name,
      });
      if (appliedHere) done.push(migration.name);
    }
    return done;
  } finally {
    await runner.close();
  }
}

type MigrationRecord = { id: string; checksum: string; name: string };

interface Runner {
  /** One migrator at a time; held until `close`. */
  lock(): Promise<void>;
  exec(sql: string): Promise<void>;
  rows(sql: string): Promise<Record<string, unknown>[]>;
  /** Applies and records the migration unless another migrator recorded it first; true when applied here. */
  transaction(sql: string, record: MigrationRecord): Promise<boolean>;
  close(): Promise<void>;
}

const seenSql = (placeholder: string) =>
  `SELECT 1 FROM "_prisma_migrations" WHERE "migration_name" = ${placeholder} AND "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL`;

const recordSql = (placeholder: (n: number) => string) =>
  `INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "started_at", "finished_at", "applied_steps_count")
   VALUES (${placeholder(1)}, ${placeholder(2)}, ${placeholder(3)}, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)`;

function sqliteRunner(file: string): Runner {
  // Waits for another process's migration (a write lock) instead of failing at once.
  const db = new Sqlite(file, { timeout: 30_000 });
  db.pragma("journal_mode = WAL");
  return {
    // SQLite locks the whole file for a write: each migration below is an IMMEDIATE transaction (write
    // lock first) that checks again whether another process applied it while this one waited.
    lock: async () => {},
    exec: async (sql) => void db.exec(sql),
    rows: async (sql) => db.prepare(sql).all() as Record<string, unknown>[],
    transaction: async (sql, record) =>
      db
        .transaction(() => {
          if (db.prepare(seenSql("?")).get(record.name)) return false;
          db.exec(sql);
          db.prepare(recordSql(() => "?")).run(record.id, record.checksum, record.name);
          return true;
        })
        .immediate(),
    close: async () => void db.close(),
  };
}

async function postgresRunner(url: string): Promise<Runner> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    // A session-level lock, taken before anything else and released when the connection ends (also
    // when this process dies): the other processes starting together wait here, then find the
    // migrations applied.
    lock: async () => void (await client.query("SELECT pg_advisory_lock(7357001)")),
    exec: async (sql) => void (await client.query(sql)),
    rows: async (sql) => (await client.query(sql)).rows,
    transaction: async (sql, record) => {
      await client.query("BEGIN");
      try {
        // Under the lock nobody else migrates; checked again all the same, it costs one query.
        const seen = await client.query(seenSql("$1"), [record.name]);
        if (seen.rowCount === 0) {
          await client.query(sql);
          await client.query(
            recordSql((n) => `$${n}`),
            [record.id, record.checksum, record.name],
          );
        }
        await client.query("COMMIT");
        return seen.rowCount === 0;
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      }
    },
    close: () => client.end(),
  };
}
