import type { Logger } from "pino";
import type { RepoSettings } from "../config/repo-settings.ts";
import { enqueueJob } from "../queue/jobs.ts";
import { auditRun } from "./audit-run.ts";
import { publishRun } from "./publish-run.ts";
import { type RunRecord, repoOf } from "./run-record.ts";
import type { Octokit, RunServices } from "./run-services.ts";

export interface DispatchedRun {
  workflowRunId: number | null;
  htmlUrl: string | null;
  attempt?: number;
}

/**
 * Moves a run from `dispatching` to `dispatched` and does what follows exactly once: whoever wins
 * the conditional update marks the task running, audits, schedules the queued-too-long check and
 * publishes. A run cancelled while its dispatch was in flight gets the new workflow run cancelled.
 */
export async function markDispatched(
  services: RunServices,
  octokit: Octokit,
  record: RunRecord,
  dispatched: DispatchedRun,
  settings: RepoSettings,
  log: Logger,
): Promise<boolean> {
  const { db } = services;
  const now = services.now?.() ?? new Date();
  const { count } = await db.run.updateMany({
    where: { id: record.id, status: "dispatching" },
    data: {
      status: "dispatched",
      dispatchedAt: now,
      error: null,
      ...(dispatched.workflowRunId !== null
        ? { workflowRunId: BigInt(dispatched.workflowRunId), workflowRunAttempt: dispatched.attempt ?? 1 }
        : {}),
      ...(dispatched.htmlUrl ? { htmlUrl: dispatched.htmlUrl } : {}),
    },
  });
  if (count === 0) {
    const fresh = await db.run.findUnique({ where: { id: record.id }, select: { status: true } });
    if (fresh?.status === "cancelled" && dispatched.workflowRunId !== null) {
      await cancelOrphan(services, octokit, record, dispatched.workflowRunId, log);
    }
    return false;
  }
  await db.task.update({ where: { id: record.taskId }, data: { state: "running" } });
  await auditRun(db, record, "run.dispatched", {
    workflowRunId: dispatched.workflowRunId,
    workflow: settings.runner.workflow,
    ref: record.ref,
  });
  await enqueueJob(
    services.queue,
    "run.queued-check",
    { runId: record.id },
    { key: `queued-check:${record.id}`, delayMs: settings.runner.queuedTimeoutMinutes * 60_000 },
  );
  await publishRun({
    db,
    octokit,
    runId: record.id,
    requiredApprovals: settings.approvals.required,
    log,
    delayedUntil: services.job?.waits.lastUntil,
  });
  return true;
}

/** A workflow run that belongs to an Amistio run that already ended must not do any work. */
export async function cancelOrphan(
  services: RunServices,
  octokit: Octokit,
  record: RunRecord,
  workflowRunId: number,
  log: Logger,
): Promise<void> {
  const { owner, repo } = repoOf(record);
  await services.db.run.updateMany({
    where: { id: record.id, workflowRunId: null },
    data: { workflowRunId: BigInt(workflowRunId) },
  });
  try {
    await octokit.request("POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel", {
      owner,
      repo,
      run_id: workflowRunId,
    });
    await auditRun(services.db, record, "run.orphan_cancelled", { workflowRunId });
  } catch (error) {
    // 409: it already finished. Either way its runner is refused, since the Amistio run ended.
    log.warn(
      { err: error, runId: record.id, workflowRunId },
      "could not cancel a workflow run of an ended Amistio run",
    );
  }
}
