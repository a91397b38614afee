import type { Logger } from "pino";
import { DEFAULT_COMMAND_PREFIX } from "../config/command-prefix.ts";
import { loadRepoSettings } from "../config/load-repo-settings.ts";
import { REPO_SETTINGS_FILE, type RepoSettings } from "../config/repo-settings.ts";
import { postComment } from "../github/post-comment.ts";
import { FIRST_TRY } from "../queue/job-queue.ts";
import { JOBS, type TypedJobHandler } from "../queue/jobs.ts";
import { retryLaterIn } from "../queue/retry-later.ts";
import { type Refusal, refusal, refusalComment } from "../refusals/refusals.ts";
import { approvalProblem } from "./approval-problem.ts";
import { auditRun } from "./audit-run.ts";
import { createWorkflowDispatcher, findDispatchedRun } from "./dispatch-workflow.ts";
import { markDispatched } from "./mark-dispatched.ts";
import { publishRun } from "./publish-run.ts";
import { loadRunRecord, type RunRecord, repoOf } from "./run-record.ts";
import type { Octokit, RunServices } from "./run-services.ts";

/**
 * How long a dispatch whose answer was lost (the worker died, the connection dropped) is given to
 * show up in the workflow's run list before it is sent again. GitHub lists a dispatched run within
 * seconds; sending again sooner could start a second one.
 */
export const DISPATCH_GRACE_MS = 10_000;

/** Thrown when the outcome of an earlier try is not known yet; the queue retries later. */
export class DispatchPendingError extends Error {
  override name = "DispatchPendingError";
}

/**
 * The `run.dispatch` job: re-checks that the run's plan version is still approved with the same
 * hash, then dispatches the repository's runner workflow once.
 *
 * Exactly one dispatch per run, however often the job runs: the run moves queued → dispatching
 * (a conditional update only one try wins) before the request, and → dispatched after it. A try
 * that finds the run already `dispatching` does not know whether the earlier request reached
 * GitHub, so it first looks for a workflow run whose title carries the run id; only when none has
 * appeared `DISPATCH_GRACE_MS` after the earlier try does it dispatch again. A 4xx answer means
 * nothing was started, so the run goes back to `queued` for the next try; after a 5xx it stays
 * `dispatching`, since GitHub may have started the run before failing to answer.
 */
export function dispatchRunJob(shared: RunServices): TypedJobHandler<"run.dispatch"> {
  const dispatchWorkflow = createWorkflowDispatcher();
  return async (data, job) => {
    const services: RunServices = { ...shared, job };
    const runId = typeof data.runId === "string" ? data.runId : null;
    const record = runId ? await loadRunRecord(services.db, runId) : null;
    const log = services.logger.child({ job: job.name, runId, attempt: job.attempt });
    if (!record) {
      log.warn("dispatch job for a run that does not exist");
      return;
    }
    if (record.status !== "queued" && record.status !== "dispatching") return;
    const octokit = await services.octokitFor(record.task.workspace.installationId);
    const last = job.attempt >= JOBS["run.dispatch"].maxAttempts;
    try {
      await dispatchOnce({ services, octokit, record, log, dispatchWorkflow });
    } catch (error) {
      // A rate limit waits in the queue without using a try, even on the last one.
      if (!last || retryLaterIn(error)) throw error;
      log.error({ err: error }, "dispatch failed on its last try");
      await failDispatch(services, octokit, record, null, log, (prefix) =>
        refusal("dispatch.unavailable", { message: errorMessage(error), attempts: job.attempt, prefix }),
      );
    }
  };
}

interface DispatchInput {
  services: RunServices;
  octokit: Octokit;
  record: RunRecord;
  log: Logger;
  dispatchWorkflow: ReturnType<typeof createWorkflowDispatcher>;
}

