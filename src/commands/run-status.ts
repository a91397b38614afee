import { countingApprovals } from "../approvals/counting-approvals.ts";
import type { CommandRunner } from "./command-context.ts";

/** `status`: a short summary of the task, as a reply. */
export const runStatus: CommandRunner = async (context) => {
  const { db, task, settings } = context;
  const current = await db.planVersion.findFirst({ where: { taskId: task.id }, orderBy: { version: "desc" } });
  const run = await db.run.findFirst({ where: { taskId: task.id }, orderBy: { createdAt: "desc" } });
  const { state } = await db.task.findUniqueOrThrow({ where: { id: task.id }, select: { state: true } });
  const lines = [`**Amistio status:** ${state.replaceAll("_", " ")}`];
  if (current) {
    const approvals = await countingApprovals(db, current);
    lines.push(
      `- Plan v${current.version} (\`${current.contentHash.slice(0, 12)}\`): ${current.status.replaceAll("_", " ")}, ${approvals.length}/${settings.approvals.required} approvals`,
    );
  } else {
    lines.push(`- No plan yet: \`${settings.commands.prefix} plan\` writes one.`);
  }
  if (run) lines.push(`- Latest run: ${run.status.replaceAll("_", " ")}${run.htmlUrl ? ` — ${run.htmlUrl}` : ""}`);
  await context.reply(lines.join("\n"));
};
