import type { Logger } from "pino";
import type { Probot } from "probot";
import { DEFAULT_COMMAND_PREFIX } from "../config/command-prefix.ts";
import { loadRepoSettings } from "../config/load-repo-settings.ts";
import { onEvent } from "../github/on-event.ts";
import { postComment } from "../github/post-comment.ts";
import { FIRST_TRY } from "../queue/job-queue.ts";
import { type Refusal, refusal, refusalComment } from "../refusals/refusals.ts";
import { auditRun } from "./audit-run.ts";
import { runIdFromTitle } from "./dispatch-workflow.ts";
import { dispatchMismatch, type WorkflowRunFacts } from "./dispatched-ref.ts";
import { cancelOrphan } from "./mark-dispatched.ts";
import { publishRun } from "./publish-run.ts";
import { loadRunRecord, type RunRecord, repoOf } from "./run-record.ts";
import type { Octokit, RunServices } from "./run-services.ts";
import { isTerminal, type RunStatus, statusesBefore } from "./run-status.ts";

interface WorkflowRunEvent extends WorkflowRunFacts {
  repositoryId: number;
  workflowRunId: number;
  attempt: number;
  title: string | null | undefined;
  htmlUrl: string;
}

interface RunChange {
  status: RunStatus | null;
  /** Written with the status, only when the status moves. */
  withStatus?: { startedAt?: Date; completedAt?: Date; error?: string };
  /** Filled in whatever order events come, where still empty. */
  fill?: {
    htmlUrl?: string;
    runnerName?: string | null;
    runnerLabels?: string[];
    workflowJobId?: number;
    conclusion?: string | null;
  };
}

/**
 * Follows dispatched runs through `workflow_run` and `workflow_job` events. GitHub does not order
 * deliveries, so a status only ever moves forward (a conditional update on the statuses before it)
 * and descriptive fields are filled in whenever they arrive. Events are keyed on the workflow run id
 * and its attempt: a re-run started from GitHub's UI is a different attempt and is not followed
 * (`/amistio retry` starts a new run instead). Events of workflows that are not Amistio's cost one
 * indexed lookup.
 */
export function followWorkflowRuns(app: Probot, services: RunServices): void {
  onEvent(
    app,
    ["workflow_run.requested", "workflow_run.in_progress", "workflow_run.completed"],
    async (context, delivery) => {
      const { workflow_run: workflowRun, repository, installation } = context.payload;
      if (!installation) return;
      const octokit = context.octokit as Octokit;
      const record = await findRun(services, octokit, context.log, {
        repositoryId: repository.id,
        workflowRunId: workflowRun.id,
        attempt: workflowRun.run_attempt ?? 1,
        title: (workflowRun as { display_title?: string }).display_title,
        path: workflowRun.path,
        event: workflowRun.event,
        headBranch: workflowRun.head_branch,
        createdAt: workflowRun.created_at,
        htmlUrl: workflowRun.html_url,
      });
      if (!record || !sameAttempt(record, workflowRun.run_attempt ?? 1, context.log)) return;
      const action = context.payload.action;
      const change: RunChange =
        action === "requested"
          ? { status: "dispatched", fill: { htmlUrl: workflowRun.html_url } }
          : action === "in_progress"
            ? { status: "in_progress", withStatus: { startedAt: new Date() }, fill: { htmlUrl: workflowRun.html_url } }
            : {
                // A run the runner reported on has ended already; this one ended without a report.
                status: workflowRun.conclusion === "cancelled" ? "cancelled" : "failed",
                withStatus: {
                  completedAt: new Date(),
                  error: endedWithoutReport({
                    conclusion: workflowRun.conclusion,
                    htmlUrl: null,
                    prefix: DEFAULT_COMMAND_PREFIX,
                  }).summary,
                },
                fill: { htmlUrl: workflowRun.html_url, conclusion: workflowRun.conclusion },
              };
      await applyChange({ ...services, job: delivery }, octokit, record, change, context.log);
    },
  );

  onEvent(
    app,
    ["workflow_job.queued", "workflow_job.waiting", "workflow_job.in_progress", "workflow_job.completed"],
    async (context, delivery) => {
      const { workflow_job: job, repository, installation } = context.payload;
      if (!installation) return;
      const octokit = context.octokit as Octokit;
      const record = await findRunOfJob(services, octokit, context.log, repository, job.run_id);
      if (!record || !sameAttempt(record, job.run_attempt, context.log)) return;
      const labels = (job.labels ?? []).map(String);
      const fill = { workflowJobId: job.id, runnerLabels: labels, runnerName: job.runner_name ?? null };
      const action = context.payload.action;
      const change: RunChange =
        action === "queued"
          ? { status: "dispatched", fill }
          : action === "waiting"
            ? { status: "waiting", fill }
            : action === "in_progress"
              ? { status: "in_progress", withStatus: { startedAt: new Date() }, fill }
              : { status: null, fill };
      await applyChange({ ...services, job: delivery }, octokit, record, change, context.log);
    },
  );
}

