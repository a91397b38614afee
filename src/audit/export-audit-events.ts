import type { Db } from "../db/create-database.ts";

export interface ExportAuditEventsOptions {
  workspaceId: string;
  /** Receives one JSON line at a time (with its trailing newline); awaited, so a slow sink is respected. */
  write: (line: string) => void | Promise<void>;
  batchSize?: number;
}

/**
 * Writes a workspace's audit events as JSON Lines in seq order, every column included, and returns
 * how many were written. `data` is written parsed; since it is stored as RFC 8785 canonical JSON,
 * canonicalising it again gives back exactly the text that was hashed.
 */
export async function exportAuditEvents(db: Db, options: ExportAuditEventsOptions): Promise<number> {
  const batchSize = options.batchSize ?? 1000;
  let afterSeq = 0;
  let count = 0;
  for (;;) {
    const rows = await db.auditEvent.findMany({
      where: { workspaceId: options.workspaceId, seq: { gt: afterSeq } },
      orderBy: { seq: "asc" },
      take: batchSize,
    });
    for (const row of rows) {
      const line = JSON.stringify({
        seq: row.seq,
        createdAt: row.createdAt.toISOString(),
        workspaceId: row.workspaceId,
        actorId: row.actorId,
        action: row.action,
        target: row.target,
        data: parseData(row.seq, row.data),
        deliveryId: row.deliveryId,
        prevHash: row.prevHash,
        hash: row.hash,
      });
      await options.write(`${line}\n`);
      afterSeq = row.seq;
      count++;
    }
    if (rows.length < batchSize) return count;
  }
}

function parseData(seq: number, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(
      `audit event seq ${seq} has data that is not JSON: the row was altered (run npm run audit:verify)`,
      {
        cause: error,
      },
    );
  }
}
