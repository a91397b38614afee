import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planContentHash } from "@amistio/contract/plan-hash";
import { planText } from "@amistio/contract/plan-text";
import { redactSecrets } from "@amistio/contract/redact-secrets";
import { RUNNER_LIMITS, type RunnerJob, type RunnerResult } from "@amistio/contract/runner-contract";
import { agentCommand } from "./agent-command.ts";
import type { AmistioClient } from "./amistio-client.ts";
import { commitChanges, excludeFromCommit, GitError, gitIn, prepareBranch, pushBranch } from "./git-work.ts";
import { createProgressStream } from "./progress-stream.ts";
import { runAgent } from "./run-agent.ts";

export interface ExecuteRunOptions {
  client: AmistioClient;
  /** The repository's working tree (GITHUB_WORKSPACE). */
  repoDir: string;
  /** The plan hash the workflow was dispatched with (input plan_hash), checked against what Amistio serves. */
  expectedHash?: string;
  /** The job's GITHUB_TOKEN, used only by the runner's own fetch and push. */
  pushToken?: string;
  /** The environment the agent starts from; credentials of the job are removed from it. */
  env: NodeJS.ProcessEnv;
  /** The runner's own install directory, kept out of the commit. */
  selfDir?: string;
  log(line: string): void;
  /** How often progress goes to Amistio (default 2 s). */
  progressIntervalMs?: number;
}

/** Variables the agent must not see: they would let it mint tokens, push, or speak for the runner. */
const WITHHELD = [
  "ACTIONS_ID_TOKEN_REQUEST_URL",
  "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
  "ACTIONS_RUNTIME_TOKEN",
  "GITHUB_TOKEN",
  "GH_TOKEN",
];

/**
 * One run, inside the workflow job: fetch the approved plan, check its hash, run the agent on a
 * fresh branch with a time limit, commit and push what it changed, and report. Every way it can
 * end is reported to Amistio (which posts it on the issue); the exit code is 0 only for a
 * successful run.
 */
