import { appendAuditEvent } from "../audit/append-audit-event.ts";
import type { Db } from "../db/create-database.ts";

export interface StoredIdentity {
  id: string;
  provider: string;
  accessToken: string | null;
  refreshToken: string | null;
  expiresAt: Date | null;
}

/** Revokes what the provider lets us revoke; never throws, so deletion always proceeds. */
export type RevokeIdentity = (identity: StoredIdentity) => Promise<"revoked" | "nothing_to_revoke" | "failed">;

export interface DeleteAccountOptions {
  userId: string;
  revoke: RevokeIdentity;
  now: () => Date;
}

export interface DeleteAccountResult {
  identities: number;
  revoked: number;
  revocationFailed: number;
}

/**
 * Erases a person: their stored tokens are revoked at the provider where possible, then the User row
 * is deleted, which cascades to identities (and their tokens), memberships and privacy requests,
 * while tasks and approvals keep a null person. Audit events name people by internal id only, so the
 * chain stays valid. The deletion is one statement (the cascades run inside it), so it happens whole
 * or not at all; its audit event is appended right after.
 */
export async function deleteAccount(db: Db, options: DeleteAccountOptions): Promise<DeleteAccountResult | undefined> {
  const identities = await db.identity.findMany({
    where: { userId: options.userId },
    select: { id: true, provider: true, accessToken: true, refreshToken: true, expiresAt: true },
  });
  const outcomes = await Promise.all(identities.map((identity) => options.revoke(identity)));
  const result: DeleteAccountResult = {
    identities: identities.length,
    revoked: outcomes.filter((outcome) => outcome === "revoked").length,
    revocationFailed: outcomes.filter((outcome) => outcome === "failed").length,
  };
  const deleted = await db.user.deleteMany({ where: { id: options.userId } });
  if (deleted.count === 0) return undefined;
  await appendAuditEvent(
    db,
    { actorId: options.userId, action: "account.deleted", target: `user:${options.userId}`, data: { ...result } },
    { now: options.now },
  );
  return result;
}
