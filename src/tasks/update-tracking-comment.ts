import type { Context } from "probot";
import { countingApprovals } from "../approvals/counting-approvals.ts";
import type { Db } from "../db/create-database.ts";
import type { Refusal } from "../refusals/refusals.ts";
import { renderTrackingComment, type TrackingView } from "./render-tracking-comment.ts";

type Octokit = Context["octokit"];

export interface UpdateTrackingCommentOptions {
  db: Db;
  octokit: Octokit;
  owner: string;
  repo: string;
  taskId: string;
  requiredApprovals: number;
  problem?: Refusal | null;
  /** When the job that updates it last waited out a rate limit (`JobTry.waits.lastUntil`): shown as a delay. */
  delayedUntil?: Date | null;
}

/**
 * Creates the task's tracking comment once, then edits it in place. Two jobs racing to create it
 * both post, but only one id is kept (a conditional update) and the other comment is removed.
 */
export async function updateTrackingComment(options: UpdateTrackingCommentOptions): Promise<void> {
  const { db, octokit, owner, repo, taskId } = options;
  const task = await db.task.findUniqueOrThrow({
    where: { id: taskId },
    include: {
      requester: { select: { login: true } },
      planVersions: { orderBy: { version: "desc" }, take: 1 },
      runs: { orderBy: { createdAt: "desc" }, take: 1 },
    },
  });
  const plan = task.planVersions[0] ?? null;
  const approvals = plan ? await countingApprovals(db, plan) : [];
  const run = task.runs[0] ?? null;
  const view: TrackingView = {
    taskId,
    state: task.state,
    requester: task.requester?.login ?? null,
    plan: plan
      ? {
          version: plan.version,
          shortHash: plan.contentHash.slice(0, 12),
          status: plan.status,
          source: plan.source,
          posted: plan.commentId !== null,
        }
      : null,
    approvals: {
      have: approvals.length,
      need: options.requiredApprovals,
      by: approvals.map((approval) => approval.login).filter((login): login is string => login !== null),
    },
    run: run
      ? {
          status: run.status,
          conclusion: run.conclusion,
          htmlUrl: run.htmlUrl,
          runnerName: run.runnerName,
          pullRequestUrl: run.pullRequestUrl,
          error: run.error,
        }
      : null,
    problem: options.problem ?? null,
    delayedUntil: options.delayedUntil ?? null,
  };
  const body = renderTrackingComment(view);
  if (task.trackingCommentId !== null) {
    try {
      await octokit.rest.issues.updateComment({ owner, repo, comment_id: Number(task.trackingCommentId), body });
      return;
    } catch (error) {
      // Someone deleted the comment: post a new one below.
      if ((error as { status?: number }).status !== 404) throw error;
      await db.task.update({ where: { id: taskId }, data: { trackingCommentId: null } });
    }
  }
  const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: task.number, body });
  const { count } = await db.task.updateMany({
    where: { id: taskId, trackingCommentId: null },
    data: { trackingCommentId: BigInt(data.id) },
  });
  if (count === 0) {
    await octokit.rest.issues.deleteComment({ owner, repo, comment_id: data.id });
    const kept = await db.task.findUniqueOrThrow({ where: { id: taskId }, select: { trackingCommentId: true } });
    await octokit.rest.issues.updateComment({ owner, repo, comment_id: Number(kept.trackingCommentId), body });
  }
}
