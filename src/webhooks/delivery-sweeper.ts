import type { Logger } from "pino";
import type { Db } from "../db/create-database.ts";
import type { DatabaseTarget } from "../db/database-url.ts";
import { deliveryJobKey, type IntakeStore } from "../db/delivery-job-store.ts";
import type { JobQueue } from "../queue/job-queue.ts";
import { storedDeliveryJob } from "./delivery-recorder.ts";

export interface DeliverySweeperOptions {
  db: Db;
  store: IntakeStore;
  queue: JobQueue;
  logger: Logger;
  provider: DatabaseTarget["provider"];
  /** How often to sweep (default 30 s). */
  intervalMs?: number;
  /**
   * A delivery younger than this is left alone (default 30 s): intake stores it a moment before it
   * queues its job, and a sweep in between must not take it for stranded.
   */
  graceMs?: number;
  /** Deliveries looked at per query (default 500). */
  batchSize?: number;
  /** How long a sweep may hold the lock if its process dies mid-sweep (default 5 min). */
  lockTtlMs?: number;
  /**
   * Other work the database says must have a job (runs waiting for their dispatch), checked under
   * the same lock, with the same cutoff.
   */
  requeueStranded?: (cutoff: Date) => Promise<unknown>;
  now?: () => Date;
}

export interface SweepResult {
  /** Stored deliveries that had no job, queued again. */
  requeued: string[];
  /** Deliveries whose job had failed for good (or was gone with nothing to queue it again from). */
  failed: string[];
  /** Deliveries whose job had completed without the delivery saying so. */
  done: string[];
}

export const DEFAULT_SWEEP_INTERVAL_MS = 30_000;
export const DEFAULT_SWEEP_GRACE_MS = 30_000;
const SWEEPER_LOCK = "delivery-sweeper";
// pg_advisory_lock keys in use: 7357001 (migrations), 7357002 (this sweeper).
const SWEEPER_PG_LOCK = 7357002;
const UNFINISHED = ["queued", "retrying"];

/**
 * The database's WebhookDelivery rows are the source of truth for what was accepted (an outbox):
 * every one that is not `done`, `failed` or `ignored` must have a job. With BullMQ the row is
 * written before its job, so a web process that dies in between, or a Redis that loses its data,
 * leaves rows without one; this sweep queues them again from the payload kept on the row (the job's
 * key is the delivery id, so queueing one that exists does nothing). It also settles the status of
 * deliveries whose job ended without its handler saying so (a worker that died on the last try).
 * One sweep at a time across processes: a Redis lock with BullMQ, a PostgreSQL advisory lock with
 * the embedded queue on PostgreSQL; the embedded queue on SQLite runs in one process.
 */
