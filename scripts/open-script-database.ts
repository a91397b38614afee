// What the operator scripts share: a usage error that prints the script's usage, and the database in
// DATABASE_URL opened without migrating (only that variable matters here; the app's full env check
// would fail on unrelated variables).
import { existsSync } from "node:fs";
import { createDatabase, type Database } from "../src/db/create-database.ts";
import { databaseTarget } from "../src/db/database-url.ts";

/** Bad arguments or settings: the script prints its usage and exits 2. */
export class UsageError extends Error {}

export async function openScriptDatabase(): Promise<Database> {
  const url = process.env.DATABASE_URL;
  let target: ReturnType<typeof databaseTarget>;
  try {
    target = databaseTarget(url);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  // Opening a missing SQLite file would create an empty one and fail with "no such table".
  if (target.provider === "sqlite" && target.file !== ":memory:" && !existsSync(target.file)) {
    throw new UsageError(`no database at ${target.file} (set DATABASE_URL)`);
  }
  return createDatabase({ url, migrate: false });
}
