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
