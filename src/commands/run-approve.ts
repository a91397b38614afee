import type { Plan } from "@amistio/contract/plan-schema";
import { createApprovalPolicy } from "../approvals/approval-policy.ts";
import { countingApprovals } from "../approvals/counting-approvals.ts";
import { isUniqueViolation } from "../db/is-unique-violation.ts";
import { planCommentMarker } from "../planning/render-plan-comment.ts";
import { checkShownPlan, type ShownPlanProblem } from "../planning/shown-plan.ts";
import { createRun, queueDispatch } from "../runs/start-run.ts";
import type { CommandRunner } from "./command-context.ts";

/**
 * `approve [vN]`: records the approver's approval of the current version, bound to its content
 * hash, and once the policy's quorum is met marks the version approved and queues its first run.
 */
export const runApprove: CommandRunner = async (context) => {
  const { db, task, settings, command, actor, octokit, owner, repo } = context;
  const prefix = settings.commands.prefix;
  const current = await db.planVersion.findFirst({ where: { taskId: task.id }, orderBy: { version: "desc" } });
  const deny = async (reason: string, code: string) => {
    // The context's logger names the delivery.
    context.log.info({ reason: code, version: current?.version ?? null }, "approval refused");
    context.metrics?.countApprovalRefused(code);
    await context.audit("approval.denied", { reason: code, version: current?.version ?? null });
    await context.reply(reason);
  };
  if (!current) return deny(`There is no plan to approve yet: \`${prefix} plan\` writes one.`, "no_plan");
  if (command.version !== undefined && command.version !== current.version) {
    const exists = await db.planVersion.count({ where: { taskId: task.id, version: command.version } });
    return deny(
      `${exists ? `v${command.version} is not the current plan` : `There is no v${command.version}`}; the current one is v${current.version}. To approve it: \`${prefix} approve v${current.version}\`.`,
      exists ? "stale_version" : "unknown_version",
    );
  }
  if (current.status === "rejected") {
    return deny(`v${current.version} was rejected. \`${prefix} revise <feedback>\` makes a new version.`, "rejected");
  }
  if (current.status === "approved") {
    // A retried delivery may have stopped between approving and queueing: the key makes this a no-op otherwise.
    await dispatchQueuedRun(context, current.id);
    // The retry of the approval that completed the quorum is not told its own approval came too late.
    const own = await db.approval.count({ where: { planVersionId: current.id, deliveryId: context.deliveryId } });
    if (own > 0) return context.refresh();
    return context.reply(`v${current.version} is already approved.`);
  }

  const shown = await checkShownPlan(octokit, {
    owner,
    repo,
    commentId: current.commentId,
    postedBodyHash: current.postedBodyHash,
    marker: planCommentMarker(task.id, current.version),
  });
  if (shown) return deny(notShown(shown, current.version, prefix), shown);

  const plan = current.content as unknown as Plan;
  const policy = createApprovalPolicy({
    octokit,
    owner,
    repo,
    settings: settings.approvals,
    requesterGithubIds: [task.requesterGithubId, current.createdByGithubId],
    files: [...new Set(plan.steps.flatMap((step) => step.files))],
  });
  const decision = await policy.mayApprove(actor);
  if (!decision.allowed) return deny(decision.reason, "policy");

  try {
    await db.approval.create({
      data: {
        planVersionId: current.id,
        approverId: actor.userId,
        approverGithubId: actor.githubId,
        contentHash: current.contentHash,
        permission: actor.permission,
        deliveryId: context.deliveryId,
      },
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // One GitHub account counts once per version, even from a web account made anew after deletion.
    const mine = await db.approval.findFirst({
      where: { planVersionId: current.id, approverGithubId: actor.githubId },
    });
    // The same delivery retried: its approval is in; go on to the quorum check.
    if (mine?.deliveryId !== context.deliveryId) return context.reply(`You already approved v${current.version}.`);
  }
  await context.audit("approval.granted", { version: current.version, contentHash: current.contentHash });

  const approvals = await countingApprovals(db, current);
  const quorum = await policy.quorum(approvals.map((approval) => approval.login ?? ""));
  if (quorum.met) {
    // Only the approval that flips the version starts a run, however many arrive at once.
    const run = await db.$transaction(async (tx) => {
      const { count } = await tx.planVersion.updateMany({
        where: { id: current.id, status: "awaiting_approval", contentHash: current.contentHash },
        data: { status: "approved" },
      });
      if (count !== 1) return null;
      return createRun(tx, {
        taskId: task.id,
        planVersionId: current.id,
        contentHash: current.contentHash,
        requestedById: actor.userId,
      });
    });
    if (run) {
      await context.audit("plan.approved", {
        version: current.version,
        contentHash: current.contentHash,
        runId: run.id,
      });
      await dispatchQueuedRun(context, current.id);
    }
  }
  await context.refresh();
};

/** Why a version that is not shown as Amistio posted it cannot be approved, and what to do. */
function notShown(problem: ShownPlanProblem, version: number, prefix: string): string {
  const again = `\`${prefix} plan\` writes and posts a new version.`;
  switch (problem) {
    case "not_posted":
      return `v${version} has not been posted on this issue (GitHub did not accept the comment), so there is nothing shown to approve. Amistio keeps trying while the job has tries left; if it gave up, ${again}`;
    case "comment_deleted":
      return `The comment showing v${version} was deleted, so what would be approved is no longer shown. ${again}`;
    case "comment_changed":
      return `The comment showing v${version} was edited after Amistio posted it, so what is shown is not what would run. ${again}`;
  }
}

async function dispatchQueuedRun(context: Parameters<CommandRunner>[0], planVersionId: string): Promise<void> {
  const run = await context.db.run.findFirst({
    where: { planVersionId, status: "queued" },
    orderBy: { createdAt: "desc" },
  });
  if (run) await queueDispatch(context.queue, run.id);
}
