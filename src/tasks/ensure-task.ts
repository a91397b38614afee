import type { Db } from "../db/create-database.ts";
import { isUniqueViolation } from "../db/is-unique-violation.ts";

export interface TaskSource {
  installation: { id: number };
  repository: {
    id: number;
    name: string;
    full_name: string;
    private: boolean;
    default_branch?: string;
    owner: { id: number; login: string; type?: string };
  };
  number: number;
  title: string;
  isPullRequest: boolean;
}

export interface EnsuredTask {
  id: string;
  workspaceId: string;
  repositoryId: string;
  number: number;
  isPullRequest: boolean;
  state: string;
  requesterId: string | null;
  requesterGithubId: bigint | null;
  trackingCommentId: bigint | null;
}

/**
 * The task for an issue or pull request, with its workspace and repository, made on first use.
 * A workspace unknown so far (installed while Amistio was down) is created from the payload.
 * Prisma's upsert is a read then a write: two workers making the same row at once can both read
 * nothing, and one insert then fails on the unique key. That row exists by then, so another pass
 * finds it, instead of the failure using up one of the delivery's tries.
 */
export async function ensureTask(db: Db, source: TaskSource, requesterId: string | null): Promise<EnsuredTask> {
  // Three rows, so at most three lost races: each pass finds one more of them made.
  for (let pass = 1; ; pass++) {
    try {
      return await upsertTask(db, source, requesterId);
    } catch (error) {
      if (!isUniqueViolation(error) || pass >= 3) throw error;
    }
  }
}

async function upsertTask(db: Db, source: TaskSource, requesterId: string | null): Promise<EnsuredTask> {
  const { installation, repository } = source;
  const workspace = await db.workspace.upsert({
    where: { installationId: BigInt(installation.id) },
    create: {
      installationId: BigInt(installation.id),
      accountLogin: repository.owner.login,
      accountType: repository.owner.type ?? "Organization",
      accountId: BigInt(repository.owner.id),
    },
    update: {},
    select: { id: true },
  });
  const fields = {
    workspaceId: workspace.id,
    fullName: repository.full_name,
    private: repository.private,
    defaultBranch: repository.default_branch ?? null,
    removedAt: null,
  };
  const stored = await db.repository.upsert({
    where: { githubId: BigInt(repository.id) },
    create: { githubId: BigInt(repository.id), ...fields },
    update: fields,
    select: { id: true },
  });
  return db.task.upsert({
    where: { repositoryId_number: { repositoryId: stored.id, number: source.number } },
    create: {
      workspaceId: workspace.id,
      repositoryId: stored.id,
      number: source.number,
      isPullRequest: source.isPullRequest,
      title: source.title.slice(0, 1000),
      requesterId,
    },
    update: { title: source.title.slice(0, 1000) },
    select: {
      id: true,
      workspaceId: true,
      repositoryId: true,
      number: true,
      isPullRequest: true,
      state: true,
      requesterId: true,
      requesterGithubId: true,
      trackingCommentId: true,
    },
  });
}
