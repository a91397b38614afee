import { refusal } from "../refusals/refusals.ts";
import type { CommandRunner } from "./command-context.ts";

/** `reject [reason]`: marks the current version rejected; a revise makes a new one. */
export const runReject: CommandRunner = async (context) => {
  const { db, task, settings, command } = context;
  const current = await db.planVersion.findFirst({ where: { taskId: task.id }, orderBy: { version: "desc" } });
  if (current?.status !== "awaiting_approval") {
    await context.refuse(
      current
        ? refusal("reject.not_awaiting", { version: current.version, status: current.status })
        : refusal("reject.no_plan"),
    );
    return;
  }
  await db.$transaction([
    db.planVersion.update({ where: { id: current.id }, data: { status: "rejected" } }),
    db.task.update({ where: { id: task.id }, data: { state: "rejected" } }),
  ]);
  // The reason is a person's words: kept in GitHub, not copied into the audit chain.
  await context.audit("plan.rejected", {
    version: current.version,
    contentHash: current.contentHash,
    withReason: command.args !== "",
  });
  await context.reply(
    `v${current.version} rejected. \`${settings.commands.prefix} revise <feedback>\` makes a new version.`,
  );
  await context.refresh();
};