export async function executeRun(options: ExecuteRunOptions): Promise<number> {
  const { client, log } = options;
  const started = Date.now();
  const job = await client.start();
  log(`Amistio run ${job.runId}: plan v${job.version} for ${job.repository}#${job.issueNumber}`);
  let reported = false;
  const report = async (result: Omit<RunnerResult, "durationMs">): Promise<number> => {
    reported = true;
    await client.result({ ...result, durationMs: Date.now() - started });
    log(
      `reported: ${result.outcome}${result.reason ? ` (${result.reason})` : ""}${result.message ? `: ${result.message}` : ""}`,
    );
    return result.outcome === "failed" ? 1 : 0;
  };
  try {
    return await work(job, report);
  } catch (error) {
    // Whatever went wrong, Amistio hears of it, so the issue gets an answer.
    if (reported) throw error;
    await report({
      outcome: "failed",
      reason: "setup_failed",
      message: bounded(`the runner failed: ${(error as Error).message}`),
    });
    return 1;
  }

  async function work(
    job: RunnerJob,
    report: (result: Omit<RunnerResult, "durationMs">) => Promise<number>,
  ): Promise<number> {
    const hash = planContentHash(job.plan);
    if (hash !== job.contentHash || (options.expectedHash && options.expectedHash !== job.contentHash)) {
      return report({
        outcome: "failed",
        reason: "plan_hash_mismatch",
        message: `served plan hashes to ${hash.slice(0, 12)}, approved ${job.contentHash.slice(0, 12)}, dispatched ${(options.expectedHash ?? job.contentHash).slice(0, 12)}`,
      });
    }

    const git = gitIn(options.repoDir, options.env);
    try {
      if (options.selfDir) excludeFromCommit(git, options.selfDir);
      await prepareBranch(git, { base: job.baseBranch, branch: job.branch, token: options.pushToken });
    } catch (error) {
      return report({ outcome: "failed", reason: "setup_failed", message: bounded((error as Error).message) });
    }

    const scratch = mkdtempSync(join(tmpdir(), "amistio-plan-"));
    try {
      const prompt = renderPrompt(job);
      const planFile = join(scratch, "plan.md");
      const planJson = join(scratch, "plan.json");
      writeFileSync(planFile, prompt);
      writeFileSync(planJson, JSON.stringify(job.plan, null, 2));
      let command: ReturnType<typeof agentCommand>;
      try {
        command = agentCommand(job.agent, planFile);
      } catch (error) {
        return report({ outcome: "failed", reason: "setup_failed", message: bounded((error as Error).message) });
      }

      const stream = createProgressStream({
        intervalMs: options.progressIntervalMs,
        maxLinesPerBatch: job.limits.eventsPerRequest,
        send: async (lines) => {
          // Redacted here too, so a secret the agent prints never leaves the runner.
          const { text } = await redactSecrets(lines.join("\n"));
          const answer = await client.events({
            events: text
              .split("\n")
              .map((message) => ({ kind: "output" as const, message: message.slice(0, RUNNER_LIMITS.messageChars) })),
          });
          return answer.more;
        },
        onError: (error) => log(`progress not sent: ${(error as Error).message}`),
      });
      const env: NodeJS.ProcessEnv = {
        ...options.env,
        AMISTIO_PLAN_FILE: planFile,
        AMISTIO_PLAN_JSON: planJson,
        AMISTIO_RUN_ID: job.runId,
      };
      for (const name of WITHHELD) delete env[name];
      log(`running the agent (${job.agent.kind}), time limit ${job.timeoutMinutes} min`);
      const outcome = await runAgent({
        command: command.command,
        args: command.args,
        shell: command.shell,
        cwd: options.repoDir,
        env,
        stdin: prompt,
        timeoutMs: job.timeoutMinutes * 60_000,
        onLine: (line) => {
          log(line);
          stream.push(line);
        },
      });
      await stream.close();
      const outputTail = (await redactSecrets(outcome.outputTail.slice(-RUNNER_LIMITS.outputTailChars))).text;
      const common = { exitCode: outcome.exitCode, outputTail };
      if (outcome.spawnError) {
        return report({
          ...common,
          outcome: "failed",
          reason: "agent_failed",
          message: `the agent could not start: ${bounded(outcome.spawnError)}`,
        });
      }
      if (outcome.timedOut) {
        return report({
          ...common,
          outcome: "failed",
          reason: "agent_timeout",
          message: `stopped after ${job.timeoutMinutes} min`,
        });
      }
      if (outcome.exitCode !== 0) {
        return report({
          ...common,
          outcome: "failed",
          reason: "agent_failed",
          message: outcome.exitCode === null ? `killed by ${outcome.signal}` : `exit code ${outcome.exitCode}`,
        });
      }

      let committed: Awaited<ReturnType<typeof commitChanges>>;
      try {
        committed = await commitChanges(
          git,
          `Amistio: ${job.title}\n\nPlan v${job.version} (${job.contentHash.slice(0, 12)}), Amistio run ${job.runId}.`,
        );
      } catch (error) {
        return report({
          ...common,
          outcome: "failed",
          reason: "git_failed",
          message: bounded((error as Error).message),
        });
      }
      if (!committed.changed) return report({ ...common, outcome: "no_changes" });
      try {
        await pushBranch(git, { branch: job.branch, token: options.pushToken });
      } catch (error) {
        const message = error instanceof GitError ? error.message : String(error);
        return report({ ...common, outcome: "failed", reason: "push_rejected", message: bounded(message) });
      }
      return report({
        ...common,
        outcome: "changes",
        branch: job.branch,
        commitSha: committed.commitSha,
        changedFiles: committed.changedFiles.slice(0, RUNNER_LIMITS.changedFiles),
      });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
}

/** What the agent reads: the issue, the approved plan as text, and the rules of the run. */
export function renderPrompt(job: RunnerJob): string {
  return [
    `# Approved plan v${job.version} for ${job.repository}#${job.issueNumber}: ${job.title}`,
    "",
    `Content hash: ${job.contentHash}`,
    "",
    planText(job.plan),
    "",
    "Rules: change only what the plan asks for; do not commit, push or open pull requests (the Amistio runner does).",
    "",
  ].join("\n");
}

function bounded(text: string): string {
  return text.slice(0, RUNNER_LIMITS.resultMessageChars);
}
