import type { Logger } from "pino";
import type { Db } from "../db/create-database.ts";
import { type DeliveryRecord, deliveryJobKey, type IntakeStore } from "../db/delivery-job-store.ts";
import { isUniqueViolation } from "../db/is-unique-violation.ts";
import type { EnqueueResult, JobQueue, NewJob } from "../queue/job-queue.ts";
import { newJob } from "../queue/jobs.ts";

/**
 * The job of a delivery whose payload is kept on its row: all BullMQ holds, so that a Redis that
 * lost its data is refilled from the database (the sweeper, a redelivery, a replay).
 */
export function storedDeliveryJob(deliveryId: string, event: string): NewJob {
  return newJob("webhook.deliver", { deliveryId, event }, { key: deliveryJobKey(deliveryId) });
}

export interface IncomingDelivery {
  deliveryId: string;
  event: string;
  action: string | null;
  installationId: bigint | null;
  /** The signed body, a JSON object, exactly as received. */
  body: string;
  /** The body parsed. */
  payload: object;
}

export type RecordOutcome =
  | { outcome: "queued"; redelivered: boolean }
  | { outcome: "duplicate"; status: string }
  | { outcome: "unavailable"; error: unknown };

export interface DeliveryRecorderOptions {
  db: Db;
  store: IntakeStore;
  queue: JobQueue;
  logger: Logger;
  /** Most deliveries written in one go; more wait for the next flush. */
  maxBatch?: number;
  /**
   * A redelivery of a delivery still `queued` or `retrying` and older than this is queued again,
   * idempotently by its key (default 30 s); a younger one is a duplicate in flight.
   */
  requeueAfterMs?: number;
}

export const DEFAULT_REQUEUE_AFTER_MS = 30_000;

interface Pending {
  delivery: IncomingDelivery;
  resolve: (outcome: RecordOutcome) => void;
}

/** The embedded queue's job: the payload travels in it, in the same transaction as the row. */
function deliverJob(delivery: IncomingDelivery): NewJob {
  const { deliveryId, event, body, payload } = delivery;
  return newJob(
    "webhook.deliver",
    { deliveryId, event, payload },
    { key: deliveryJobKey(deliveryId) },
    // The same object with the body spliced in as received: JSON-escaping 10+ KB into a string, and
    // parsing it twice in the worker, cost more than the rest of writing the job.
    `${JSON.stringify({ deliveryId, event }).slice(0, -1)},"payload":${body}}`,
  );
}

/**
 * Stores each delivery and queues its job before intake answers, in batches: the deliveries that
 * arrive in one turn of the event loop are written together, and a batch does not wait for the one
 * before it, so the database always has the next batch at hand. Under load this turns many small
 * transactions into a few larger ones (group commit); when idle a batch is one delivery.
 */