async function dispatchOnce(input: DispatchInput): Promise<void> {
  const { services, octokit, record, log } = input;
  const { db } = services;
  const { owner, repo } = repoOf(record);
  const loaded = await loadRepoSettings(octokit, owner, repo);
  if (!loaded.ok) {
    return failDispatch(services, octokit, record, null, log, () =>
      refusal("settings.invalid", { file: REPO_SETTINGS_FILE, problems: loaded.problems }),
    );
  }
  const settings = loaded.settings;
  const prefix = settings.commands.prefix;
  const lapsed = await approvalProblem(
    db,
    record.planVersion,
    { required: settings.approvals.required, prefix },
    record.contentHash,
  );
  if (lapsed) return failDispatch(services, octokit, record, settings, log, () => lapsed);
  const publicUrl = services.env.AMISTIO_PUBLIC_URL;
  if (!publicUrl) {
    return failDispatch(services, octokit, record, settings, log, () => refusal("dispatch.no_public_url", { prefix }));
  }

  const workflowPath = settings.runner.workflow.includes("/")
    ? settings.runner.workflow
    : `.github/workflows/${settings.runner.workflow}`;
  const workflow = workflowPath.slice(workflowPath.lastIndexOf("/") + 1);
  const defaultBranch = await defaultBranchOf(octokit, record);
  const ref = settings.runner.ref ?? defaultBranch;

  if (record.status === "dispatching") {
    // An earlier try sent the request, or was about to, and never recorded the answer.
    const found =
      record.workflowRunId !== null
        ? { id: Number(record.workflowRunId), htmlUrl: record.htmlUrl ?? "", attempt: record.workflowRunAttempt ?? 1 }
        : await findDispatchedRun(octokit, {
            owner,
            repo,
            workflow,
            runId: record.id,
            expected: { workflowPath: record.workflowPath, ref: record.ref, createdAt: record.createdAt },
          });
    if (found) {
      log.info({ workflowRunId: found.id }, "an earlier try's dispatch went through; not dispatching again");
      await markDispatched(
        services,
        octokit,
        record,
        { workflowRunId: found.id, htmlUrl: found.htmlUrl || null, attempt: found.attempt },
        settings,
        log,
      );
      return;
    }
    const waited = (services.now?.() ?? new Date()).getTime() - record.updatedAt.getTime();
    if (waited < DISPATCH_GRACE_MS) {
      throw new DispatchPendingError(
        "an earlier dispatch may still appear in the workflow's runs; checking again later",
      );
    }
  }

  const claim = await db.run.updateMany({
    where:
      record.status === "queued"
        ? { id: record.id, status: "queued" }
        : { id: record.id, status: "dispatching", updatedAt: record.updatedAt },
    data: { status: "dispatching", workflowPath, ref },
  });
  if (claim.count === 0) {
    log.info("another try claimed this dispatch");
    return;
  }

  let dispatched: Awaited<ReturnType<typeof input.dispatchWorkflow>>;
  try {
    dispatched = await input.dispatchWorkflow(octokit, {
      owner,
      repo,
      workflow,
      ref,
      inputs: {
        amistio_run_id: record.id,
        amistio_url: publicUrl,
        plan_hash: record.contentHash,
        runner_labels: JSON.stringify(settings.runner.labels),
      },
    });
  } catch (error) {
    const status = (error as { status?: number }).status;
    // A 4xx is a refusal: nothing was started, so the next try may dispatch without looking first.
    // A 5xx or no answer at all leaves it unknown (GitHub may have created the run and then failed
    // to answer): the run stays `dispatching`, so the next try looks for the titled run first.
    if (status !== undefined && status < 500) {
      await db.run.updateMany({ where: { id: record.id, status: "dispatching" }, data: { status: "queued" } });
    }
    if (status === undefined || isRetryable(error)) throw error;
    const message = errorMessage(error);
    if (status === 404 && !(await workflowExists(octokit, { owner, repo, path: workflowPath, ref: defaultBranch }))) {
      return failDispatch(services, octokit, record, settings, log, () =>
        refusal("dispatch.workflow_missing", { workflow: workflowPath, branch: defaultBranch, prefix }),
      );
    }
    if (status === 401 || status === 403 || status === 404) {
      return failDispatch(services, octokit, record, settings, log, () =>
        refusal(status === 404 ? "dispatch.no_access" : "dispatch.forbidden", { status, message, prefix }),
      );
    }
    return failDispatch(services, octokit, record, settings, log, () =>
      refusal("dispatch.rejected", { message, prefix }),
    );
  }
  log.info({ workflowRunId: dispatched.workflowRunId }, "workflow dispatched");
  await markDispatched(services, octokit, { ...record, workflowPath, ref }, dispatched, settings, log);
}

/** A dispatch that will not happen: the run failed, said once on the issue, audited, shown. */
async function failDispatch(
  services: RunServices,
  octokit: Octokit,
  record: RunRecord,
  settings: RepoSettings | null,
  log: Logger,
  failure: (prefix: string) => Refusal,
): Promise<void> {
  const { db } = services;
  const refused = failure(settings?.commands.prefix ?? DEFAULT_COMMAND_PREFIX);
  const error = refused.summary.slice(0, 500);
  const { count } = await db.run.updateMany({
    where: { id: record.id, status: { in: ["queued", "dispatching"] } },
    data: { status: "failed", error, completedAt: services.now?.() ?? new Date() },
  });
  if (count === 0) {
    // A retried try whose first pass failed the run but stopped before posting carries on below.
    const fresh = await db.run.findUnique({ where: { id: record.id }, select: { status: true, error: true } });
    if (fresh?.status !== "failed" || fresh.error !== error) return;
  } else {
    await db.task.update({ where: { id: record.taskId }, data: { state: "failed" } });
    await auditRun(db, record, "run.dispatch_failed", { code: refused.code });
  }
  log.warn({ code: refused.code }, `run not dispatched: ${error}`);
  const { owner, repo } = repoOf(record);
  await postComment(octokit, {
    owner,
    repo,
    issueNumber: record.task.number,
    body: refusalComment(refused),
    key: `dispatch-failed:${record.id}`,
    job: services.job ?? FIRST_TRY,
  });
  await publishRun({
    db,
    octokit,
    runId: record.id,
    requiredApprovals: settings?.approvals.required ?? 1,
    log,
    delayedUntil: services.job?.waits.lastUntil,
  });
}

async function defaultBranchOf(octokit: Octokit, record: RunRecord): Promise<string> {
  if (record.task.repository.defaultBranch) return record.task.repository.defaultBranch;
  const { owner, repo } = repoOf(record);
  const { data } = await octokit.rest.repos.get({ owner, repo });
  return data.default_branch;
}

async function workflowExists(
  octokit: Octokit,
  input: { owner: string; repo: string; path: string; ref: string },
): Promise<boolean> {
  try {
    await octokit.rest.repos.getContent(input);
    return true;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return false;
    throw error;
  }
}

/** 5xx, 429 and rate-limit 403s pass; everything else GitHub answers is final. */
export function isRetryable(error: unknown): boolean {
  const { status, response } = error as { status?: number; response?: { headers?: Record<string, string> } };
  if (status === undefined || status >= 500 || status === 429) return true;
  if (status === 403) {
    const headers = response?.headers ?? {};
    return (
      headers["x-ratelimit-remaining"] === "0" ||
      headers["retry-after"] !== undefined ||
      /rate limit/i.test(errorMessage(error))
    );
  }
  return false;
}

function errorMessage(error: unknown): string {
  const response = (error as { response?: { data?: { message?: unknown } } }).response;
  const message = typeof response?.data?.message === "string" ? response.data.message : (error as Error).message;
  return String(message ?? error).slice(0, 1000);
}
