import type { Db } from "../db/create-database.ts";
import { GENESIS_HASH, hashAuditEvent } from "./hash-audit-event.ts";

export interface VerifyAuditChainOptions {
  /** Rows read per query; memory stays at one batch however long the chain is. */
  batchSize?: number;
}

/** `length` counts the events that verified: all of them, or those before the first bad link. */
export type AuditChainVerdict =
  | { ok: true; length: number }
  | { ok: false; length: number; firstBadSeq: number; reason: string };

/**
 * Walks the chain in seq order and checks, for every event, that no seq is missing, that prevHash
 * is the previous event's hash (the genesis value for seq 1), and that the stored hash is the hash
 * of the stored fields. Stops at, and names, the first link that fails.
 */
export async function verifyAuditChain(db: Db, options: VerifyAuditChainOptions = {}): Promise<AuditChainVerdict> {
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError("batchSize must be a positive integer");
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  for (;;) {
    // Keyset pagination: each query starts after the last seq seen, so no OFFSET scans.
    const rows = await db.auditEvent.findMany({
      where: { seq: { gt: expectedSeq - 1 } },
      orderBy: { seq: "asc" },
      take: batchSize,
    });
    for (const row of rows) {
      const bad = (reason: string) => ({
        ok: false as const,
        length: expectedSeq - 1,
        firstBadSeq: expectedSeq,
        reason,
      });
      if (row.seq !== expectedSeq) {
        return bad(`seq ${expectedSeq} is missing: the next stored event is seq ${row.seq}`);
      }
      if (row.prevHash !== prevHash) {
        return bad(
          expectedSeq === 1
            ? "prevHash is not the genesis value"
            : `prevHash does not match the hash of seq ${expectedSeq - 1} (that event or this link was rewritten)`,
        );
      }
      if (hashAuditEvent(row) !== row.hash) {
        return bad("stored hash does not match the event's contents (the event was altered)");
      }
      prevHash = row.hash;
      expectedSeq++;
    }
    if (rows.length < batchSize) return { ok: true, length: expectedSeq - 1 };
  }
}
