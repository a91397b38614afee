import type { EmitterWebhookEvent } from "@octokit/webhooks";
import type { Probot } from "probot";
import type { Db } from "../db/create-database.ts";
import type { IntakeStore } from "../db/delivery-job-store.ts";
import { deliveryTries } from "../github/on-event.ts";
import { type JobContext, PermanentJobError } from "../queue/job-queue.ts";
import type { JobInput, TypedJobHandler } from "../queue/jobs.ts";
import { reportFailedDelivery } from "../tasks/report-failed-delivery.ts";

export interface DeliverWebhookOptions {
  db: Db;
  store: IntakeStore;
  probot: Probot;
}

/**
 * The worker side of intake: hands the recorded delivery to the Probot app's handlers and marks it
 * done only once they succeeded. A failed try leaves it `retrying` while the queue has tries left,
 * and `failed` after the last one (or at once when retrying cannot help), so a redelivery or the
 * operator's replay can queue it again.
 */
export function deliverWebhook({ db, store, probot }: DeliverWebhookOptions): TypedJobHandler<"webhook.deliver"> {
  return async (data, job) => {
    // The input was checked against its schema (src/queue/jobs.ts) before this runs.
    const { deliveryId, event } = data;
    // Probot's types want a known event and its payload; intake queues only HANDLED_EVENTS, with the
    // payload as received.
    const payload = await payloadOf(data, db).catch((error: unknown) => failed(db, probot, deliveryId, error, job));
    // A job run again after its delivery was handled (BullMQ re-runs a stalled job): nothing to do.
    if (payload === undefined) return;
    const received = { id: deliveryId, name: event, payload } as EmitterWebhookEvent;
    try {
      if (await dropUnreachable(store, probot, received)) return;
      // The handlers Probot calls get this try (attempt, waits) from onEvent, by the delivery id.
      await deliveryTries(probot).run(deliveryId, job, () => probot.receive(received));
    } catch (error) {
      return failed(db, probot, deliveryId, error, job, payload);
    }
    // The payload kept for BullMQ goes once the delivery is handled.
    await store.settleDelivery(deliveryId, "done", null, new Date());
  };
}

/**
 * The payload, from the job (embedded queue, and BullMQ jobs queued before 0.2), or else from the
 * delivery's row, where intake keeps it while BullMQ holds only the delivery's id. A payload that is
 * missing or does not parse cannot get better by retrying.
 */
async function payloadOf(data: JobInput<"webhook.deliver">, db: Db): Promise<object | undefined> {
  if (data.payload !== undefined) return data.payload;
  let text = data.body;
  if (text === undefined) {
    const row = await db.webhookDelivery.findUnique({
      where: { id: data.deliveryId },
      select: { payload: true, status: true },
    });
    if (row?.status === "done") return undefined;
    if (row?.payload == null) {
      throw new PermanentJobError(
        `the payload of delivery ${data.deliveryId} is not stored (${row ? "already handled or purged" : "no such delivery"}); redeliver it from GitHub`,
      );
    }
    text = row.payload;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new PermanentJobError(
      `the payload of delivery ${data.deliveryId} is not valid JSON: ${(error as Error).message}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new PermanentJobError(`the payload of delivery ${data.deliveryId} is not a JSON object`);
  }
  return parsed;
}

/**
 * Records a failed try on the delivery and rethrows for the queue: `retrying` while tries remain,
 * `failed` after the last or when the error says retrying cannot help. A database that cannot take
 * the status now (restarting) does not hide the error: the queue still retries the job.
 */
async function failed(
  db: Db,
  probot: Probot,
  deliveryId: string,
  error: unknown,
  job: JobContext,
  payload?: object,
): Promise<never> {
  const final = job.lastAttempt === true || error instanceof PermanentJobError;
  const status = final ? "failed" : "retrying";
  const message = error instanceof Error ? error.message : String(error);
  try {
    // Never over a delivery a concurrent run of the same job already finished.
    await db.webhookDelivery.updateMany({
      where: { id: deliveryId, status: { not: "done" } },
      data: { status, error: message.slice(0, 2000) },
    });
  } catch (statusError) {
    probot.log.error({ err: statusError, deliveryId, status }, "could not record a delivery's failed try");
  }
  if (final) {
    probot.log.error({ deliveryId, status, err: error }, "webhook delivery failed for good");
    if (payload) {
      const delayedUntil = job.waits.lastUntil;
      await reportFailedDelivery({ db, probot, log: probot.log, deliveryId, payload, delayedUntil });
    }
  } else probot.log.warn({ deliveryId, status, err: error }, "webhook delivery failed; the queue will try it again");
  throw error;
}

const UNREACHABLE = "installation not reachable";

/**
 * Drops a delivery for an installation Amistio cannot act as, before any handler sees it: a handler
 * would act as that installation (create a workspace, move the repository into it) and read every 404
 * its token request gets as "no such file" or "no permission". Recorded `ignored`, with one log line.
 */
async function dropUnreachable(store: IntakeStore, probot: Probot, received: EmitterWebhookEvent): Promise<boolean> {
  const { action, installation } = received.payload as { action?: unknown; installation?: { id?: unknown } };
  const installationId = installation?.id;
  if (typeof installationId !== "number" || revokesAccess(received.name, action)) return false;
  if (await installationReachable(probot, installationId)) return false;
  await store.settleDelivery(received.id, "ignored", UNREACHABLE, new Date());
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
