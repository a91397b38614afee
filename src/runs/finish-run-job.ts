import type { Plan } from "@amistio/contract/plan-schema";
import { countingApprovals } from "../approvals/counting-approvals.ts";
import { loadRepoSettings } from "../config/load-repo-settings.ts";
import { DEFAULT_REPO_SETTINGS } from "../config/repo-settings.ts";
import { postComment } from "../github/post-comment.ts";
import { FIRST_TRY } from "../queue/job-queue.ts";
import type { TypedJobHandler } from "../queue/jobs.ts";
import { refusal, refusalComment } from "../refusals/refusals.ts";
import { auditRun } from "./audit-run.ts";
import { baseBranchFor } from "./base-branch.ts";
import { isRetryable } from "./dispatch-run-job.ts";
import { publishRun } from "./publish-run.ts";
import { renderPullRequestBody, renderRunSucceeded } from "./render-run-messages.ts";
import { loadRunRecord, type RunRecord, repoOf } from "./run-record.ts";
import type { Octokit, RunServices } from "./run-services.ts";
import { runFailure, type StoredResult } from "./stored-result.ts";

/**
 * After the runner reported: opens the pull request for a pushed branch (linking the issue, with
 * the plan and the run's summary), posts the outcome on the task and updates what shows the run.
 * Safe to run again: the pull request is found when it already exists, the comment is keyed.
 */
export function finishRunJob(shared: RunServices): TypedJobHandler<"run.finish"> {
  return async (data, job) => {
    const services: RunServices = { ...shared, job };
    const { db } = services;
    const record = typeof data.runId === "string" ? await loadRunRecord(db, data.runId) : null;
    if (!record) return;
    const event = await db.runEvent.findFirst({
      where: { runId: record.id, kind: "result" },
      orderBy: { createdAt: "desc" },
    });
    if (!event) return;
    const result = event.data as unknown as StoredResult;
    const log = services.logger.child({ job: job.name, runId: record.id });
    const octokit = await services.octokitFor(record.task.workspace.installationId);
    const { owner, repo } = repoOf(record);
    const loaded = await loadRepoSettings(octokit, owner, repo);
    const settings = loaded.ok ? loaded.settings : DEFAULT_REPO_SETTINGS;
    const prefix = settings.commands.prefix;

    let pullRequestUrl = record.pullRequestUrl;
    let problem: string | null = null;
    if (result.outcome === "changes" && !pullRequestUrl) {
      try {
        pullRequestUrl = await openPullRequest(db, octokit, record, result, settings.runner.agent);
        await db.run.update({ where: { id: record.id }, data: { pullRequestUrl } });
      } catch (error) {
        if (isRetryable(error)) throw error;
        problem = githubMessage(error);
        log.warn({ err: error }, "could not open the pull request");
        await db.run.update({
          where: { id: record.id },
          data: {
            error: refusal("run.pull_request_failed", {
              branch: record.branch,
              problem,
              htmlUrl: null,
              prefix,
            }).summary.slice(0, 500),
          },
        });
      }
    }
    const succeeded = result.outcome !== "failed" && problem === null;
    await db.task.update({ where: { id: record.taskId }, data: { state: succeeded ? "done" : "failed" } });
    const outputTail = result.outputTail ? lastLines(result.outputTail, 40) : null;
    await postComment(octokit, {
      owner,
      repo,
      issueNumber: record.task.number,
      body:
        result.outcome === "failed"
          ? refusalComment(runFailure({ ...result, outputTail }, { htmlUrl: record.htmlUrl, prefix }))
          : problem !== null
            ? refusalComment(
                refusal("run.pull_request_failed", { branch: record.branch, problem, htmlUrl: record.htmlUrl, prefix }),
              )
            : renderRunSucceeded({
                version: record.planVersion.version,
                pullRequestUrl,
                branch: record.branch,
                changedFiles: result.changedFiles.length,
                outputTail,
                htmlUrl: record.htmlUrl,
              }),
      key: `outcome:${record.id}`,
      job: services.job ?? FIRST_TRY,
    });
    // Asked every time: a job that waited out a rate limit runs again as the same attempt.
    if (!(await finishedBefore(db, record))) {
      await auditRun(db, record, "run.finished", {
        outcome: result.outcome,
        pullRequest: pullRequestUrl !== null,
        problem: problem !== null,
      });
    }
    await publishRun({
      db,
      octokit,
      runId: record.id,
      requiredApprovals: settings.approvals.required,
      log,
      delayedUntil: services.job?.waits.lastUntil,
    });
  };
}

async function openPullRequest(
  db: RunServices["db"],
  octokit: Octokit,
  record: RunRecord,
  result: StoredResult,
  agent: string,
): Promise<string> {
  const { owner, repo } = repoOf(record);
  const branch = record.branch!;
  const base = await baseBranchFor(octokit, record);
  const approvers = (await countingApprovals(db, record.planVersion))
    .map((approval) => approval.login)
    .filter((login): login is string => login !== null);
  const body = renderPullRequestBody({
    taskNumber: record.task.number,
    isPullRequest: record.task.isPullRequest,
    version: record.planVersion.version,
    contentHash: record.contentHash,
    approvers,
    plan: record.planVersion.content as unknown as Plan,
    htmlUrl: record.htmlUrl,
    agent,
    exitCode: result.exitCode,
    durationMs: result.durationMs,
    changedFiles: result.changedFiles,
    outputTail: result.outputTail ? lastLines(result.outputTail, 60) : null,
  });
  try {
    const { data } = await octokit.rest.pulls.create({
      owner,
      repo,
      head: branch,
      base,
      title: `Amistio: ${record.task.title}`.slice(0, 256),
      body,
    });
    return data.html_url;
  } catch (error) {
    // A retried job whose first try opened it: GitHub answers 422 "A pull request already exists".
    if ((error as { status?: number }).status !== 422) throw error;
    const { data } = await octokit.rest.pulls.list({ owner, repo, head: `${owner}:${branch}`, state: "all" });
    if (data[0]) return data[0].html_url;
    throw error;
  }
}

async function finishedBefore(db: RunServices["db"], record: RunRecord): Promise<boolean> {
  const count = await db.auditEvent.count({
    where: { target: `task:${record.task.id}`, action: "run.finished", data: { contains: record.id } },
  });
  return count > 0;
}

function lastLines(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}

function githubMessage(error: unknown): string {
  const data = (error as { response?: { data?: { message?: string; errors?: { message?: string }[] } } }).response
    ?.data;
  const detail = data?.errors
    ?.map((entry) => entry.message)
    .filter(Boolean)
    .join("; ");
  return `${data?.message ?? (error as Error).message}${detail ? ` (${detail})` : ""}`.slice(0, 500);
}