function sameAttempt(record: RunRecord, attempt: number, log: Logger): boolean {
  if (record.workflowRunAttempt === null || record.workflowRunAttempt === attempt) return true;
  log.info({ runId: record.id, attempt, following: record.workflowRunAttempt }, "event of another attempt ignored");
  return false;
}

async function applyChange(
  services: RunServices,
  octokit: Octokit,
  record: RunRecord,
  change: RunChange,
  log: Logger,
): Promise<void> {
  const { db } = services;
  let moved = false;
  if (change.status) {
    // Only the dispatch job moves a run out of queued/dispatching: it does what follows a dispatch.
    const from = statusesBefore(change.status).filter((status) => status !== "queued" && status !== "dispatching");
    const { count } = await db.run.updateMany({
      where: { id: record.id, status: { in: from } },
      data: { status: change.status, ...change.withStatus },
    });
    moved = count === 1;
  }
  const fill: Record<string, unknown> = {};
  const given = change.fill ?? {};
  if (given.htmlUrl && !record.htmlUrl) fill.htmlUrl = given.htmlUrl;
  if (given.runnerName && !record.runnerName) fill.runnerName = given.runnerName;
  if (given.runnerLabels && given.runnerLabels.length > 0 && record.runnerLabels === null)
    fill.runnerLabels = given.runnerLabels;
  if (given.workflowJobId && record.workflowJobId === null) fill.workflowJobId = BigInt(given.workflowJobId);
  if (given.conclusion && !record.conclusion) fill.conclusion = given.conclusion;
  if (Object.keys(fill).length > 0) await db.run.update({ where: { id: record.id }, data: fill });
  if (!moved && !fill.runnerName && !fill.htmlUrl) return;

  const { owner, repo } = repoOf(record);
  const loaded = await loadRepoSettings(octokit, owner, repo);
  const settings = loaded.ok ? loaded.settings : null;
  if (moved && change.status === "in_progress") {
    await db.task.updateMany({
      where: { id: record.taskId, state: { in: ["approved", "running"] } },
      data: { state: "running" },
    });
    await auditRun(db, record, "run.started", { runnerName: given.runnerName ?? null });
  }
  if (moved && change.status && isTerminal(change.status)) {
    await db.task.update({
      where: { id: record.taskId },
      data: { state: change.status === "cancelled" ? "cancelled" : "failed" },
    });
    await auditRun(db, record, "run.ended", {
      status: change.status,
      conclusion: given.conclusion ?? null,
      reported: false,
    });
    await postComment(octokit, {
      owner,
      repo,
      issueNumber: record.task.number,
      body: refusalComment(
        endedWithoutReport({
          conclusion: given.conclusion ?? null,
          htmlUrl: record.htmlUrl ?? given.htmlUrl ?? null,
          prefix: settings?.commands.prefix ?? DEFAULT_COMMAND_PREFIX,
        }),
      ),
      key: `outcome:${record.id}`,
      job: services.job ?? FIRST_TRY,
    });
  }
  await publishRun({
    db,
    octokit,
    runId: record.id,
    requiredApprovals: settings?.approvals.required ?? 1,
    log,
    delayedUntil: services.job?.waits.lastUntil,
  });
}

