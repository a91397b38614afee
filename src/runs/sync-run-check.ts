import type { Logger } from "pino";
import type { Db } from "../db/create-database.ts";
import { retryLaterIn } from "../queue/retry-later.ts";
import { type RunRecord, repoOf } from "./run-record.ts";
import type { Octokit } from "./run-services.ts";
import { isTerminal } from "./run-status.ts";

export const CHECK_NAME = "Amistio";

/**
 * On pull-request tasks, the check run "Amistio" on the pull request's head commit shows the run's
 * status. A missing Checks permission costs the check, never the run: it is logged and skipped.
 */
export async function syncRunCheck(db: Db, octokit: Octokit, record: RunRecord, log: Logger): Promise<void> {
  if (!record.task.isPullRequest) return;
  const { owner, repo } = repoOf(record);
  const fields = checkFields(record);
  try {
    if (record.checkRunId !== null) {
      await octokit.rest.checks.update({ owner, repo, check_run_id: Number(record.checkRunId), ...fields });
      return;
    }
    const { data: pull } = await octokit.rest.pulls.get({ owner, repo, pull_number: record.task.number });
    const { data: check } = await octokit.rest.checks.create({ owner, repo, head_sha: pull.head.sha, ...fields });
    await db.run.updateMany({ where: { id: record.id, checkRunId: null }, data: { checkRunId: BigInt(check.id) } });
  } catch (error) {
    const status = (error as { status?: number }).status;
    // A rate limit is a wait (the queue runs the job again), not a refusal to shrug off.
    if (status === undefined || status >= 500 || status === 429 || retryLaterIn(error)) throw error;
    log.warn({ status, runId: record.id }, "could not create or update the Amistio check run");
  }
}

type CheckConclusion = "success" | "failure" | "cancelled" | "neutral";

function checkFields(record: RunRecord) {
  const status = record.status;
  const summary = [
    `Plan v${record.planVersion.version} (\`${record.contentHash.slice(0, 12)}\`): run ${status.replaceAll("_", " ")}.`,
    ...(record.runnerName ? [`Runner: \`${record.runnerName}\`.`] : []),
    ...(record.pullRequestUrl ? [`Pull request: ${record.pullRequestUrl}`] : []),
    ...(record.error ? [`Problem: ${record.error}`] : []),
  ].join("\n\n");
  const common = {
    name: CHECK_NAME,
    external_id: record.id,
    ...(record.htmlUrl ? { details_url: record.htmlUrl } : {}),
    output: { title: `Amistio run ${status.replaceAll("_", " ")}`, summary },
  };
  if (isTerminal(status)) {
    const conclusion: CheckConclusion =
      status === "cancelled" ? "cancelled" : status === "failed" || record.error ? "failure" : "success";
    return {
      ...common,
      status: "completed" as const,
      conclusion,
      completed_at: (record.completedAt ?? new Date()).toISOString(),
    };
  }
  if (status === "in_progress") {
    return {
      ...common,
      status: "in_progress" as const,
      ...(record.startedAt ? { started_at: record.startedAt.toISOString() } : {}),
    };
  }
  return { ...common, status: "queued" as const };
}
