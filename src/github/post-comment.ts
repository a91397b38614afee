import type { Context } from "probot";
import { type JobTry, mayHaveRunBefore } from "../queue/job-queue.ts";

type Octokit = Context["octokit"];

export interface PostCommentOptions {
  owner: string;
  repo: string;
  issueNumber: number;
  body: string;
  /** A stable name for this post, e.g. `reply:<delivery id>`; kept in a hidden marker. */
  key: string;
  /** The try of the job that posts: only a retry, or a run after a wait, looks for an earlier post. */
  job: JobTry;
}

/** A posted comment: its id and its body as GitHub stored it. */
export interface PostedComment {
  id: number;
  body: string;
}

/**
 * Posts a comment at most once per key: on a retried delivery, or a job run again after waiting
 * out a rate limit, it first looks for a comment carrying the key's marker, so a job that stopped
 * after posting never posts twice.
 */
export async function postComment(octokit: Octokit, options: PostCommentOptions): Promise<PostedComment> {
  const marker = `<!-- amistio:key ${options.key} -->`;
  const { owner, repo, issueNumber } = options;
  if (mayHaveRunBefore(options.job)) {
    const comments = await octokit.paginate(octokit.rest.issues.listComments, {
      owner,
      repo,
      issue_number: issueNumber,
      per_page: 100,
    });
    const earlier = comments.find((comment) => comment.body?.includes(marker));
    if (earlier) return { id: earlier.id, body: earlier.body ?? "" };
  }
  const body = `${options.body}\n\n${marker}`;
  const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body });
  return { id: data.id, body: data.body ?? body };
}