/**
 * The Amistio run a workflow run belongs to: by its id once known, else by the run id in its title
 * (`run-name`), for a dispatch GitHub did not answer with the id (Enterprise Server). A title alone
 * is not trusted: the repository, workflow file, event, ref and creation time must match the dispatch.
 */
async function findRun(
  services: RunServices,
  octokit: Octokit,
  log: Logger,
  facts: WorkflowRunEvent,
): Promise<RunRecord | null> {
  const { db } = services;
  const known = await db.run.findFirst({ where: { workflowRunId: BigInt(facts.workflowRunId) }, select: { id: true } });
  if (known) return loadRunRecord(db, known.id);
  if (facts.event !== "workflow_dispatch") return null;
  const runId = runIdFromTitle(facts.title);
  if (!runId) return null;
  const record = await loadRunRecord(db, runId);
  if (!record || record.workflowRunId !== null || record.task.repository.githubId !== BigInt(facts.repositoryId)) {
    return null;
  }
  const mismatch = dispatchMismatch(record, facts);
  if (mismatch) {
    log.warn(
      { runId: record.id, workflowRunId: facts.workflowRunId, mismatch },
      "a workflow run titled for a run is not its dispatch",
    );
    return null;
  }
  if (isTerminal(record.status)) {
    await cancelOrphan(services, octokit, record, facts.workflowRunId, log);
    return null;
  }
  if (record.status === "queued") return null;
  const { count } = await db.run.updateMany({
    where: { id: record.id, workflowRunId: null },
    data: { workflowRunId: BigInt(facts.workflowRunId), workflowRunAttempt: facts.attempt, htmlUrl: facts.htmlUrl },
  });
  const fresh = await loadRunRecord(db, record.id);
  if (count === 0 && fresh?.workflowRunId !== BigInt(facts.workflowRunId)) return null;
  log.info(
    { runId: record.id, workflowRunId: facts.workflowRunId },
    "workflow run matched to its Amistio run by title",
  );
  return fresh;
}

/**
 * A job's run. Job events name only the workflow run id; when a dispatch in this repository is
 * still waiting for its workflow run id, the workflow run is looked up (one request) to match it.
 */
async function findRunOfJob(
  services: RunServices,
  octokit: Octokit,
  log: Logger,
  repository: { id: number; name: string; owner: { login: string } },
  workflowRunId: number,
): Promise<RunRecord | null> {
  const { db } = services;
  const known = await db.run.findFirst({ where: { workflowRunId: BigInt(workflowRunId) }, select: { id: true } });
  if (known) return loadRunRecord(db, known.id);
  const waiting = await db.run.count({
    where: {
      workflowRunId: null,
      status: { in: ["dispatching", "dispatched"] },
      task: { repository: { githubId: BigInt(repository.id) } },
    },
  });
  if (waiting === 0) return null;
  const { data } = await octokit.rest.actions.getWorkflowRun({
    owner: repository.owner.login,
    repo: repository.name,
    run_id: workflowRunId,
  });
  return findRun(services, octokit, log, {
    repositoryId: repository.id,
    workflowRunId,
    attempt: data.run_attempt ?? 1,
    title: data.display_title,
    path: data.path,
    event: data.event,
    headBranch: data.head_branch,
    createdAt: data.created_at,
    htmlUrl: data.html_url,
  });
}

/** A workflow run that ended without the runner's report: cancelled on GitHub, or failed before it reported. */
function endedWithoutReport(input: { conclusion: string | null; htmlUrl: string | null; prefix: string }): Refusal {
  return input.conclusion === "cancelled"
    ? refusal("run.cancelled_before_report", { htmlUrl: input.htmlUrl })
    : refusal("run.ended_without_report", input);
}
