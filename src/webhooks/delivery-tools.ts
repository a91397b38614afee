import type { Db } from "../db/create-database.ts";
import { deliveryJobKey } from "../db/delivery-job-store.ts";
import type { JobQueue, KeyedJobState, NewJob } from "../queue/job-queue.ts";
import { storedJob } from "../queue/jobs.ts";
import { storedDeliveryJob } from "./delivery-recorder.ts";

/** An unfinished delivery this long after it arrived is stuck: the sweeper would have queued it by now. */
export const STUCK_AFTER_MS = 5 * 60_000;

export type ListedStatus = "stuck" | "failed" | "retrying";

export interface ListedDelivery {
  id: string;
  event: string;
  action: string | null;
  status: string;
  receivedAt: Date;
  error: string | null;
  /** Its job as the queue holds it now; "missing" when there is none. */
  job: KeyedJobState["state"] | "missing";
}

export interface ListOptions {
  /** Default: stuck, retrying and failed together. */
  status?: ListedStatus;
  since?: Date;
  limit?: number;
  now?: Date;
}

/** Stuck (unfinished past `STUCK_AFTER_MS`), retrying and failed deliveries, oldest first, with their job's state. */
export async function listDeliveries(db: Db, queue: JobQueue, options: ListOptions = {}): Promise<ListedDelivery[]> {
  const now = options.now ?? new Date();
  const stuck = {
    status: { in: ["queued", "retrying"] },
    receivedAt: { lt: new Date(now.getTime() - STUCK_AFTER_MS) },
  };
  const which =
    options.status === "stuck"
      ? stuck
      : options.status === "failed" || options.status === "retrying"
        ? { status: options.status }
        : { OR: [stuck, { status: { in: ["retrying", "failed"] } }] };
  const rows = await db.webhookDelivery.findMany({
    where: { AND: [which, options.since ? { receivedAt: { gte: options.since } } : {}] },
    orderBy: { receivedAt: "asc" },
    take: options.limit ?? 500,
    select: { id: true, event: true, action: true, status: true, receivedAt: true, error: true },
  });
  const jobs = await queue.jobsByKey(rows.map((row) => deliveryJobKey(row.id)));
  return rows.map((row) => ({ ...row, job: jobs.get(deliveryJobKey(row.id))?.state ?? "missing" }));
}

export type ReplayOutcome =
  | { id: string; outcome: "queued" }
  /** Its job is still queued or running: nothing added, it will be handled. */
  | { id: string; outcome: "already queued"; job: string }
  | { id: string; outcome: "refused"; reason: string };

/**
 * Queues chosen deliveries again, safely: the job's key is the delivery's id, so a delivery whose
 * job is still queued or running gets no second one, and a delivery already `done` (or `ignored`)
 * is not replayed at all. A failed delivery's job is replaced by a fresh one with all its tries.
 */
export async function replayDeliveries(db: Db, queue: JobQueue, ids: readonly string[]): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  for (const id of ids) {
    const row = await db.webhookDelivery.findUnique({
      where: { id },
      select: { id: true, event: true, status: true, payload: true },
    });
    if (!row) {
      outcomes.push({ id, outcome: "refused", reason: "no such delivery" });
      continue;
    }
    if (row.status === "done" || row.status === "ignored") {
      // Its payload is not kept once handled, so a replay could not be built anyway.
      outcomes.push({ id, outcome: "refused", reason: `already ${row.status}` });
      continue;
    }
    const job = await replayJob(db, row);
    if (!job) {
      outcomes.push({ id, outcome: "refused", reason: "its payload is not kept; redeliver it from GitHub" });
      continue;
    }
    // Before the job, so that a worker taking it at once settles the status after this write, not before.
    await db.webhookDelivery.updateMany({ where: { id, status: "failed" }, data: { status: "queued", error: null } });
    const [result] = await queue.enqueueMany([job]);
    if (result?.created) outcomes.push({ id, outcome: "queued" });
    else {
      const state = (await queue.jobsByKey([deliveryJobKey(id)])).get(deliveryJobKey(id))?.state ?? "missing";
      outcomes.push({ id, outcome: "already queued", job: state });
    }
  }
  return outcomes;
}

/** From the payload on the row (BullMQ), or else the input the embedded queue kept with the failed job. */
async function replayJob(
  db: Db,
  row: { id: string; event: string; payload: string | null },
): Promise<NewJob | undefined> {
  if (row.payload !== null) return storedDeliveryJob(row.id, row.event);
  const input = await db.jobInput.findFirst({
    where: { job: { key: deliveryJobKey(row.id) } },
    select: { data: true },
  });
  if (!input) return undefined;
  return storedJob("webhook.deliver", input.data, { key: deliveryJobKey(row.id) });
}

/** The failed deliveries received since then, for `replay --failed-since`. */
export async function failedSince(db: Db, since: Date): Promise<string[]> {
  const rows = await db.webhookDelivery.findMany({
    where: { status: "failed", receivedAt: { gte: since } },
    orderBy: { receivedAt: "asc" },
    select: { id: true },
  });
  return rows.map((row) => row.id);
}
