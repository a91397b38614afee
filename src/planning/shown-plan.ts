import { createHash } from "node:crypto";
import type { Context } from "probot";

type Octokit = Context["octokit"];

/**
 * The plan comment as people see it. A version may be approved only while its comment is on the issue
 * saying exactly what Amistio posted: approving is approving what was shown, and a plan whose comment
 * never got posted, was deleted, or was edited since (repository admins can edit any comment) shows
 * either nothing or something else.
 */

/** SHA-256 of a comment body, ignoring line-ending and trailing-space differences. */
export function hashShownPlan(body: string): string {
  const normalised = body
    .replace(/\r\n?/g, "\n")
    .replace(/[ \t]+$/gm, "")
    .trimEnd();
  return createHash("sha256").update(normalised, "utf8").digest("hex");
}

export type ShownPlanProblem = "not_posted" | "comment_deleted" | "comment_changed";

/** Whether the version's comment still shows it; GitHub failures other than 404 throw. */
export async function checkShownPlan(
  octokit: Octokit,
  input: {
    owner: string;
    repo: string;
    commentId: bigint | null;
    postedBodyHash: string | null;
    /** The plan comment's hidden marker, for versions posted before their text was hashed. */
    marker: string;
  },
): Promise<ShownPlanProblem | null> {
  if (input.commentId === null) return "not_posted";
  let body: string;
  try {
    const { data } = await octokit.rest.issues.getComment({
      owner: input.owner,
      repo: input.repo,
      comment_id: Number(input.commentId),
    });
    body = data.body ?? "";
  } catch (error) {
    if ((error as { status?: number }).status === 404) return "comment_deleted";
    throw error;
  }
  if (input.postedBodyHash === null) return body.includes(input.marker) ? null : "comment_changed";
  return hashShownPlan(body) === input.postedBodyHash ? null : "comment_changed";
}
