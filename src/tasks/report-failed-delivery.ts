import type { Logger } from "pino";
import type { Context, Probot } from "probot";
import { loadRepoSettings } from "../config/load-repo-settings.ts";
import type { Db } from "../db/create-database.ts";
import { refusal } from "../refusals/refusals.ts";
import { updateTrackingComment } from "./update-tracking-comment.ts";

type Octokit = Context["octokit"];

interface DeliveryPayload {
  installation?: { id?: unknown };
  repository?: { id?: unknown; name?: unknown; owner?: { login?: unknown } };
  issue?: { number?: unknown };
  pull_request?: { number?: unknown };
}

/**
 * Says on the task's tracking comment that a delivery for it failed for good, so the person who
 * typed a command is not left waiting in silence. Only where there is a tracking comment to edit, and
 * without the error's text (issue comments are public to the repository's readers; the operator has
 * it in the log, on the web page and in `npm run deliveries`). Best effort: the failure may be
 * GitHub refusing writes, and then this fails too — it never throws.
 */
export async function reportFailedDelivery(input: {
  db: Db;
  probot: Probot;
  log: Logger;
  deliveryId: string;
  payload: object;
  /** When the delivery's job last waited out a rate limit. */
  delayedUntil?: Date | null;
}): Promise<void> {
  const { db, probot, deliveryId } = input;
  const payload = input.payload as DeliveryPayload;
  const installationId = payload.installation?.id;
  const repositoryId = payload.repository?.id;
  const owner = payload.repository?.owner?.login;
  const repo = payload.repository?.name;
  const number = payload.issue?.number ?? payload.pull_request?.number;
  if (
    typeof installationId !== "number" ||
    typeof repositoryId !== "number" ||
    typeof owner !== "string" ||
    typeof repo !== "string" ||
    typeof number !== "number"
  ) {
    return;
  }
  try {
    const task = await db.task.findFirst({
      where: { number, repository: { githubId: BigInt(repositoryId) }, trackingCommentId: { not: null } },
      select: { id: true },
    });
    if (!task) return;
    const octokit = (await probot.auth(installationId)) as Octokit;
    const settings = await loadRepoSettings(octokit, owner, repo);
    await updateTrackingComment({
      db,
      octokit,
      owner,
      repo,
      taskId: task.id,
      requiredApprovals: settings.ok ? settings.settings.approvals.required : 1,
      problem: refusal("delivery.failed", { deliveryId }),
      delayedUntil: input.delayedUntil ?? null,
    });
  } catch (error) {
    input.log.warn({ err: error, deliveryId }, "could not show a failed delivery on its task's tracking comment");
  }
}
