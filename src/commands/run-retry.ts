import { approvalProblem } from "../runs/approval-problem.ts";
import { ACTIVE_STATUSES } from "../runs/run-status.ts";
import { createRun, queueDispatch } from "../runs/start-run.ts";
import type { CommandRunner } from "./command-context.ts";

/** `retry`: a new run of the approved version, while its approvals and hash still hold. */
export const runRetry: CommandRunner = async (context) => {
  const { db, task, settings, actor, queue } = context;
  const prefix = settings.commands.prefix;
  const version = await db.planVersion.findFirst({ where: { taskId: task.id }, orderBy: { version: "desc" } });
  if (version?.status !== "approved") {
    await context.audit("run.retry_denied", { reason: "not_approved", version: version?.version ?? null });
    return context.reply(
      version
        ? `v${version.version} is ${version.status.replaceAll("_", " ")}, not approved: only an approved plan runs. \`${prefix} approve\` it first.`
        : `There is no plan yet: \`${prefix} plan\` writes one.`,
    );
  }
  const problem = await approvalProblem(db, version, settings.approvals.required);
  if (problem) {
    await context.audit("run.retry_denied", { reason: "approval_lapsed", version: version.version });
    return context.reply(`Not started: ${problem} Approve the current version again to run it.`);
  }
  const active = await db.run.findFirst({
    where: { taskId: task.id, status: { in: [...ACTIVE_STATUSES] } },
    orderBy: { createdAt: "desc" },
  });
  if (active) {
    // This delivery's earlier try made it and stopped before it was done: finish that instead.
    if (context.job.attempt > 1 && active.requestedById === actor.userId) {
      if (active.status === "queued") await queueDispatch(queue, active.id);
      return context.reply(startedText(version));
    }
    return context.reply(
      `A run of v${version.version} is still ${active.status.replaceAll("_", " ")}. \`${prefix} cancel\` it first to start another.`,
    );
  }
  const previous = await db.run.findFirst({
    where: { taskId: task.id },
    orderBy: { createdAt: "desc" },
    select: { id: true },
  });
  const run = await db.$transaction((tx) =>
    createRun(tx, {
      taskId: task.id,
      planVersionId: version.id,
      contentHash: version.contentHash,
      requestedById: actor.userId,
    }),
  );
  await context.audit("run.requested", { runId: run.id, version: version.version, retryOf: previous?.id ?? null });
  await queueDispatch(queue, run.id);
  await context.reply(startedText(version));
  await context.refresh();
};

function startedText(version: { version: number; contentHash: string }): string {
  return `Starting a new run of v${version.version} (\`${version.contentHash.slice(0, 12)}\`).`;
}
