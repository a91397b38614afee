import type { Db } from "../db/create-database.ts";

/** The first instant of `now`'s calendar month, UTC: budgets count from here. */
export function monthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/** The first instant of the next calendar month, UTC: when a budget starts again. */
export function nextMonthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

/**
 * Model tokens (input + output) of the plan versions made this calendar month (UTC), by
 * repository id. Versions of the offline planner record none and count nothing.
 */
export async function tokensUsedThisMonth(db: Db, repositoryIds: string[], now: Date): Promise<Map<string, number>> {
  const used = new Map<string, number>(repositoryIds.map((id) => [id, 0]));
  if (repositoryIds.length === 0) return used;
  const versions = await db.planVersion.findMany({
    where: {
      createdAt: { gte: monthStart(now), lt: nextMonthStart(now) },
      task: { repositoryId: { in: repositoryIds } },
      OR: [{ inputTokens: { not: null } }, { outputTokens: { not: null } }],
    },
    select: { inputTokens: true, outputTokens: true, task: { select: { repositoryId: true } } },
  });
  for (const version of versions) {
    const id = version.task.repositoryId;
    used.set(id, (used.get(id) ?? 0) + (version.inputTokens ?? 0) + (version.outputTokens ?? 0));
  }
  return used;
}

/** Each repository of a workspace whose plans used model tokens this calendar month (UTC), most first. */
export async function workspaceTokensThisMonth(
  db: Db,
  workspaceId: string,
  now: Date,
): Promise<{ fullName: string; used: number }[]> {
  const versions = await db.planVersion.findMany({
    where: {
      createdAt: { gte: monthStart(now), lt: nextMonthStart(now) },
      task: { workspaceId },
      OR: [{ inputTokens: { not: null } }, { outputTokens: { not: null } }],
    },
    select: { inputTokens: true, outputTokens: true, task: { select: { repository: { select: { fullName: true } } } } },
  });
  const used = new Map<string, number>();
  for (const version of versions) {
    const name = version.task.repository.fullName;
    used.set(name, (used.get(name) ?? 0) + (version.inputTokens ?? 0) + (version.outputTokens ?? 0));
  }
  return [...used]
    .map(([fullName, tokens]) => ({ fullName, used: tokens }))
    .sort((a, b) => b.used - a.used || (a.fullName < b.fullName ? -1 : 1));
}

export type BudgetCheck =
  | { over: false; used: number; limit: number | undefined }
  | { over: true; used: number; limit: number; resetsAt: Date };

/** Whether the repository has used its monthly budget; no limit means no budget. */
export async function checkTokenBudget(
  db: Db,
  input: { repositoryId: string; limit: number | undefined; now: Date },
): Promise<BudgetCheck> {
  if (input.limit === undefined) return { over: false, used: 0, limit: undefined };
  const used = (await tokensUsedThisMonth(db, [input.repositoryId], input.now)).get(input.repositoryId) ?? 0;
  if (used < input.limit) return { over: false, used, limit: input.limit };
  return { over: true, used, limit: input.limit, resetsAt: nextMonthStart(input.now) };
}
