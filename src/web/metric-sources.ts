import type { Db } from "../db/create-database.ts";
import type { ScrapeSources } from "../metrics/amistio-metrics.ts";
import type { JobQueue } from "../queue/job-queue.ts";

/**
 * What a scrape reads from the shared stores, so every process reports the same totals: unfinished
 * deliveries, unfinished jobs, runs by status, the audit chain's length. Each is one grouped query
 * (or one Redis call) on indexed columns, run only when /metrics is scraped.
 */
export function metricSources(options: { db: Db; queue: Pick<JobQueue, "unfinishedJobs"> }): ScrapeSources {
  const { db, queue } = options;
  return {
    async unfinishedDeliveries() {
      const rows = await db.webhookDelivery.groupBy({
        by: ["status"],
        where: { status: { in: ["failed", "retrying"] } },
        _count: { _all: true },
      });
      return Object.fromEntries(rows.map((row) => [row.status, row._count._all]));
    },
    jobs: () => queue.unfinishedJobs(),
    async runs() {
      const rows = await db.run.groupBy({ by: ["status"], _count: { _all: true } });
      return rows.map((row) => ({ status: row.status, count: row._count._all }));
    },
    async auditChainLength() {
      const last = await db.auditEvent.aggregate({ _max: { seq: true } });
      return last._max.seq ?? 0;
    },
  };
}
