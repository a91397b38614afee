import type { Db } from "../db/create-database.ts";
import { redactSecrets } from "../planning/redact-secrets.ts";
import type { JobQueue } from "../queue/job-queue.ts";
import { auditRun } from "./audit-run.ts";
import { FINISH_RUN_JOB } from "./finish-run-job.ts";
import { codeSpan } from "./render-run-messages.ts";
import { type RunRecord, runBranch } from "./run-record.ts";
import type { RunnerResult } from "./runner-contract.ts";
import { RUNNER_LIMITS } from "./runner-contract.ts";

/** The runner's report as kept in the run's `result` event; the finish job acts on it. */
export interface StoredResult {
  outcome: "changes" | "no_changes" | "failed";
  reason: string | null;
  message: string | null;
  commitSha: string | null;
  exitCode: number | null;
  durationMs: number;
  outputTail: string | null;
  changedFiles: string[];
}

const REASONS: Record<string, string> = {
  plan_hash_mismatch: "the plan the runner received does not match the approved hash, so the agent was not run.",
  agent_failed: "the agent exited with an error.",
  agent_timeout: "the agent ran past `runner.timeoutMinutes` and was stopped.",
  push_rejected: "the branch could not be pushed (the push was rejected).",
  git_failed: "committing the agent's changes failed.",
  setup_failed: "the runner could not prepare the run.",
};

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
  await deps.queue.enqueue(FINISH_RUN_JOB, { runId: record.id }, { key: `finish:${record.id}` });
  return true;
}

/** The failure in words; the runner's own message (untrusted) only inside a code span. */
export function describeFailure(stored: Pick<StoredResult, "reason" | "message">): string {
  const base = REASONS[stored.reason ?? "setup_failed"] ?? "the runner reported a failure.";
  return stored.message ? `${base} ${codeSpan(stored.message)}` : base;
}
