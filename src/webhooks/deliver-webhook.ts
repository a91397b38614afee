import type { EmitterWebhookEvent } from "@octokit/webhooks";
import type { Probot } from "probot";
import { type Db, Prisma } from "../db/create-database.ts";
import type { HotPathSql } from "../db/hot-path-sql.ts";
import type { JobHandler } from "../queue/job-queue.ts";
import { deliveryAttempt } from "./delivery-attempt.ts";
import type { DeliverWebhookJobData } from "./delivery-recorder.ts";

export interface DeliverWebhookOptions {
  db: Db;
  hotPath: HotPathSql;
  probot: Probot;
}

/**
 * The worker side of intake: hands the recorded delivery to the Probot app's handlers and marks it
 * done only once they succeeded, so a failed delivery is retried by the queue or by a redelivery.
 */
export function deliverWebhook({ db, hotPath, probot }: DeliverWebhookOptions): JobHandler {
  return async (data, job) => {
    const { deliveryId, event, payload, body } = data as DeliverWebhookJobData;
    // Probot's types want a known event and its payload; intake queues only HANDLED_EVENTS, with the
    // payload as received.
    const received = {
      id: deliveryId,
      name: event,
      payload: payload ?? JSON.parse(String(body)),
    } as EmitterWebhookEvent;
    try {
      if (await dropUnreachable(hotPath, probot, received)) return;
      await deliveryAttempt.run(job.attempt, () => probot.receive(received));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await db.webhookDelivery.update({
        where: { id: deliveryId },
        data: { status: "failed", error: message.slice(0, 2000) },
      });
      throw error;
    }
    await hotPath.execute(Prisma.sql`
      UPDATE "WebhookDelivery" SET "status" = 'done', "error" = NULL, "handledAt" = ${new Date()}
      WHERE "id" = ${deliveryId}`);
  };
}

const UNREACHABLE = "installation not reachable";

/**
 * Drops a delivery for an installation Amistio cannot act as, before any handler sees it: a handler
 * would act as that installation (create a workspace, move the repository into it) and read every 404
 * its token request gets as "no such file" or "no permission". Recorded `ignored`, with one log line.
 */
async function dropUnreachable(hotPath: HotPathSql, probot: Probot, received: EmitterWebhookEvent): Promise<boolean> {
  const { action, installation } = received.payload as { action?: unknown; installation?: { id?: unknown } };
  const installationId = installation?.id;
  if (typeof installationId !== "number" || revokesAccess(received.name, action)) return false;
  if (await installationReachable(probot, installationId)) return false;
  await hotPath.execute(Prisma.sql`
    UPDATE "WebhookDelivery"
    SET "status" = 'ignored', "error" = ${UNREACHABLE}, "payload" = NULL, "handledAt" = ${new Date()}
    WHERE "id" = ${received.id}`);
  probot.log.warn(
    { deliveryId: received.id, event: received.name, installationId, status: "ignored" },
    "webhook dropped: installation not reachable (GitHub answered 404 to its token request)",
  );
  return true;
}

/** Probot hands these to the handlers without an installation token: the App's access is already gone. */
function revokesAccess(event: string, action: unknown): boolean {
  return event === "installation" && (action === "deleted" || action === "suspend");
}

/**
 * Whether Amistio can act as the installation: GitHub answers 404 to the token request of an
 * installation that does not exist or is not this App's. The token is the one the handlers then use,
 * from the same cache (Probot's App auth keeps installation tokens until shortly before they expire),
 * so in the steady state this costs no request. Any other failure is thrown, and the job retried.
 */
async function installationReachable(probot: Probot, installationId: number): Promise<boolean> {
  const appOctokit = await probot.auth();
  try {
    await appOctokit.auth({ type: "installation", installationId });
    return true;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return false;
    throw error;
  }
}
