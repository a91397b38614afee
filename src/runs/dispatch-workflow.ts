import { CLOCK_SKEW_MS, type DispatchedRunExpectation, dispatchMismatch, headBranchOf } from "./dispatched-ref.ts";
import type { Octokit } from "./run-services.ts";

export interface DispatchRequest {
  owner: string;
  repo: string;
  /** The workflow's file name, e.g. `amistio.yml`. */
  workflow: string;
  ref: string;
  inputs: Record<string, string>;
}

export interface DispatchedWorkflowRun {
  /** Null when the server answered 204: the run is found later through its `run-name`. */
  workflowRunId: number | null;
  htmlUrl: string | null;
}

const DISPATCH = "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches";

/**
 * The dispatch is not idempotent on GitHub's side: a 5xx may come after the run was created. So the
 * library never repeats it (@octokit/plugin-retry reads `request.retries`); the dispatch job decides,
 * and looks for the titled run before sending again.
 */
const NO_LIBRARY_RETRY = { request: { retries: 0 } };

/**
 * Dispatches a workflow, asking for the new run's id (`return_run_details`, github.com answers 200).
 * GitHub Enterprise Server up to 3.20 refuses that field with 400/422: the request is sent once
 * more without it (a 4xx means nothing was started, so this cannot start two runs), and a server
 * that accepted the plain request is remembered so later dispatches go straight to it.
 */
export function createWorkflowDispatcher() {
  const withoutRunDetails = new Set<string>();

  return async function dispatchWorkflow(octokit: Octokit, request: DispatchRequest): Promise<DispatchedWorkflowRun> {
    const params = {
      owner: request.owner,
      repo: request.repo,
      workflow_id: request.workflow,
      ref: request.ref,
      inputs: request.inputs,
    };
    const server = String(octokit.request.endpoint.DEFAULTS.baseUrl);
    if (!withoutRunDetails.has(server)) {
      try {
        // Probot's bundled route types predate the field, hence the plain request.
        const response = await octokit.request(DISPATCH, { ...params, return_run_details: true, ...NO_LIBRARY_RETRY });
        const data = (response.data ?? {}) as { workflow_run_id?: number; html_url?: string };
        return { workflowRunId: data.workflow_run_id ?? null, htmlUrl: data.html_url ?? null };
      } catch (error) {
        const status = (error as { status?: number }).status;
        if (status !== 400 && status !== 422) throw error;
      }
      await octokit.request(DISPATCH, { ...params, ...NO_LIBRARY_RETRY });
      withoutRunDetails.add(server);
      return { workflowRunId: null, htmlUrl: null };
    }
    await octokit.request(DISPATCH, { ...params, ...NO_LIBRARY_RETRY });
    return { workflowRunId: null, htmlUrl: null };
  };
}

export type WorkflowDispatcher = ReturnType<typeof createWorkflowDispatcher>;

/** The `run-name` the workflow template gives its runs; `display_title` carries it. */
export function runTitle(runId: string): string {
  return `Amistio run ${runId}`;
}

const TITLE = /\bAmistio run ([a-z0-9]{8,40})\b/;

export function runIdFromTitle(title: string | null | undefined): string | null {
  return TITLE.exec(title ?? "")?.[1] ?? null;
}

/**
 * The workflow run a dispatch made, found by its title: used when a dispatch may have gone through
 * without Amistio hearing the answer, before it dispatches again.
 */
export async function findDispatchedRun(
  octokit: Octokit,
  input: { owner: string; repo: string; workflow: string; runId: string; expected: DispatchedRunExpectation },
): Promise<{ id: number; htmlUrl: string; attempt: number } | null> {
  const { expected } = input;
  const since = new Date(expected.createdAt.getTime() - CLOCK_SKEW_MS).toISOString().replace(/\.\d{3}Z$/, "Z");
  const { data } = await octokit.request("GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", {
    owner: input.owner,
    repo: input.repo,
    workflow_id: input.workflow,
    event: "workflow_dispatch",
    ...(expected.ref ? { branch: headBranchOf(expected.ref) } : {}),
    created: `>=${since}`,
    per_page: 100,
  });
  const found = data.workflow_runs.find(
    (run) =>
      runIdFromTitle(run.display_title) === input.runId &&
      dispatchMismatch(expected, {
        path: run.path,
        event: run.event,
        headBranch: run.head_branch,
        createdAt: run.created_at,
      }) === null,
  );
  return found ? { id: Number(found.id), htmlUrl: found.html_url, attempt: Number(found.run_attempt ?? 1) } : null;
}
