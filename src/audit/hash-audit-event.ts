import { createHash } from "node:crypto";
import canonicalize from "canonicalize";

/** The `prevHash` of the first event: there is nothing before it to point at. */
export const GENESIS_HASH = "0".repeat(64);

/** Exactly the chained fields of an `AuditEvent` row, as stored. */
export interface AuditRecord {
  seq: number;
  createdAt: Date;
  workspaceId: string | null;
  actorId: string | null;
  action: string;
  target: string | null;
  /** The stored canonical JSON text, hashed as text so any byte changed in the column shows. */
  data: string;
  deliveryId: string | null;
  prevHash: string;
}

/**
 * SHA-256 (hex) over the RFC 8785 canonical JSON of the record. Absent optional fields are hashed as
 * null, never omitted, so "no target" and a missing key cannot be confused. Append and verify both
 * call this, so they cannot drift apart.
 */
export function hashAuditEvent(record: AuditRecord): string {
  const text = canonicalize({
    seq: record.seq,
    createdAt: record.createdAt.toISOString(),
    workspaceId: record.workspaceId,
    actorId: record.actorId,
    action: record.action,
    target: record.target,
    data: record.data,
    deliveryId: record.deliveryId,
    prevHash: record.prevHash,
  });
  // Only strings, numbers and nulls above: canonicalize returns undefined only for undefined input.
  return createHash("sha256").update(text!, "utf8").digest("hex");
}
