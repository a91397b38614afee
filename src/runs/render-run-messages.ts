import type { Plan } from "@amistio/contract/plan-schema";
import { planText } from "@amistio/contract/plan-text";
import { agentOutput, codeSpan, fenced } from "../refusals/untrusted-text.ts";

/**
 * What Amistio posts about runs that went well; refusals and failures are in the registry
 * (`src/refusals/refusals.ts`). Untrusted text (plans, agent output, GitHub's messages) only ever
 * appears inside fenced blocks or code spans.
 */

/** The run's good ending: the pull request it opened, or that the agent changed nothing. */
export function renderRunSucceeded(input: {
  version: number;
  pullRequestUrl: string | null;
  branch: string | null;
  changedFiles: number;
  outputTail: string | null;
  htmlUrl: string | null;
}): string {
  const link = input.htmlUrl ? ` ([workflow run](${input.htmlUrl}))` : "";
  if (input.pullRequestUrl) {
    return `**Amistio opened ${input.pullRequestUrl}** for plan v${input.version}: ${input.changedFiles} changed file(s) on \`${input.branch}\`${link}.`;
  }
  return [
    `**The run finished without changes:** the agent changed no file for plan v${input.version}, so there is no pull request${link}.`,
    ...agentOutput(input.outputTail),
  ].join("\n");
}

export function renderPullRequestBody(input: {
  taskNumber: number;
  isPullRequest: boolean;
  version: number;
  contentHash: string;
  approvers: string[];
  plan: Plan;
  htmlUrl: string | null;
  agent: string;
  exitCode: number | null;
  durationMs: number;
  changedFiles: string[];
  outputTail: string | null;
}): string {
  const approvers =
    input.approvers.length > 0 ? input.approvers.map((login) => `@${login}`).join(", ") : "the approvers";
  const files = input.changedFiles.slice(0, 50).map((file) => `- ${codeSpan(file)}`);
  if (input.changedFiles.length > 50) files.push(`- …and ${input.changedFiles.length - 50} more`);
  return [
    input.isPullRequest ? `For #${input.taskNumber}.` : `Resolves #${input.taskNumber}.`,
    "",
    `Amistio ran plan v${input.version} (\`${input.contentHash.slice(0, 12)}\`), approved by ${approvers}, on a self-hosted runner${input.htmlUrl ? ` ([workflow run](${input.htmlUrl}))` : ""}. Review it like any other change: it was written by a coding agent.`,
    "",
    "### Approved plan",
    "",
    fenced(planText(input.plan)),
    "",
    "### Run",
    "",
    `- Agent: ${codeSpan(input.agent)}, exit code ${input.exitCode ?? "none"}, ${formatDuration(input.durationMs)}`,
    `- Changed files (${input.changedFiles.length}):`,
    ...files.map((line) => `  ${line}`),
    ...agentOutput(input.outputTail),
  ].join("\n");
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
}
