// npm run audit:verify — walks the whole audit chain of the database in DATABASE_URL.
// Exit 0: intact. Exit 1: broken (the first bad seq is named). Exit 2: could not check.
import { verifyAuditChain } from "../src/audit/verify-audit-chain.ts";
import { openScriptDatabase } from "./open-script-database.ts";

async function main(): Promise<number> {
  const database = await openScriptDatabase();
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