export function createDeliverySweeper(options: DeliverySweeperOptions) {
  const { db, store, queue, provider } = options;
  const logger = options.logger.child({ component: "delivery-sweeper" });
  const intervalMs = options.intervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
  const graceMs = options.graceMs ?? DEFAULT_SWEEP_GRACE_MS;
  const batchSize = options.batchSize ?? 500;
  const lockTtlMs = options.lockTtlMs ?? 300_000;
  const now = options.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<SweepResult | undefined> | undefined;

  /** Unfinished deliveries older than the grace, in id order after `after`, that may lack a live job. */
  async function candidates(cutoff: Date, after: string): Promise<{ id: string; event: string }[]> {
    if (queue.sameDatabase) return store.deliveriesWithoutLiveJob(cutoff, after, batchSize);
    return db.webhookDelivery.findMany({
      where: { status: { in: UNFINISHED }, receivedAt: { lt: cutoff }, id: { gt: after } },
      orderBy: { id: "asc" },
      take: batchSize,
      select: { id: true, event: true },
    });
  }

  async function sweepUnlocked(): Promise<SweepResult> {
    const result: SweepResult = { requeued: [], failed: [], done: [] };
    const cutoff = new Date(now().getTime() - graceMs);
    let after = "";
    for (;;) {
      const rows = await candidates(cutoff, after);
      if (rows.length === 0) break;
      after = rows.at(-1)!.id;
      const jobs = await queue.jobsByKey(rows.map((row) => deliveryJobKey(row.id)));
      const missing: { id: string; event: string }[] = [];
      for (const row of rows) {
        const job = jobs.get(deliveryJobKey(row.id));
        if (!job) missing.push(row);
        else if (job.state === "failed") {
          const error = job.lastError ?? "its job failed";
          if (await settle(row.id, "failed", error)) {
            result.failed.push(row.id);
            logger.error({ deliveryId: row.id, status: "failed", error }, "webhook delivery failed for good");
          }
        } else if (job.state === "completed" && (await settle(row.id, "done", null))) {
          result.done.push(row.id);
          logger.info({ deliveryId: row.id, status: "done" }, "webhook delivery marked done: its job had completed");
        }
      }
      if (missing.length > 0) await requeue(missing, result);
      if (rows.length < batchSize) break;
    }
    await options.requeueStranded?.(cutoff);
    return result;
  }

  /** Only a delivery still unfinished: a worker may have settled it since it was read. */
  async function settle(id: string, status: "done" | "failed", error: string | null): Promise<boolean> {
    const { count } = await db.webhookDelivery.updateMany({
      where: { id, status: { in: UNFINISHED } },
      data:
        status === "done"
          ? { status, error: null, payload: null, handledAt: now() }
          : { status, error: error?.slice(0, 2000) ?? null },
    });
    return count === 1;
  }

  async function requeue(missing: { id: string; event: string }[], result: SweepResult): Promise<void> {
    // The job reads its payload from the row, so only rows that kept one can be queued again.
    const kept = new Set(
      (
        await db.webhookDelivery.findMany({
          where: { id: { in: missing.map((row) => row.id) }, payload: { not: null } },
          select: { id: true },
        })
      ).map((row) => row.id),
    );
    const queueable = missing.filter((row) => kept.has(row.id));
    if (queueable.length > 0) {
      const queued = await queue.enqueueMany(queueable.map((row) => storedDeliveryJob(row.id, row.event)));
      for (const [index, row] of queueable.entries()) {
        result.requeued.push(row.id);
        logger.warn(
          { deliveryId: row.id, jobId: queued[index]?.id, created: queued[index]?.created },
          "webhook delivery stored without a job (its process died, or Redis lost it): queued again",
        );
      }
    }
    for (const row of missing) {
      if (kept.has(row.id)) continue;
      const error = "its job is gone and its payload was not kept; redeliver it from GitHub";
      if (await settle(row.id, "failed", error)) {
        result.failed.push(row.id);
        logger.error({ deliveryId: row.id, status: "failed", error }, "webhook delivery cannot be queued again");
      }
    }
  }

  async function locked<T>(work: () => Promise<T>): Promise<{ value: T } | undefined> {
    if (queue.exclusive) return queue.exclusive(SWEEPER_LOCK, lockTtlMs, work);
    if (provider === "postgresql") {
      // The lock lives as long as this transaction's connection; the work runs on others from the pool.
      return db.$transaction(
        async (tx) => {
          const [row] = await tx.$queryRaw<
            { locked: boolean }[]
          >`SELECT pg_try_advisory_xact_lock(${SWEEPER_PG_LOCK}) AS "locked"`;
          return row?.locked ? { value: await work() } : undefined;
        },
        { maxWait: 10_000, timeout: lockTtlMs },
      );
    }
    // SQLite with the embedded queue: one process, and the in-process guard below.
    return { value: await work() };
  }

  /** One sweep now; undefined when another process is sweeping. Sweeps in this process do not overlap. */
  function sweep(): Promise<SweepResult | undefined> {
    running ??= locked(sweepUnlocked)
      .then((outcome) => outcome?.value)
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  async function sweepAndLog(): Promise<void> {
    try {
      const result = await sweep();
      if (result && result.requeued.length + result.failed.length + result.done.length > 0) {
        logger.info(
          { requeued: result.requeued.length, failed: result.failed.length, done: result.done.length },
          "delivery sweep settled deliveries",
        );
      }
    } catch (error) {
      logger.error({ err: error }, "delivery sweep failed; it runs again at the next interval");
    }
  }

  return {
    sweep,
    /** Sweeps every interval until `stop`; the timer does not keep the process alive. */
    start(): void {
      if (timer) return;
      timer = setInterval(() => void sweepAndLog(), intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}

export type DeliverySweeper = ReturnType<typeof createDeliverySweeper>;
