import { type RunRecord, repoOf } from "./run-record.ts";
import type { Octokit } from "./run-services.ts";

/**
 * The branch the agent starts from and the pull request targets. For a pull request from a branch
 * of the same repository that is its head branch, so the work builds on it; for anything else,
 * including pull requests from forks (whose code never runs on the team's runners), it is the ref
 * the workflow was dispatched on.
 */
export async function baseBranchFor(octokit: Octokit, record: RunRecord): Promise<string> {
  const { owner, repo } = repoOf(record);
  if (record.task.isPullRequest) {
    const { data: pull } = await octokit.rest.pulls.get({ owner, repo, pull_number: record.task.number });
    if (pull.head.repo?.id === pull.base.repo.id) return pull.head.ref;
  }
  if (record.ref) return record.ref;
  if (record.task.repository.defaultBranch) return record.task.repository.defaultBranch;
  const { data } = await octokit.rest.repos.get({ owner, repo });
  return data.default_branch;
}
