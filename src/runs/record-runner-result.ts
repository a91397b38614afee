import { redactSecrets } from "@amistio/contract/redact-secrets";
import type { RunnerResult } from "@amistio/contract/runner-contract";
import { RUNNER_LIMITS } from "@amistio/contract/runner-contract";
import type { Db } from "../db/create-database.ts";
import type { JobQueue } from "../queue/job-queue.ts";
import { enqueueJob } from "../queue/jobs.ts";
import { auditRun } from "./audit-run.ts";
import { type RunRecord, runBranch } from "./run-record.ts";
import { describeFailure, type StoredResult } from "./stored-result.ts";

/**
 * Ends a run with the runner's report, once: the first report of a live run wins (a conditional
 * update), a later one is refused. Text from the runner is redacted and bounded before it is kept.
 */
export async function recordRunnerResult(
  deps: { db: Db; queue: JobQueue; now?: () => Date },
  record: RunRecord,
  result: RunnerResult,
): Promise<boolean> {
  const { db } = deps;
  const expected = runBranch(record);
  let outcome = result.outcome;
  let reason: string | null = result.reason ?? null;
  let message = result.message
    ? (await redactSecrets(result.message.slice(0, RUNNER_LIMITS.resultMessageChars))).text
    : null;
  if (outcome === "changes" && result.branch !== expected) {
    outcome = "failed";
    reason = "git_failed";
    message = `the runner pushed to an unexpected branch (expected ${expected})`;
  } else if (outcome === "failed" && !reason) {
    reason = "setup_failed";
  }
  const tail = result.outputTail ? result.outputTail.slice(-RUNNER_LIMITS.outputTailChars) : null;
  const stored: StoredResult = {
    outcome,
    reason,
    message,
    commitSha: result.commitSha ?? null,
    exitCode: result.exitCode ?? null,
    durationMs: result.durationMs,
    outputTail: tail ? (await redactSecrets(tail)).text : null,
    changedFiles: result.changedFiles ?? [],
  };
  const error = outcome === "failed" ? describeFailure({ reason, message }).slice(0, 500) : null;
  const ended = await db.$transaction(async (tx) => {
    const { count } = await tx.run.updateMany({
      where: { id: record.id, status: { in: ["dispatching", "dispatched", "waiting", "in_progress"] } },
      data: {
        status: outcome === "failed" ? "failed" : "completed",
        completedAt: deps.now?.() ?? new Date(),
        error,
        ...(outcome === "changes" ? { branch: expected } : {}),
      },
    });
    if (count !== 1) return false;
    await tx.runEvent.create({
      data: { runId: record.id, kind: "result", message: outcome, data: stored as unknown as object },
    });
    return true;
  });
  if (!ended) return false;
  await auditRun(db, record, "run.reported", {
    outcome,
    reason,
    exitCode: stored.exitCode,
    changedFiles: stored.changedFiles.length,
  });
  await enqueueJob(deps.queue, "run.finish", { runId: record.id }, { key: `finish:${record.id}` });
  return true;
}
