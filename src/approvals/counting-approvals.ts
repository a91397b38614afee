import type { Db } from "../db/create-database.ts";

/**
 * The approvals that count for a plan version: those bound to its current content hash. An
 * approval of other content (an earlier version, or content changed since) never counts.
 */
export async function countingApprovals(
  db: Db,
  plan: { id: string; contentHash: string },
): Promise<{ approverId: string | null; login: string | null }[]> {
  const approvals = await db.approval.findMany({
    where: { planVersionId: plan.id, contentHash: plan.contentHash },
    orderBy: { createdAt: "asc" },
    select: { approverId: true, approver: { select: { login: true } } },
  });
  return approvals.map((approval) => ({ approverId: approval.approverId, login: approval.approver?.login ?? null }));
}
