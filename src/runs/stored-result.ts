import { codeSpan } from "./render-run-messages.ts";

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

/** The failure in words; the runner's own message (untrusted) only inside a code span. */
export function describeFailure(stored: Pick<StoredResult, "reason" | "message">): string {
  const base = REASONS[stored.reason ?? "setup_failed"] ?? "the runner reported a failure.";
  return stored.message ? `${base} ${codeSpan(stored.message)}` : base;
}
