import { z } from "zod";
import type { Plan } from "./plan-schema.ts";

/** The agents a run may use (`runner.agent` in `.github/amistio.yml`); the runner knows how to start each. */
export const AGENTS = ["codex", "claude-code", "aider", "command"] as const;

/** The audience the runner asks GitHub for; a token minted for anything else is refused. */
export const RUNNER_TOKEN_AUDIENCE = "amistio";

/**
 * The runner API between `amistio-runner` (inside the workflow job) and Amistio. Every call carries
 * a GitHub Actions OIDC token (audience `amistio`) as its bearer token.
 *
 *   POST /api/runner/runs/:runId/start   → RunnerJob
 *   POST /api/runner/runs/:runId/events  ← RunnerEvents      → { accepted, more }
 *   POST /api/runner/runs/:runId/result  ← RunnerResult      → 202
 */
export const RUNNER_API_PREFIX = "/api/runner";

export const RUN_ID_PATTERN = /^[a-z0-9]{8,40}$/;

/** Bounds on what a runner may send, so a chatty or hostile agent cannot fill the database. */
export const RUNNER_LIMITS = {
  eventsPerRequest: 50,
  messageChars: 2_000,
  /** One request's lines are stored as one event of at most this many characters (the end is kept). */
  storedCharsPerRequest: 8_000,
  /** Events stored per run, after which the runner is told to stop sending (at most ~4 MB a run). */
  storedEventsPerRun: 500,
  outputTailChars: 8_000,
  resultMessageChars: 2_000,
  changedFiles: 500,
} as const;

export interface RunnerJob {
  runId: string;
  repository: string;
  issueNumber: number;
  isPullRequest: boolean;
  title: string;
  version: number;
  contentHash: string;
  plan: Plan;
  /** The branch to start from. */
  baseBranch: string;
  /** The branch to push: `amistio/<issue>-<run id>`. */
  branch: string;
  agent: { kind: (typeof AGENTS)[number]; command: string | null };
  timeoutMinutes: number;
  limits: typeof RUNNER_LIMITS;
}

export const runnerEventsSchema = z.strictObject({
  events: z
    .array(
      z.strictObject({
        kind: z.enum(["progress", "output"]),
        message: z.string().max(RUNNER_LIMITS.messageChars * 2),
      }),
    )
    .min(1)
    .max(RUNNER_LIMITS.eventsPerRequest),
});
export type RunnerEvents = z.input<typeof runnerEventsSchema>;

export const RUNNER_FAILURES = [
  "plan_hash_mismatch",
  "agent_failed",
  "agent_timeout",
  "push_rejected",
  "git_failed",
  "setup_failed",
] as const;

export const runnerResultSchema = z.strictObject({
  outcome: z.enum(["changes", "no_changes", "failed"]),
  reason: z.enum(RUNNER_FAILURES).optional(),
  message: z
    .string()
    .max(RUNNER_LIMITS.resultMessageChars * 2)
    .optional(),
  branch: z.string().max(255).optional(),
  commitSha: z
    .string()
    .regex(/^[0-9a-f]{40}$/)
    .optional(),
  exitCode: z.int().nullable().optional(),
  durationMs: z.int().min(0),
  outputTail: z
    .string()
    .max(RUNNER_LIMITS.outputTailChars * 2)
    .optional(),
  changedFiles: z.array(z.string().max(1000)).max(RUNNER_LIMITS.changedFiles).optional(),
});
export type RunnerResult = z.input<typeof runnerResultSchema>;
