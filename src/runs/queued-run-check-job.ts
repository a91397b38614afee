import { DEFAULT_COMMAND_PREFIX } from "../config/command-prefix.ts";
import { loadRepoSettings } from "../config/load-repo-settings.ts";
import { postComment } from "../github/post-comment.ts";
import { FIRST_TRY } from "../queue/job-queue.ts";
import type { TypedJobHandler } from "../queue/jobs.ts";
import { refusal, refusalComment } from "../refusals/refusals.ts";
import { auditRun } from "./audit-run.ts";
import { publishRun } from "./publish-run.ts";
import { loadRunRecord, repoOf } from "./run-record.ts";
import type { RunServices } from "./run-services.ts";

/**
 * Enqueued with a delay of `runner.queuedTimeoutMinutes` when a run is dispatched. If the run has
 * not started by then, no online runner matches its labels: say so once, and keep waiting.
 */
export function queuedRunCheckJob(shared: RunServices): TypedJobHandler<"run.queued-check"> {
  return async (data, job) => {
    const services: RunServices = { ...shared, job };
    const { db } = services;
    const record = typeof data.runId === "string" ? await loadRunRecord(db, data.runId) : null;
    if (record?.status !== "dispatched" || record.startedAt !== null) return;
    const octokit = await services.octokitFor(record.task.workspace.installationId);
    const { owner, repo } = repoOf(record);
    const loaded = await loadRepoSettings(octokit, owner, repo);
    const settings = loaded.ok ? loaded.settings : null;
    const labels = Array.isArray(record.runnerLabels)
      ? (record.runnerLabels as unknown[]).map(String)
      : (settings?.runner.labels ?? ["self-hosted"]);
    const minutes = Math.round(
      ((services.now?.() ?? new Date()).getTime() - (record.dispatchedAt ?? record.createdAt).getTime()) / 60_000,
    );
    const prefix = settings?.commands.prefix ?? DEFAULT_COMMAND_PREFIX;
    const refused = refusal("run.queued_too_long", { minutes, labels, htmlUrl: record.htmlUrl, prefix });
    await postComment(octokit, {
      owner,
      repo,
      issueNumber: record.task.number,
      body: refusalComment(refused),
      key: `queued:${record.id}`,
      job: services.job ?? FIRST_TRY,
    });
    await auditRun(db, record, "run.queued_too_long", { minutes, labels });
    await publishRun({
      db,
      octokit,
      runId: record.id,
      requiredApprovals: settings?.approvals.required ?? 1,
      log: services.logger,
      problem: refused,
      delayedUntil: services.job?.waits.lastUntil,
    });
  };
}
