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
 * Erases a person: their stored tokens are revoked at the provider where possible, then, in one
 * transaction, every row that still names them is cut loose and the User row is deleted. Deleting it
 * cascades to identities (and their tokens), memberships, web sessions and privacy requests.
 *
 * What keeps the audit chain valid yet unlinkable: events name people by `auditPseudonym`, a random
 * value held only on the User row, so deleting the row destroys the only map from events to the person
 * (crypto-shredding without the crypto: the "key" is the row). Internal ids are nulled wherever they
 * were kept (tasks, plan versions, approvals, runs). GitHub account ids stay only on work still
 * awaiting approval, where the approval rules need them (the requester cannot approve their own
 * plan; one account counts once); `forgetDeletedPeople` clears them once that work is decided.
 */
export async function deleteAccount(db: Db, options: DeleteAccountOptions): Promise<DeleteAccountResult | undefined> {
  const person = await db.user.findUnique({ where: { id: options.userId }, select: { auditPseudonym: true } });
  if (!person) return undefined;
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
  const userId = options.userId;
  const deleted = await db.$transaction(async (tx) => {
    // GitHub ids first, while the internal id still says whose rows these are.
    await tx.approval.updateMany({
      where: { approverId: userId, planVersion: { status: { not: "awaiting_approval" } } },
      data: { approverGithubId: null },
    });
    await tx.planVersion.updateMany({
      where: { createdById: userId, status: { not: "awaiting_approval" } },
      data: { createdByGithubId: null },
    });
    await tx.task.updateMany({
      where: { requesterId: userId, state: { in: [...DECIDED_TASK_STATES] } },
      data: { requesterGithubId: null },
    });
    await tx.planVersion.updateMany({ where: { createdById: userId }, data: { createdById: null } });
    await tx.run.updateMany({ where: { requestedById: userId }, data: { requestedById: null } });
    return tx.user.deleteMany({ where: { id: userId } });
  });
  if (deleted.count === 0) return undefined;
  // Named by the pseudonym that was just destroyed: the event says an account was deleted, not whose.
  await appendAuditEvent(
    db,
    { actorPseudonym: person.auditPseudonym, action: "account.deleted", data: { ...result } },
    { now: options.now },
  );
  return result;
}

/** Task states after which nobody approves anything more on the task. */
const DECIDED_TASK_STATES = ["done", "rejected", "cancelled"] as const;

/**
 * Clears the GitHub account ids that deletion had to keep on work awaiting approval, once that work
 * is decided: rows with no person attached any more (their internal id was nulled by deletion).
 * Returns how many rows it cleared.
 */
export async function forgetDeletedPeople(db: Db): Promise<number> {
  const approvals = await db.approval.updateMany({
    where: {
      approverId: null,
      approverGithubId: { not: null },
      planVersion: { status: { not: "awaiting_approval" } },
    },
    data: { approverGithubId: null },
  });
  const versions = await db.planVersion.updateMany({
    where: { createdById: null, createdByGithubId: { not: null }, status: { not: "awaiting_approval" } },
    data: { createdByGithubId: null },
  });
  const tasks = await db.task.updateMany({
    where: { requesterId: null, requesterGithubId: { not: null }, state: { in: [...DECIDED_TASK_STATES] } },
    data: { requesterGithubId: null },
  });
  return approvals.count + versions.count + tasks.count;
}
