import type { RUNNER_FAILURES } from "@amistio/contract/runner-contract";
import { DEFAULT_COMMAND_PREFIX } from "../config/command-prefix.ts";
import { type Refusal, type RefusalCode, refusal } from "../refusals/refusals.ts";

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

type RunnerFailure = (typeof RUNNER_FAILURES)[number];

const FAILURE_CODES = {
  plan_hash_mismatch: "run.plan_hash_mismatch",
  agent_failed: "run.agent_failed",
  agent_timeout: "run.agent_timeout",
  push_rejected: "run.push_rejected",
  git_failed: "run.git_failed",
  setup_failed: "run.setup_failed",
} as const satisfies Record<RunnerFailure, RefusalCode>;

/** The failure the runner reported, as posted on the issue; its runner's message (untrusted) only inside a code span. */
export function runFailure(
  stored: Pick<StoredResult, "reason" | "message" | "outputTail">,
  shown: { htmlUrl: string | null; prefix: string },
): Refusal {
  const code = FAILURE_CODES[(stored.reason ?? "setup_failed") as RunnerFailure] ?? FAILURE_CODES.setup_failed;
  return refusal(code, { message: stored.message, outputTail: stored.outputTail, ...shown });
}

/** The failure in one line, kept as the run's error and shown on the tracking comment. */
export function describeFailure(stored: Pick<StoredResult, "reason" | "message">): string {
  return runFailure({ ...stored, outputTail: null }, { htmlUrl: null, prefix: DEFAULT_COMMAND_PREFIX }).summary;
}
