import { appendAuditEvent } from "../audit/append-audit-event.ts";
import type { Db } from "../db/create-database.ts";
import { forgetDeletedPeople } from "./delete-account.ts";

export interface PurgeExpiredDataOptions {
  retentionDays: number;
  now: () => Date;
  /** Rows deleted per statement, so a large first purge never holds the write lock for long. */
  batchSize?: number;
}

export interface PurgeResult {
  cutoff: Date;
  runEvents: number;
  jobs: number;
  webhookDeliveries: number;
  /** Rows that kept a deleted person's GitHub account id until the work was decided. */
  deletedPeopleForgotten: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Removes run logs and events (RunEvent), finished queue jobs and handled webhook deliveries older
 * than the retention period, and records what it removed in the audit trail. Work still pending
 * (queued or running jobs, deliveries not yet handled) is never removed.
 */
export async function purgeExpiredData(db: Db, options: PurgeExpiredDataOptions): Promise<PurgeResult> {
  const batchSize = options.batchSize ?? 1000;
  const cutoff = new Date(options.now().getTime() - options.retentionDays * DAY_MS);

  async function inBatches(
    find: () => Promise<{ id: string }[]>,
    remove: (ids: string[]) => Promise<{ count: number }>,
  ): Promise<number> {
    let total = 0;
    for (;;) {
      const ids = (await find()).map((row) => row.id);
      if (ids.length === 0) return total;
      total += (await remove(ids)).count;
      if (ids.length < batchSize) return total;
    }
  }

  const runEvents = await inBatches(
    () => db.runEvent.findMany({ where: { createdAt: { lt: cutoff } }, select: { id: true }, take: batchSize }),
    (ids) => db.runEvent.deleteMany({ where: { id: { in: ids } } }),
  );
  const finishedJobs = { status: { in: ["completed", "failed"] }, updatedAt: { lt: cutoff } };
  const jobs = await inBatches(
    () => db.job.findMany({ where: finishedJobs, select: { id: true }, take: batchSize }),
    (ids) => db.job.deleteMany({ where: { id: { in: ids }, ...finishedJobs } }),
  );
  const handledDeliveries = { receivedAt: { lt: cutoff }, status: { notIn: ["queued", "retrying"] } };
  const webhookDeliveries = await inBatches(
    () => db.webhookDelivery.findMany({ where: handledDeliveries, select: { id: true }, take: batchSize }),
    (ids) => db.webhookDelivery.deleteMany({ where: { id: { in: ids }, ...handledDeliveries } }),
  );

  const deletedPeopleForgotten = await forgetDeletedPeople(db);

  const result = { cutoff, runEvents, jobs, webhookDeliveries, deletedPeopleForgotten };
  if (runEvents + jobs + webhookDeliveries + deletedPeopleForgotten > 0) {
    await appendAuditEvent(
      db,
      {
        action: "retention.purged",
        target: "retention",
        data: {
          retentionDays: options.retentionDays,
          cutoff,
          runEvents,
          jobs,
          webhookDeliveries,
          deletedPeopleForgotten,
        },
      },
      { now: options.now },
    );
  }
  return result;
}
