import { refusal } from "../refusals/refusals.ts";
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
    return context.refuse(
      version
        ? refusal("retry.not_approved", { version: version.version, status: version.status, prefix })
        : refusal("retry.no_plan", { prefix }),
    );
  }
  const problem = await approvalProblem(db, version, { required: settings.approvals.required, prefix });
  if (problem) {
    await context.audit("run.retry_denied", { reason: "approval_lapsed", version: version.version });
    return context.refuse(problem);
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
    return context.refuse(refusal("retry.still_running", { version: version.version, status: active.status, prefix }));
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
