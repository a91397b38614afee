import type { Context } from "probot";
import { isRetry } from "../webhooks/delivery-attempt.ts";

type Octokit = Context["octokit"];

export interface PostCommentOptions {
  owner: string;
  repo: string;
  issueNumber: number;
  body: string;
  /** A stable name for this post, e.g. `reply:<delivery id>`; kept in a hidden marker. */
  key: string;
}

/**
 * Posts a comment at most once per key: on a retried delivery it first looks for a comment
 * carrying the key's marker, so a job that failed after posting never posts twice.
 */
export async function postComment(octokit: Octokit, options: PostCommentOptions): Promise<number> {
  const marker = `<!-- amistio:key ${options.key} -->`;
  const { owner, repo, issueNumber } = options;
  if (isRetry()) {
    const comments = await octokit.paginate(octokit.rest.issues.listComments, {
      owner,
      repo,
      issue_number: issueNumber,
      per_page: 100,
    });
    const earlier = comments.find((comment) => comment.body?.includes(marker));
    if (earlier) return earlier.id;
  }
  const { data } = await octokit.rest.issues.createComment({
    owner,
    repo,
    issue_number: issueNumber,
    body: `${options.body}\n\n${marker}`,
  });
  return data.id;
}
