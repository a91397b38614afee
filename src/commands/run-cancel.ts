import { atLeast } from "../approvals/repository-permission.ts";
import { refusal } from "../refusals/refusals.ts";
import { loadRunRecord } from "../runs/run-record.ts";
import { ACTIVE_STATUSES } from "../runs/run-status.ts";
import { syncRunCheck } from "../runs/sync-run-check.ts";
import type { CommandRunner } from "./command-context.ts";

/**
 * `cancel`: the requester or a writer stops queued or running work. A run not yet dispatched is
 * cancelled in the database (the dispatch job then never sends it, and one caught mid-dispatch has
 * its new workflow run cancelled); a dispatched one has its workflow run cancelled on GitHub.
 */
export const runCancel: CommandRunner = async (context) => {
  const { db, task, actor, octokit, owner, repo, settings } = context;
  const run = await db.run.findFirst({
    where: { taskId: task.id, status: { in: [...ACTIVE_STATUSES] } },
    orderBy: { createdAt: "desc" },
  });
  const isRequester = actor.githubId === task.requesterGithubId || (run !== null && actor.userId === run.requestedById);
  if (!atLeast(actor.permission, "write") && !isRequester) {
    await context.audit("run.cancel_denied", { reason: "permission", permission: actor.permission });
    return context.refuse(refusal("cancel.not_allowed", { login: actor.login, permission: actor.permission }));
  }
  if (!run) return context.refuse(refusal("cancel.nothing_running"));
  const cancelled = { status: "cancelled", completedAt: new Date(), error: `cancelled by @${actor.login}` };

  if (run.workflowRunId === null) {
    const { count } = await db.run.updateMany({
      where: { id: run.id, status: { in: ["queued", "dispatching"] }, workflowRunId: null },
      data: cancelled,
    });
    if (count === 1) return finish(context, run.id, "the run had not started on a runner yet");
  }
  const fresh = await db.run.findUniqueOrThrow({ where: { id: run.id } });
  if (fresh.workflowRunId === null) {
    // It was dispatched a moment ago without a run id (Enterprise Server): the workflow run gets
    // cancelled as soon as its first event names it, since the Amistio run has ended.
    await db.run.updateMany({ where: { id: run.id, status: { in: [...ACTIVE_STATUSES] } }, data: cancelled });
    return finish(context, run.id, "its workflow run will be cancelled as soon as GitHub reports it");
  }
  try {
    await octokit.request("POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel", {
      owner,
      repo,
      run_id: Number(fresh.workflowRunId),
    });
  } catch (error) {
    const status = (error as { status?: number }).status;
    const message =
      (error as { response?: { data?: { message?: string } } }).response?.data?.message ?? (error as Error).message;
    if (status === 409) {
      await context.audit("run.cancel_failed", { runId: run.id, status });
      return context.refuse(refusal("cancel.github_conflict", { htmlUrl: fresh.htmlUrl, message }));
    }
    if (status === 403 || status === 404) {
      await context.audit("run.cancel_failed", { runId: run.id, status });
      return context.refuse(refusal("cancel.github_forbidden", { status }));
    }
    throw error;
  }
  await db.run.updateMany({ where: { id: run.id, status: { in: [...ACTIVE_STATUSES] } }, data: cancelled });
  await finish(context, run.id, "its workflow run is being cancelled on GitHub");

  async function finish(ctx: typeof context, runId: string, how: string): Promise<void> {
    await ctx.db.task.update({ where: { id: ctx.task.id }, data: { state: "cancelled" } });
    await ctx.audit("run.cancelled", { runId, how });
    await ctx.reply(`Cancelled: ${how}. \`${settings.commands.prefix} retry\` starts a new run of the approved plan.`);
    await ctx.refresh();
    const record = await loadRunRecord(ctx.db, runId);
    if (record) await syncRunCheck(ctx.db, ctx.octokit, record, ctx.log);
  }
};
