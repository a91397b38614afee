import type { Plan } from "@amistio/contract/plan-schema";
import { createApprovalPolicy } from "../approvals/approval-policy.ts";
import { countingApprovals } from "../approvals/counting-approvals.ts";
import { isUniqueViolation } from "../db/is-unique-violation.ts";
import { planCommentMarker } from "../planning/render-plan-comment.ts";
import { checkShownPlan } from "../planning/shown-plan.ts";
import { type Refusal, refusal } from "../refusals/refusals.ts";
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
  // `reason` is what the audit trail and the refusal metric have always recorded.
  const deny = async (refused: Refusal, reason: string) => {
    // The context's logger names the delivery.
    context.log.info({ reason, code: refused.code, version: current?.version ?? null }, "approval refused");
    context.metrics?.countApprovalRefused(reason);
    await context.audit("approval.denied", { reason, version: current?.version ?? null });
    await context.refuse(refused);
  };
  if (!current) return deny(refusal("approval.no_plan", { prefix }), "no_plan");
  if (command.version !== undefined && command.version !== current.version) {
    const exists = await db.planVersion.count({ where: { taskId: task.id, version: command.version } });
    const named = { named: command.version, current: current.version, prefix };
    return exists
      ? deny(refusal("approval.stale_version", named), "stale_version")
      : deny(refusal("approval.unknown_version", named), "unknown_version");
  }
  if (current.status === "rejected") {
    return deny(refusal("approval.rejected", { version: current.version, prefix }), "rejected");
  }
  if (current.status === "approved") {
    // A retried delivery may have stopped between approving and queueing: the key makes this a no-op otherwise.
    await dispatchQueuedRun(context, current.id);
    // The retry of the approval that completed the quorum is not told its own approval came too late.
    const own = await db.approval.count({ where: { planVersionId: current.id, deliveryId: context.deliveryId } });
    if (own > 0) return context.refresh();
    return context.refuse(refusal("approval.already_approved", { version: current.version }));
  }

  const shown = await checkShownPlan(octokit, {
    owner,
    repo,
    commentId: current.commentId,
    postedBodyHash: current.postedBodyHash,
    marker: planCommentMarker(task.id, current.version),
  });
  if (shown) return deny(refusal(`approval.${shown}`, { version: current.version, prefix }), shown);

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
  if (!decision.allowed) return deny(decision.refusal, "policy");

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
    if (mine?.deliveryId !== context.deliveryId) {
      return context.refuse(refusal("approval.already_counted", { version: current.version }));
    }
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

async function dispatchQueuedRun(context: Parameters<CommandRunner>[0], planVersionId: string): Promise<void> {
  const run = await context.db.run.findFirst({
    where: { planVersionId, status: "queued" },
    orderBy: { createdAt: "desc" },
  });
  if (run) await queueDispatch(context.queue, run.id);
}
