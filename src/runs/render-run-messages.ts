import type { Plan } from "@amistio/contract/plan-schema";
import { planText } from "@amistio/contract/plan-text";

/**
 * Every text Amistio posts about runs, in one place so a change to what people read shows up in
 * review (the tests snapshot them). Untrusted text (plans, agent output, GitHub's messages) only
 * ever appears inside fenced blocks or code spans.
 */

const DOCS = "Amistio's `docs/runners.md`";

export function renderWorkflowMissing(input: { workflow: string; branch: string; prefix: string }): string {
  return [
    `**Amistio could not start the run:** the workflow \`${input.workflow}\` does not exist on \`${input.branch}\`, the default branch. GitHub only dispatches workflows that are there.`,
    "",
    "Add it, then try again:",
    "",
    `1. In a clone of this repository run \`amistio-runner init\` (it writes \`${input.workflow}\`), or copy \`packages/runner/workflow-template.yml\` from Amistio to that path.`,
    `2. Commit it to \`${input.branch}\` and push.`,
    `3. Comment \`${input.prefix} retry\`.`,
    "",
    `${DOCS} explains the workflow and the self-hosted runner it needs.`,
  ].join("\n");
}

export function renderDispatchForbidden(input: { status: number; message: string; prefix: string }): string {
  const what =
    input.status === 403
      ? "The Amistio App needs the **Actions: write** permission to start workflows. An owner of this account can grant it under Settings → GitHub Apps → Amistio (accept the requested permissions)."
      : "The App's installation cannot see this repository's workflows: check that the installation includes this repository and grants **Actions: write**.";
  return [
    `**Amistio could not start the run:** GitHub answered ${input.status} (${codeSpan(input.message)}).`,
    "",
    what,
    "",
    `Then comment \`${input.prefix} retry\`.`,
  ].join("\n");
}

export function renderDispatchRejected(input: { message: string; prefix: string }): string {
  return [
    "**Amistio could not start the run:** GitHub rejected the workflow dispatch:",
    "",
    fenced(input.message),
    "",
    `If it names unexpected inputs or a missing \`workflow_dispatch\` trigger, update the workflow from Amistio's \`packages/runner/workflow-template.yml\`; then comment \`${input.prefix} retry\`.`,
  ].join("\n");
}

export function renderDispatchUnavailable(input: { message: string; attempts: number; prefix: string }): string {
  return `**Amistio could not start the run:** GitHub kept failing (${codeSpan(input.message)}) after ${input.attempts} tries. Nothing was started; comment \`${input.prefix} retry\` to try again.`;
}

export function renderApprovalLapsed(input: { reason: string; prefix: string }): string {
  return `**The run was not started:** ${input.reason} Approve the current version (\`${input.prefix} approve\`) to run it.`;
}

export function renderNoPublicUrl(prefix: string): string {
  return `**The run was not started:** this Amistio server has no public address (\`AMISTIO_PUBLIC_URL\`), so a runner could not reach it. Its operator needs to set it; then comment \`${prefix} retry\`.`;
}

export function renderQueuedTooLong(input: {
  minutes: number;
  labels: string[];
  htmlUrl: string | null;
  prefix: string;
}): string {
  const labels = input.labels.map(codeSpan).join(", ");
  return [
    `**No runner has picked up the run after ${input.minutes} minutes.** No online self-hosted runner matches the labels ${labels}${input.htmlUrl ? ` ([workflow run](${input.htmlUrl}))` : ""}.`,
    "",
    `Start a runner with these labels (${DOCS}), or change \`runner.labels\` in \`.github/amistio.yml\`. The run keeps waiting; \`${input.prefix} cancel\` stops it.`,
  ].join("\n");
}

export function renderEndedWithoutReport(input: { conclusion: string | null; htmlUrl: string | null; prefix: string }) {
  const link = input.htmlUrl ? ` See the [workflow run](${input.htmlUrl}).` : "";
  if (input.conclusion === "cancelled") return `**The run was cancelled** before the runner reported a result.${link}`;
  return [
    `**The run ended before the runner reported a result** (workflow conclusion: ${codeSpan(input.conclusion ?? "unknown")}).${link}`,
    "",
    `Check that the workflow runs \`amistio-runner run\` as in Amistio's \`packages/runner/workflow-template.yml\`; \`${input.prefix} retry\` starts a new run.`,
  ].join("\n");
}

export interface OutcomeInput {
  version: number;
  outcome: "changes" | "no_changes" | "failed";
  pullRequestUrl?: string | null;
  branch?: string | null;
  changedFiles?: number;
  reason?: string | null;
  outputTail?: string | null;
  htmlUrl?: string | null;
  prefix: string;
  /** Set when the branch was pushed but the pull request could not be opened. */
  pullRequestProblem?: string | null;
}

export function renderRunOutcome(input: OutcomeInput): string {
  const link = input.htmlUrl ? ` ([workflow run](${input.htmlUrl}))` : "";
  const tail = agentOutput(input.outputTail);
  if (input.outcome === "changes" && input.pullRequestUrl) {
    return `**Amistio opened ${input.pullRequestUrl}** for plan v${input.version}: ${input.changedFiles ?? 0} changed file(s) on \`${input.branch}\`${link}.`;
  }
  if (input.outcome === "changes") {
    return [
      `**The branch \`${input.branch}\` was pushed, but Amistio could not open the pull request:** ${codeSpan(input.pullRequestProblem ?? "unknown error")}${link}.`,
      "",
      `Open it by hand from the branch, or fix the problem and comment \`${input.prefix} retry\`.`,
    ].join("\n");
  }
  if (input.outcome === "no_changes") {
    return [
      `**The run finished without changes:** the agent changed no file for plan v${input.version}, so there is no pull request${link}.`,
      ...tail,
    ].join("\n");
  }
  return [
    `**The run failed:** ${input.reason ?? "the runner reported a failure"}${link}`,
    ...tail,
    "",
    `\`${input.prefix} retry\` starts a new run of the same approved plan.`,
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

/** A fenced block that no line of `text` can close. */
export function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}text\n${text}\n${fence}`;
}

/** One line of untrusted text as a code span: no mentions, links or HTML can come out of it. */
export function codeSpan(text: string): string {
  const clean = text.replace(/\s*\r?\n\s*/g, " ").slice(0, 300);
  const longest = Math.max(0, ...[...clean.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = clean.startsWith("`") || clean.endsWith("`") ? " " : "";
  return `${fence}${pad}${clean}${pad}${fence}`;
}

/** The agent's last output lines, collapsed; nothing when there is none. */
function agentOutput(tail: string | null | undefined): string[] {
  if (!tail) return [];
  return [
    "",
    "<details><summary>Agent output (last lines, secrets redacted)</summary>",
    "",
    fenced(tail),
    "",
    "</details>",
  ];
}
