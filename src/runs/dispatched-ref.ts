/**
 * Which workflow runs can be the one a dispatch started. A run-name can be copied by anyone who can
 * push a workflow file to some branch, so a title is never enough: the run must be of the dispatched
 * workflow file, started by `workflow_dispatch`, on the dispatched ref (whose workflow file is the
 * reviewed one on the default branch, not a copy on a branch), and created after the Amistio run was.
 */

/** Clock difference allowed between Amistio and GitHub when comparing creation times. */
export const CLOCK_SKEW_MS = 60_000;

/** The full ref names a dispatch `ref` can stand for: a short name is a branch or a tag. */
export function qualifiedRefs(ref: string): string[] {
  return ref.startsWith("refs/") ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`];
}

/** The name `workflow_run.head_branch` carries for a dispatch on `ref`. */
export function headBranchOf(ref: string): string {
  return ref.replace(/^refs\/(heads|tags)\//, "");
}

export interface DispatchedRunExpectation {
  workflowPath: string | null;
  ref: string | null;
  createdAt: Date;
}

export interface WorkflowRunFacts {
  path: string;
  event: string;
  headBranch: string | null | undefined;
  createdAt: string | Date | null | undefined;
}

/** Why a workflow run cannot be the dispatched one, or null when it can. */
export function dispatchMismatch(expected: DispatchedRunExpectation, run: WorkflowRunFacts): string | null {
  if (run.event !== "workflow_dispatch") return "not started by workflow_dispatch";
  if (expected.workflowPath === null || run.path !== expected.workflowPath) return "another workflow file";
  if (expected.ref === null || run.headBranch !== headBranchOf(expected.ref)) return "another ref";
  const created = run.createdAt ? new Date(run.createdAt).getTime() : Number.NaN;
  if (!(created >= expected.createdAt.getTime() - CLOCK_SKEW_MS)) return "created before the dispatch";
  return null;
}

/** Does an OIDC token's `workflow_ref` (`owner/repo/path@ref`) name the dispatched workflow and ref? */
export function workflowRefMatches(
  workflowRef: string,
  expected: { repository: string; workflowPath: string | null; ref: string | null },
): boolean {
  if (expected.workflowPath === null || expected.ref === null) return false;
  const at = workflowRef.lastIndexOf("@");
  if (at < 0) return false;
  const workflow = workflowRef.slice(0, at);
  const ref = workflowRef.slice(at + 1);
  return (
    workflow.toLowerCase() === `${expected.repository}/${expected.workflowPath}`.toLowerCase() &&
    qualifiedRefs(expected.ref).includes(ref)
  );
}
