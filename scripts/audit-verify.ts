// npm run audit:verify — walks the whole audit chain of the database in DATABASE_URL.
// Exit 0: intact. Exit 1: broken (the first bad seq is named). Exit 2: could not check.
import { existsSync } from "node:fs";
import { verifyAuditChain } from "../src/audit/verify-audit-chain.ts";
import { createDatabase } from "../src/db/create-database.ts";
import { databaseTarget } from "../src/db/database-url.ts";

async function main(): Promise<number> {
  // Only DATABASE_URL matters here; the app's full env check would fail on unrelated variables.
  const url = process.env.DATABASE_URL;
  const target = databaseTarget(url);
  // Opening a missing SQLite file would create an empty one and fail with "no such table".
  if (target.provider === "sqlite" && target.file !== ":memory:" && !existsSync(target.file)) {
    throw new Error(`no database at ${target.file} (set DATABASE_URL)`);
  }
  const database = await createDatabase({ url, migrate: false });
  try {
    const verdict = await verifyAuditChain(database.db);
    if (verdict.ok) {
      console.log(`audit chain: ${verdict.length} events, ok`);
      return 0;
    }
    console.log(`audit chain: broken at seq ${verdict.firstBadSeq}: ${verdict.reason}`);
    return 1;
  } finally {
    await database.close();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`audit verify failed: ${(error as Error).message}`);
  process.exitCode = 2;
}
