import type { Logger } from "pino";
import type { Probot } from "probot";
import { z } from "zod";
import type { Db } from "../db/create-database.ts";
import { onEvent } from "../github/on-event.ts";
import { type JobHandler, type JobQueue, PermanentJobError } from "../queue/job-queue.ts";
import { enqueueJob } from "../queue/jobs.ts";
import { repositorySnapshot } from "./repository-index.ts";

/** Builds or updates one repository's index ahead of the first plan that needs it. */
export const INDEX_REPOSITORY_JOB = "repository.index";

// An installation that brings more repositories than this at once gets its indexes built by the
// first plan in each instead: many archive downloads at once is not "cheap".
export const MAX_REPOSITORIES_INDEXED_AHEAD = 20;
// Pushes in quick succession: the job runs once, after the last of this window, and indexes the
// head it finds then.
const PUSH_DEBOUNCE_MS = 60_000;

const jobData = z.object({
  installationId: z.number().int().positive(),
  repositoryId: z.string().min(1),
  fullName: z.string().regex(/^[^/\s]+\/[^/\s]+$/),
});

/** Queues the indexing of repositories Amistio stores (by GitHub id), once per `reason`. */
export async function queueIndexing(
  db: Db,
  queue: JobQueue,
  input: { installationId: number; githubIds: number[]; reason: string; delayMs?: number },
): Promise<number> {
  if (input.githubIds.length === 0 || input.githubIds.length > MAX_REPOSITORIES_INDEXED_AHEAD) return 0;
  const repositories = await db.repository.findMany({
    where: { githubId: { in: input.githubIds.map((id) => BigInt(id)) }, removedAt: null },
    select: { id: true, fullName: true },
  });
  for (const repository of repositories) {
    await enqueueJob(
      queue,
      "repository.index",
      { installationId: input.installationId, repositoryId: repository.id, fullName: repository.fullName },
      {
        key: `index:${repository.id}:${input.reason}`,
        ...(input.delayMs ? { delayMs: input.delayMs } : {}),
      },
    );
  }
  return repositories.length;
}

/**
 * The job: the index at the default branch's head, as a plan would build it. A repository that
 * cannot be indexed is logged, not retried: the next plan says why and plans without.
 */
export function indexRepositoryJob(options: { db: Db; probot: Probot; logger: Logger }): JobHandler {
  return async (data) => {
    const parsed = jobData.safeParse(data);
    if (!parsed.success) throw new PermanentJobError(`invalid ${INDEX_REPOSITORY_JOB} input: ${parsed.error.message}`);
    const { installationId, repositoryId, fullName } = parsed.data;
    const repository = await options.db.repository.findUnique({ where: { id: repositoryId } });
    if (!repository || repository.removedAt) return;
    const [owner, repo] = fullName.split("/") as [string, string];
    const octokit = await options.probot.auth(installationId);
    const log = options.logger.child({ job: INDEX_REPOSITORY_JOB, repositoryId });
    const outcome = await repositorySnapshot({ db: options.db, octokit, log, owner, repo, repositoryId });
    log.info({ how: outcome.how, note: outcome.note?.why }, "repository indexed ahead of need");
  };
}

/**
 * A push to the default branch of a repository that already has an index brings it up to date
 * (from the tree, by blob SHA) before the next plan asks. Repositories with no index yet are left
 * to their first plan.
 */
export function indexOnPush(app: Probot, options: { db: Db; queue: JobQueue }): void {
  onEvent(app, "push", async (context) => {
    const { payload } = context;
    const branch = payload.repository.default_branch ?? payload.repository.master_branch;
    if (!payload.installation || payload.deleted || payload.ref !== `refs/heads/${branch}`) return;
    const indexed = await options.db.repositoryIndex.findFirst({
      where: { repository: { githubId: BigInt(payload.repository.id), removedAt: null } },
      select: { id: true },
    });
    if (!indexed) return;
    await queueIndexing(options.db, options.queue, {
      installationId: payload.installation.id,
      githubIds: [payload.repository.id],
      // One job per minute of pushes; it indexes whatever the head is when it runs.
      reason: `push:${Math.floor(Date.now() / PUSH_DEBOUNCE_MS)}`,
      delayMs: PUSH_DEBOUNCE_MS,
    });
  });
}
