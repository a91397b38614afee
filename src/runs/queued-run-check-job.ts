import { loadRepoSettings } from "../config/load-repo-settings.ts";
import { postComment } from "../github/post-comment.ts";
import { deliveryAttempt } from "../queue/delivery-attempt.ts";
import type { JobHandler } from "../queue/job-queue.ts";
import { auditRun } from "./audit-run.ts";
import { publishRun } from "./publish-run.ts";
import { renderQueuedTooLong } from "./render-run-messages.ts";
import { loadRunRecord, repoOf } from "./run-record.ts";
import type { RunServices } from "./run-services.ts";

export const QUEUED_RUN_CHECK_JOB = "run.queued-check";

/**
 * Enqueued with a delay of `runner.queuedTimeoutMinutes` when a run is dispatched. If the run has
 * not started by then, no online runner matches its labels: say so once, and keep waiting.
 */
export function queuedRunCheckJob(services: RunServices): JobHandler {
  return (data, job) =>
    deliveryAttempt.run(job.attempt, async () => {
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
      const prefix = settings?.commands.prefix ?? "/amistio";
      await postComment(octokit, {
        owner,
        repo,
        issueNumber: record.task.number,
        body: renderQueuedTooLong({ minutes, labels, htmlUrl: record.htmlUrl, prefix }),
        key: `queued:${record.id}`,
      });
      await auditRun(db, record, "run.queued_too_long", { minutes, labels });
      await publishRun({
        db,
        octokit,
        runId: record.id,
        requiredApprovals: settings?.approvals.required ?? 1,
        log: services.logger,
        problem: `no online runner matches the labels ${labels.join(", ")}`,
      });
    });
}