export function createDeliveryRecorder(options: DeliveryRecorderOptions) {
  const { db, store, queue, logger } = options;
  const maxBatch = options.maxBatch ?? 200;
  const requeueAfterMs = options.requeueAfterMs ?? DEFAULT_REQUEUE_AFTER_MS;
  // When the queue is elsewhere (BullMQ), the row is the outbox: it keeps the payload until the
  // delivery is done, and its job carries only the id.
  const keepPayload = !queue.sameDatabase;
  const jobOf = (delivery: IncomingDelivery): NewJob =>
    keepPayload ? storedDeliveryJob(delivery.deliveryId, delivery.event) : deliverJob(delivery);
  const recordOf = ({ deliveryId, event, action, installationId, body }: IncomingDelivery): DeliveryRecord => ({
    id: deliveryId,
    event,
    action,
    installationId,
    payload: keepPayload ? body : null,
  });
  let waiting: Pending[] = [];

  function record(delivery: IncomingDelivery): Promise<RecordOutcome> {
    return new Promise((resolve) => {
      if (waiting.push({ delivery, resolve }) === 1) setImmediate(flush);
    });
  }

  function flush(): void {
    const gathered = waiting;
    waiting = [];
    for (let start = 0; start < gathered.length; start += maxBatch) {
      const batch = gathered.slice(start, start + maxBatch);
      writeBatch(batch).catch((error: unknown) => {
        logger.error({ err: error, deliveries: batch.length }, "could not record webhook deliveries");
        for (const pending of batch) pending.resolve({ outcome: "unavailable", error });
      });
    }
  }

  /**
   * The common case — every delivery new — costs one round trip: the deliveries and their jobs in
   * one transaction when the queue is in this database, else one insert here and one in the queue.
   * Only the deliveries whose id is already stored are sorted out against what is stored.
   */
  async function writeBatch(batch: Pending[]): Promise<void> {
    const unique = new Map<string, Pending>();
    for (const pending of batch) {
      if (unique.has(pending.delivery.deliveryId)) pending.resolve({ outcome: "duplicate", status: "queued" });
      else unique.set(pending.delivery.deliveryId, pending);
    }
    const candidates = [...unique.values()];
    const records = candidates.map(({ delivery }) => recordOf(delivery));
    const { sameDatabase } = queue;
    // With the queue in this database, each new delivery's job is stored in the same transaction.
    const jobs = sameDatabase
      ? candidates.map(({ delivery }) => sameDatabase.jobRecord(deliverJob(delivery)))
      : undefined;
    const { stored, queued } = await store.recordDeliveries(records, new Date(), jobs);
    if (sameDatabase && jobs) sameDatabase.queued(jobs.filter((_, index) => queued.has(records[index]!.id)));
    const withJob = ({ delivery }: Pending) => queued.has(delivery.deliveryId);
    const fresh = candidates.filter(({ delivery }) => stored.has(delivery.deliveryId));
    const seenBefore = candidates.filter(({ delivery }) => !stored.has(delivery.deliveryId));
    for (const pending of fresh) if (withJob(pending)) pending.resolve({ outcome: "queued", redelivered: false });
    // A new delivery whose job key is taken (its old delivery row was purged) goes to the queue's own
    // rules for a taken key, as every delivery does when the queue is elsewhere.
    await enqueue(
      fresh.filter((pending) => !withJob(pending)),
      [],
    );
    if (seenBefore.length > 0) await writeAgainstStored(seenBefore);
  }

  async function writeAgainstStored(batch: Pending[]): Promise<void> {
    const ids = batch.map((pending) => pending.delivery.deliveryId);
    const known = new Map(
      (
        await db.webhookDelivery.findMany({
          where: { id: { in: ids } },
          select: { id: true, status: true, receivedAt: true },
        })
      ).map((row) => [row.id, row]),
    );
    const fresh: Pending[] = [];
    const retried: Pending[] = [];
    const unfinished: Pending[] = [];
    const settledBefore = new Date(Date.now() - requeueAfterMs);
    for (const pending of batch) {
      const row = known.get(pending.delivery.deliveryId);
      if (row === undefined) fresh.push(pending);
      // A redelivery of one whose handling failed: GitHub keeps the id, and it is queued again.
      else if (row.status === "failed") retried.push(pending);
      // Not handled yet and no longer just arrived: its job may be gone (a web process that died
      // between the row and the job, a Redis that lost it). Queued again by key, which does
      // nothing when the job is there.
      else if ((row.status === "queued" || row.status === "retrying") && row.receivedAt < settledBefore)
        unfinished.push(pending);
      else pending.resolve({ outcome: "duplicate", status: row.status });
    }
    for (const pending of fresh) {
      try {
        await db.webhookDelivery.create({ data: { ...recordOf(pending.delivery), status: "queued" } });
      } catch (error) {
        // Recorded by another process a moment ago: that one acts on it.
        if (!isUniqueViolation(error)) throw error;
        pending.resolve({ outcome: "duplicate", status: "queued" });
      }
    }
    if (retried.length > 0) {
      await db.webhookDelivery.updateMany({
        where: { id: { in: retried.map(({ delivery }) => delivery.deliveryId) }, status: "failed" },
        data: { status: "queued", error: null },
      });
    }
    if (keepPayload) {
      // The payload as redelivered, where the row lost it (written by 0.1.0, or purged).
      for (const { delivery } of [...retried, ...unfinished]) {
        await db.webhookDelivery.updateMany({
          where: { id: delivery.deliveryId, payload: null, status: { in: ["queued", "retrying"] } },
          data: { payload: delivery.body },
        });
      }
    }
    await enqueue(
      fresh,
      retried,
      unfinished,
      new Map(unfinished.map((p) => [p, known.get(p.delivery.deliveryId)!.status])),
    );
  }

  async function enqueue(
    fresh: Pending[],
    retried: Pending[],
    unfinished: Pending[] = [],
    stored = new Map<Pending, string>(),
  ): Promise<void> {
    const accepted = [...fresh, ...retried, ...unfinished];
    if (accepted.length === 0) return;
    let results: EnqueueResult[];
    try {
      results = await queue.enqueueMany(accepted.map(({ delivery }) => jobOf(delivery)));
    } catch (error) {
      if (!keepPayload) {
        // Nothing half-written: without its job a delivery is forgotten, so GitHub's redelivery is acted on.
        await db.webhookDelivery
          .deleteMany({ where: { id: { in: fresh.map(({ delivery }) => delivery.deliveryId) } } })
          .catch(() => undefined);
        throw error;
      }
      // The rows hold the payloads: accepted all the same, and the sweeper queues them once the
      // queue answers again. Nothing is lost, and GitHub need not redeliver.
      for (const { delivery } of accepted) {
        logger.error(
          { err: error, deliveryId: delivery.deliveryId, status: "queued" },
          "webhook delivery stored but not queued (queue unreachable); the sweeper will queue it",
        );
      }
      results = accepted.map(() => ({ id: "", created: true }));
    }
    for (const pending of fresh) pending.resolve({ outcome: "queued", redelivered: false });
    for (const pending of retried) pending.resolve({ outcome: "queued", redelivered: true });
    for (const [index, pending] of unfinished.entries()) {
      const result = results[fresh.length + retried.length + index];
      if (result?.created) {
        logger.warn(
          { deliveryId: pending.delivery.deliveryId },
          "webhook redelivery queued a delivery that had no job",
        );
        pending.resolve({ outcome: "queued", redelivered: true });
      } else pending.resolve({ outcome: "duplicate", status: stored.get(pending) ?? "queued" });
    }
  }

  return { record };
}

export type DeliveryRecorder = ReturnType<typeof createDeliveryRecorder>;
