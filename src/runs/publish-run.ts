import type { Logger } from "pino";
import type { Db } from "../db/create-database.ts";
import type { Refusal } from "../refusals/refusals.ts";
import { updateTrackingComment } from "../tasks/update-tracking-comment.ts";
import { loadRunRecord, repoOf } from "./run-record.ts";
import type { Octokit } from "./run-services.ts";
import { syncRunCheck } from "./sync-run-check.ts";

/** Shows a run's current state where people look: the task's tracking comment and, on pull requests, the check run. */
export async function publishRun(input: {
  db: Db;
  octokit: Octokit;
  runId: string;
  requiredApprovals: number;
  log: Logger;
  problem?: Refusal | null;
  /** When the job that publishes last waited out a rate limit. */
  delayedUntil?: Date | null;
}): Promise<void> {
  const record = await loadRunRecord(input.db, input.runId);
  if (!record) return;
  const { owner, repo } = repoOf(record);
  await updateTrackingComment({
    db: input.db,
    octokit: input.octokit,
    owner,
    repo,
    taskId: record.taskId,
    requiredApprovals: input.requiredApprovals,
    problem: input.problem ?? null,
    delayedUntil: input.delayedUntil ?? null,
  });
  await syncRunCheck(input.db, input.octokit, record, input.log);
}
